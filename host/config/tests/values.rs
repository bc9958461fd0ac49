//! The typed values that parsing produces from valid text.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use holdfast_config::*;

fn load(name: &str) -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/valid")
        .join(name);
    holdfast_config::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

#[test]
fn defaults_for_a_minimal_instance() {
    let c = load("minimal-vrrp.kdl");
    let i = &c.vrrp_instances[0];
    assert_eq!((i.vrid, i.priority, i.version), (51, 100, VrrpVersion::V3));
    assert_eq!(i.advert_interval(), Duration::from_secs(1));
    assert_eq!(i.initial_state, InitialState::Backup);
    assert_eq!(i.preempt, Preempt::Yes);
    assert!(i.accept);
    assert_eq!(i.garp, GarpCfg::default());
    assert_eq!(i.vips[0].addr, "192.0.2.254".parse::<IpAddr>().unwrap());
    assert_eq!(i.vips[0].prefix, 24);
    assert_eq!(i.family(), Family::V4);
}

#[test]
fn ipv6_instance_with_centisecond_interval() {
    let i = &load("ipv6-v3.kdl").vrrp_instances[0];
    assert_eq!(i.advert_interval_cs, 1);
    assert_eq!(i.family(), Family::V6);
    assert_eq!(i.vips.len(), 2);
    assert_eq!(i.vips[1].prefix, 64);
    assert_eq!(
        i.excluded_vips[0].addr,
        "192.0.2.61".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn v2_from_global_default_with_pass_auth() {
    let c = load("v2-pass-auth.kdl");
    assert_eq!(
        (c.global.realtime_priority, c.global.lock_memory),
        (10, true)
    );
    assert_eq!(
        (
            GlobalCfg::default().realtime_priority,
            GlobalCfg::default().lock_memory
        ),
        (1, false)
    );
    let i = &c.vrrp_instances[0];
    assert_eq!(i.version, VrrpVersion::V2);
    assert_eq!(i.advert_interval_cs, 100);
    assert_eq!(i.initial_state, InitialState::Master);
    assert_eq!(
        i.authentication,
        Some(Authentication::Pass("12345678".into()))
    );
    assert_eq!(i.vips[0].label.as_deref(), Some("eth1:v2"));
    assert_eq!(i.vips[0].dev.as_deref(), Some("eth1"));
    assert!(i.v3_checksum_as_v2);
    assert_eq!(i.garp.master_refresh, Duration::from_secs(60));
}

#[test]
fn unicast_tracking_and_sync_group() {
    let c = load("unicast-sync-group.kdl");
    let i = &c.vrrp_instances[0];
    assert_eq!(i.preempt, Preempt::Delay(Duration::from_secs(30)));
    assert_eq!(i.unicast_peers.len(), 3);
    assert_eq!(
        i.track_interfaces,
        [TrackInterfaceCfg {
            name: "eth1".into(),
            weight: 0
        }]
    );
    assert_eq!(i.track_files[0].weight, -10);
    assert!(c.vrrp_instances[1].accept);
    assert!(!i.dont_track_primary);
    assert!(c.vrrp_instances[2].dont_track_primary);
    assert_eq!(c.sync_groups[0].members, ["VI_1", "VI_1v6"]);
}

#[test]
fn virtual_servers_checks_and_params() {
    let c = load("lvs-only.kdl");
    assert!(c.global.lvs_flush_on_stop);
    let p = &c.policies["verdict"];
    assert_eq!(p.fallback, HealthFallback::Down);
    assert_eq!(p.params["slow-ms"], ParamValue::Int(250));
    assert_eq!(
        p.params["ranges"],
        ParamValue::List(vec![
            ParamValue::String("200-299".into()),
            ParamValue::String("301".into())
        ])
    );
    assert_eq!(p.params["verbose"], ParamValue::Bool(true));
    let ParamValue::Map(limits) = &p.params["limits"] else {
        panic!("limits is a map")
    };
    assert_eq!(limits["strict"], ParamValue::Bool(true));

    let vs = &c.virtual_servers[0];
    assert_eq!(vs.scheduler, "sh");
    assert_eq!(vs.scheduler_flags, ["sh-port", "sh-fallback"]);
    assert_eq!(vs.forwarding, Forwarding::Dr);
    assert_eq!((vs.quorum, vs.hysteresis), (20, 5));
    assert!(vs.alpha);
    let rs = &vs.real_servers[0];
    assert_eq!(rs.upper_threshold, 1000);
    assert_eq!(
        rs.checks[0].kind,
        CheckKind::Http {
            tls: Some(TlsCfg {
                sni: Some("www.example.com".into()),
                verify: true,
                ca: Some("/etc/holdfast/backend-ca.pem".into()),
            }),
            urls: vec![UrlCfg {
                path: "/health".into(),
                status: vec![(200, 299), (301, 301)],
                digest: None,
                regex: None,
            }],
            host: Some("www.example.com".into()),
            http10: false,
        }
    );
    let CheckKind::Http { urls, http10, .. } = &rs.checks[1].kind else {
        panic!("an http check")
    };
    assert!(*http10);
    assert_eq!(urls.len(), 2);
    assert_eq!(
        urls[0].digest.as_deref(),
        Some("9b3a0c85a887a256d6939da88aabd8cd")
    );
    assert_eq!(urls[1].regex.as_deref(), Some("^ok"));
    assert_eq!(
        (
            rs.checks[1].retry,
            rs.checks[1].delay_before_retry,
            rs.checks[1].warmup
        ),
        (2, Duration::from_millis(500), Duration::from_secs(2))
    );
    assert_eq!(rs.checks[1].bind_to, Some("10.0.1.1".parse().unwrap()));
    assert_eq!(rs.checks[0].interval, Duration::from_millis(500));
    assert_eq!(
        (rs.checks[0].connect_ip, rs.checks[0].port),
        (Some("10.0.1.111".parse().unwrap()), Some(8443))
    );
    assert_eq!((rs.checks[0].rise, rs.checks[0].fall), (2, 3));
    assert_eq!(vs.real_servers[1].weight, 0);

    let udp = &c.virtual_servers[1];
    assert!(udp.one_packet);
    assert_eq!(
        udp.real_servers[0].checks[1].kind,
        CheckKind::Udp {
            payload: vec![0xc0, 0xff, 0xee],
            require_reply: true,
            reply: Some(vec![0xc0]),
        }
    );
    assert_eq!(
        udp.real_servers[0].checks[0].kind,
        CheckKind::Dns {
            name: "example.com.".into(),
            record: "AAAA".into()
        }
    );
    assert_eq!(udp.real_servers[0].checks[0].port, Some(53), "DNS's port");
    assert_eq!(udp.real_servers[0].checks[1].port, Some(5353));
    assert_eq!(
        udp.real_servers[1].forwarding,
        Some(Forwarding::Tunnel(TunnelType::Ipip))
    );

    let fw = &c.virtual_servers[2];
    assert_eq!(
        fw.key,
        VirtualServerKey::Fwmark {
            mark: 7,
            family: Family::V4
        }
    );
    assert_eq!(
        fw.forwarding,
        Forwarding::Tunnel(TunnelType::Gue { port: 6080 })
    );
    assert_eq!(
        fw.real_servers[0].addr,
        "10.0.1.21:0".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn policy_load_limits_and_their_defaults() {
    let text = r#"
policy "a" {
    path "/a.wasm"
}
policy "b" {
    path "/b.wasm"
    max-module-mib 64
    compile-memory-mib 2048
    compile-timeout-ms 120000
}
"#;
    let c = holdfast_config::parse_str("limits.kdl", text)
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let a = &c.policies["a"];
    assert_eq!(
        (a.max_module_mib, a.compile_memory_mib, a.compile_timeout),
        (4, 512, Duration::from_secs(30))
    );
    let b = &c.policies["b"];
    assert_eq!(
        (b.max_module_mib, b.compile_memory_mib, b.compile_timeout),
        (MAX_MODULE_MIB_LIMIT, 2048, Duration::from_secs(120))
    );
}

#[test]
fn settings_not_run_yet_are_rejected_as_unsupported() {
    for (within, name) in holdfast_config::NOT_RUN_YET {
        let text = match *within {
            "global" => format!("global {{\n    {name} \"unix:/run/x.sock\"\n}}\n"),
            _ => format!(
                "vrrp-instance \"VI_1\" {{\n    interface \"eth0\"\n    virtual-router-id 51\n    virtual-ipaddress \"192.0.2.1/24\"\n    {name}\n}}\n"
            ),
        };
        let err = holdfast_config::parse_str("x.kdl", &text).unwrap_err();
        assert!(
            err.problems
                .iter()
                .any(|p| p.kind == holdfast_config::ProblemKind::Unsupported),
            "{within}/{name}: {}",
            err.render(false)
        );
    }
}
