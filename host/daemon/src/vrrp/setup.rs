//! From validated configuration to running parts: interfaces resolved,
//! primary addresses found, sockets opened. Every failure here is fatal at
//! start-up, with a clear message and exit code.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use holdfast_config::{
    Authentication, Config, InitialState, Preempt as CfgPreempt, VrrpInstanceCfg, VrrpVersion,
};
use holdfast_net::{InterfaceAddress, LinkInfo, NetError, Netlink, VipSpec, VrrpSender};
use holdfast_vrrp::{Auth, ChecksumForm, GarpSchedule, InstanceConfig, Preempt, Version};

/// How long start-up waits for an interface's first usable address
/// (an IPv6 link-local address is tentative during DAD for about a second).
const ADDRESS_WAIT: Duration = Duration::from_secs(5);

/// One configured instance, resolved against the system.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) cfg: VrrpInstanceCfg,
    pub(crate) core: InstanceConfig,
    pub(crate) link: LinkInfo,
    pub(crate) primary: IpAddr,
    pub(crate) sender: VrrpSender,
    /// Every address moved with mastership (VIPs and excluded VIPs), with its interface.
    pub(crate) vips: Vec<VipSpec>,
    /// The interfaces those addresses live on, by index (`dev=` may name others).
    pub(crate) vip_links: BTreeMap<u32, LinkInfo>,
}

pub(crate) fn core_config(cfg: &VrrpInstanceCfg) -> InstanceConfig {
    let mut c = InstanceConfig::new(cfg.vrid, cfg.vips.iter().map(|v| v.addr).collect());
    c.version = match cfg.version {
        VrrpVersion::V2 => Version::V2,
        VrrpVersion::V3 => Version::V3,
    };
    c.priority = cfg.priority;
    c.advert_interval_cs = cfg.advert_interval_cs;
    c.preempt = match cfg.preempt {
        CfgPreempt::Yes => Preempt::Yes,
        CfgPreempt::No => Preempt::No,
        CfgPreempt::Delay(d) => Preempt::Delay(d),
    };
    c.start_as_master = cfg.initial_state == InitialState::Master;
    c.auth = cfg
        .authentication
        .as_ref()
        .map(|Authentication::Pass(p)| Auth::pass(p));
    c.unicast_peers = cfg.unicast_peers.clone();
    c.garp = GarpSchedule {
        repeat: cfg.garp.master_repeat,
        delay: cfg.garp.master_delay,
        refresh: cfg.garp.master_refresh,
        refresh_repeat: cfg.garp.master_refresh_repeat,
    };
    c.accept_mode = cfg.accept;
    c.send_checksum = if cfg.v3_checksum_as_v2 {
        ChecksumForm::NoPseudoHeader
    } else {
        ChecksumForm::Standard
    };
    c
}

/// RFC 5798 §5.1.2.1: IPv6 adverts come from the link-local address; IPv4
/// ones from the interface's primary address (not a VIP).
fn pick_primary(addrs: &[InterfaceAddress], v6: bool, vips: &[IpAddr]) -> Option<IpAddr> {
    addrs
        .iter()
        .filter(|a| !a.tentative && !vips.contains(&a.addr))
        .map(|a| a.addr)
        .find(|a| match a {
            IpAddr::V4(_) => !v6,
            IpAddr::V6(v) => v6 && v.is_unicast_link_local(),
        })
}

