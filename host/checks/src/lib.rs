//! Health probes for real servers and tracked services (TCP, HTTP/HTTPS,
//! UDP, DNS, ICMP, exec) and the rise/fall hysteresis that turns probe
//! results into up/down transitions.
