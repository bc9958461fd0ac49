// The golden kernel replies (hex of the generic netlink header and the
// attributes), captured in the IPVS VM by `in_vm_golden_kernel_replies`
// after SETUP; regenerate with
// `UPDATE_GOLDEN=1 cargo test -p holdfast-ipvs --test kernel`.

/// What ipvsadm (v1.31) sets up before the capture.
#[allow(dead_code, reason = "the round-trip test reads only FILES")]
pub(crate) const SETUP: &str = "ipvsadm -A -t 10.0.0.1:80 -s wrr -p 300 \
    && ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 5 -x 100 -y 10 \
    && ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.3:8080 -i --tun-type gue --tun-port 6080 --tun-csum \
    && ipvsadm -A -u [2001:db8::1]:53 -s rr \
    && ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8::53]:53 -g -w 2 \
    && ipvsadm -A -f 7 -s sh -b sh-port,sh-fallback";

/// `(name, file contents)`.
pub(crate) const FILES: &[(&str, &str)] = &[
    ("get-service-0", include_str!("get-service-0.hex")),
    ("get-service-1", include_str!("get-service-1.hex")),
    ("get-service-2", include_str!("get-service-2.hex")),
    ("get-dest-web-0", include_str!("get-dest-web-0.hex")),
    ("get-dest-web-1", include_str!("get-dest-web-1.hex")),
    ("get-dest-v6-0", include_str!("get-dest-v6-0.hex")),
    ("get-info-0", include_str!("get-info-0.hex")),
    ("get-config-0", include_str!("get-config-0.hex")),
];
