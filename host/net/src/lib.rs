//! Networking for holdfast's VRRP: raw VRRP sockets, virtual IP addresses,
//! links and macvlan over rtnetlink, gratuitous ARP and unsolicited
//! neighbour advertisements.
//!
//! This is the I/O shell around the sans-IO `holdfast-vrrp` core.