async fn primary_address(
    nl: &Netlink,
    link: &LinkInfo,
    cfg: &VrrpInstanceCfg,
) -> Result<IpAddr, NetError> {
    if let Some(src) = cfg.unicast_source {
        return Ok(src);
    }
    let v6 = cfg.family() == holdfast_config::Family::V6;
    let vips: Vec<IpAddr> = cfg.vips.iter().map(|v| v.addr).collect();
    let deadline = Instant::now() + ADDRESS_WAIT;
    loop {
        let addrs = nl.addresses(link.index).await?;
        if let Some(p) = pick_primary(&addrs, v6, &vips) {
            return Ok(p);
        }
        if Instant::now() >= deadline {
            return Err(NetError::NoAddress {
                name: link.name.clone(),
                family: if v6 { "IPv6 link-local" } else { "IPv4" },
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Resolves every instance; the first error stops start-up.
pub(crate) async fn resolve(nl: &Netlink, config: &Config) -> Result<Vec<Resolved>, NetError> {
    let mut links: BTreeMap<String, LinkInfo> = BTreeMap::new();
    let mut out = Vec::new();
    for cfg in &config.vrrp_instances {
        out.push(resolve_one(nl, cfg, &mut links).await?);
    }
    Ok(out)
}

/// The link called `name`, looked up once per resolution.
async fn link(
    nl: &Netlink,
    name: &str,
    links: &mut BTreeMap<String, LinkInfo>,
) -> Result<LinkInfo, NetError> {
    if let Some(l) = links.get(name) {
        return Ok(l.clone());
    }
    let l = nl.link(name).await?;
    links.insert(name.to_string(), l.clone());
    Ok(l)
}

/// Resolves one instance (at start-up, or a reload's new or changed one).
pub(crate) async fn resolve_one(
    nl: &Netlink,
    cfg: &VrrpInstanceCfg,
    links: &mut BTreeMap<String, LinkInfo>,
) -> Result<Resolved, NetError> {
    let own = link(nl, &cfg.interface, links).await?;
    let mut vips = Vec::new();
    for v in cfg.vips.iter().chain(&cfg.excluded_vips) {
        let index = match &v.dev {
            Some(dev) => link(nl, dev, links).await?.index,
            None => own.index,
        };
        vips.push(VipSpec {
            index,
            addr: v.addr,
            prefix: v.prefix,
            label: v.label.clone(),
        });
    }
    let vip_links = links
        .values()
        .filter(|l| vips.iter().any(|v| v.index == l.index))
        .map(|l| (l.index, l.clone()))
        .collect();
    let primary = primary_address(nl, &own, cfg).await?;
    let sender = VrrpSender::open(&own.name, own.index, primary, &cfg.unicast_peers)?;
    Ok(Resolved {
        core: core_config(cfg),
        cfg: cfg.clone(),
        link: own,
        primary,
        sender,
        vips,
        vip_links,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: &str, tentative: bool) -> InterfaceAddress {
        InterfaceAddress {
            addr: a.parse().unwrap(),
            prefix: 24,
            tentative,
        }
    }

    #[test]
    fn primary_skips_vips_tentative_and_global_ipv6() {
        let addrs = [
            addr("192.0.2.254", false),
            addr("192.0.2.11", false),
            addr("2001:db8::1", false),
            addr("fe80::1", true),
            addr("fe80::2", false),
        ];
        let vips = ["192.0.2.254".parse().unwrap()];
        assert_eq!(
            pick_primary(&addrs, false, &vips),
            Some("192.0.2.11".parse().unwrap())
        );
        assert_eq!(
            pick_primary(&addrs, true, &vips),
            Some("fe80::2".parse().unwrap())
        );
        assert_eq!(pick_primary(&addrs[..1], false, &vips), None);
    }

    #[test]
    fn core_config_maps_keepalived_semantics() {
        let text = r#"vrrp-instance "x" {
            interface "eth0"; virtual-router-id 9; version 2; priority 120; advert-interval 2
            preempt-delay 10; authentication "pass" "pw"; virtual-ipaddress "192.0.2.9/24"
            garp-master-repeat 3; garp-master-delay 0; accept; v3-checksum-as-v2
        }"#;
        let cfg = holdfast_config::parse_str("t.kdl", text).unwrap();
        let c = core_config(&cfg.vrrp_instances[0]);
        assert_eq!(
            (c.vrid, c.version, c.priority, c.advert_interval_cs),
            (9, Version::V2, 120, 200)
        );
        assert_eq!(c.preempt, Preempt::Delay(Duration::from_secs(10)));
        assert_eq!(c.auth, Some(Auth::pass("pw")));
        assert_eq!((c.garp.repeat, c.garp.delay), (3, Duration::ZERO));
        assert!(c.accept_mode);
        assert_eq!(c.send_checksum, ChecksumForm::NoPseudoHeader);
    }
}
