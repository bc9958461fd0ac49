//! The VRRP protocol core of holdfast: RFC 5798 (VRRPv3, IPv4 and IPv6) and
//! RFC 3768 (VRRPv2) packets and the per-virtual-router state machine.
//!
//! This crate is **sans-IO**: it contains no networking code and never reads
//! the clock. Time is passed in as a parameter, inputs go in through
//! `handle_*` methods and the resulting actions come out of `poll_action()`.
//! The dependency boundary is enforced by a test in `tests/` of the
//! workspace: this crate must never depend on tokio, socket2 or rtnetlink.
