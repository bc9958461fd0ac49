//! A configured `check` as the probe that runs it: one mapping for real
//! servers and `vrrp-check` blocks alike.

use std::net::SocketAddr;

use holdfast_checks::{
    BodyRegex, DnsProbe, ExecCommand, FileProbe, HttpProbe, HttpUrl, Probe, ProbeKind, RunAs,
    SmtpProbe, Source, TlsProbe, UdpProbe,
};
use holdfast_config::{CheckCfg, CheckKind};

use crate::probe_modules::ProbeModules;

/// The probe for `check` against `target` (the real server's address and
/// port, overridden by `connect-ip=` and `port=`), and its kind as health
/// policies see it.
pub(crate) fn probe(
    check: &CheckCfg,
    target: SocketAddr,
    modules: &ProbeModules,
) -> Result<(Probe, holdfast_policy::ProbeKind), String> {
    use holdfast_policy::ProbeKind as Seen;
    let target = SocketAddr::new(
        check.connect_ip.unwrap_or(target.ip()),
        check.port.unwrap_or(target.port()),
    );
    let (kind, seen) = match &check.kind {
        CheckKind::Tcp => (ProbeKind::Tcp, Seen::Tcp),
        CheckKind::Http {
            tls,
            urls,
            host,
            http10,
        } => {
            let urls = urls
                .iter()
                .map(|u| {
                    Ok(HttpUrl {
                        path: u.path.clone(),
                        status: u.status.clone(),
                        digest: u.digest.clone(),
                        regex: u.regex.as_deref().map(BodyRegex::new).transpose()?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let tls = tls
                .as_ref()
                .map(|t| TlsProbe::new(t.sni.clone(), t.verify, t.ca.as_deref()))
                .transpose()?;
            let seen = if tls.is_some() {
                Seen::Https
            } else {
                Seen::Http
            };
            let http = HttpProbe {
                urls,
                host: host.clone(),
                http10: *http10,
                tls,
            };
            (ProbeKind::Http(http), seen)
        }
        CheckKind::Udp {
            payload,
            require_reply,
            reply,
        } => (
            ProbeKind::Udp(UdpProbe {
                payload: payload.clone(),
                require_reply: *require_reply,
                reply: reply.clone(),
            }),
            Seen::Udp,
        ),
        CheckKind::Dns { name, record } => {
            (ProbeKind::Dns(DnsProbe::new(name, record)?), Seen::Dns)
        }
        CheckKind::Icmp => (ProbeKind::Icmp, Seen::Icmp),
        CheckKind::Smtp { helo_name } => (
            ProbeKind::Smtp(SmtpProbe {
                helo_name: helo_name.clone(),
            }),
            Seen::Smtp,
        ),
        CheckKind::File {
            path,
            weight,
            reverse,
        } => {
            let sign = if *reverse { -1 } else { 1 };
            let file = FileProbe {
                path: path.clone(),
                weight: i64::from(*weight) * sign,
            };
            (ProbeKind::File(file), Seen::File)
        }
        CheckKind::Probe { policy } => (ProbeKind::Custom(modules.probe(policy)?), Seen::Probe),
        CheckKind::Exec {
            command,
            user,
            dynamic,
        } => {
            let mut exec =
                ExecCommand::parse(command).ok_or_else(|| format!("cannot split `{command}`"))?;
            exec.dynamic = *dynamic;
            exec.run_as = user.as_deref().map(RunAs::lookup).transpose()?;
            (ProbeKind::Exec(exec), Seen::Exec)
        }
    };
    let mut probe = Probe::new(kind, target, check.timeout);
    probe.source = Source {
        addr: check.bind_to,
        interface: check.bind_interface.clone(),
    };
    probe.retry = check.retry;
    probe.delay_before_retry = check.delay_before_retry;
    Ok((probe, seen))
}
