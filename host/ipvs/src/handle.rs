//! The async IPVS handle: request builders over one generic netlink
//! connection (the family id is resolved once and cached).

use futures::TryStreamExt;
use genetlink::GenetlinkHandle;
use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;

use crate::attr::IpvsAttr;
use crate::error::{IpvsError, Op};
use crate::message::{IpvsCmd, IpvsMessage};
use crate::model::{Dest, DestConns, Service, ServiceKey, Stats};

/// A connection to the kernel's IPVS.
#[derive(Debug, Clone)]
pub struct IpvsHandle {
    inner: GenetlinkHandle,
}

/// Kernel IPVS version and connection table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// `(major, minor, patch)`.
    pub version: (u8, u8, u8),
    /// Connection hash table size.
    pub conn_tab_size: u32,
}

/// Connection timeouts in seconds (0 = leave unchanged on set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// TCP established.
    pub tcp: u32,
    /// TCP FIN_WAIT.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

impl IpvsHandle {
    /// Opens a connection; spawns its driver on the current tokio runtime.
    pub fn connect() -> Result<Self, IpvsError> {
        let (conn, inner, _) = genetlink::new_connection().map_err(|e| IpvsError::Transport {
            op: Op::Connect,
            message: e.to_string(),
        })?;
        tokio::spawn(conn);
        Ok(Self { inner })
    }

    /// Services.
    pub fn service(&self) -> ServiceRequests {
        ServiceRequests {
            handle: self.clone(),
        }
    }

    /// Destinations of a service.
    pub fn dest(&self, service: ServiceKey) -> DestRequests {
        DestRequests {
            handle: self.clone(),
            service,
        }
    }

    /// Sends one message and collects the replies, mapping a kernel error.
    pub(crate) async fn request(
        &self,
        msg: IpvsMessage,
        dump: bool,
        op: Op,
        object: impl Fn() -> String,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        let mut nl = NetlinkMessage::from(GenlMessage::from_payload(msg));
        nl.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        let mut inner = self.inner.clone();
        let stream = inner.request(nl).await.map_err(|e| match e {
            genetlink::GenetlinkError::NetlinkError(io) => IpvsError::Kernel {
                op,
                object: object(),
                errno: io.raw_os_error().unwrap_or(0),
            },
            other => IpvsError::Transport {
                op,
                message: other.to_string(),
            },
        })?;
        let replies: Vec<_> = stream
            .map_err(|e| IpvsError::Decode {
                op,
                message: e.to_string(),
            })
            .try_collect()
            .await?;
        let mut out = Vec::new();
        for reply in replies {
            match reply.payload {
                NetlinkPayload::InnerMessage(m) => out.push(m.payload),
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(IpvsError::Kernel {
                        op,
                        object: object(),
                        errno: e.code.map_or(0, |c| -c.get()),
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Kernel version and table size.
    pub async fn info(&self) -> Result<Info, IpvsError> {
        let replies = self
            .request(
                IpvsMessage::new(IpvsCmd::GetInfo, vec![]),
                false,
                Op::Info,
                String::new,
            )
            .await?;
        let mut info = Info {
            version: (0, 0, 0),
            conn_tab_size: 0,
        };
        for a in replies.iter().flat_map(|m| &m.attrs) {
            match a {
                IpvsAttr::InfoVersion(v) => {
                    info.version = ((v >> 16) as u8, (v >> 8) as u8, *v as u8)
                }
                IpvsAttr::InfoConnTabSize(v) => info.conn_tab_size = *v,
                _ => {}
            }
        }
        Ok(info)
    }

    /// Connection timeouts.
    pub async fn timeouts(&self) -> Result<Timeouts, IpvsError> {
        let replies = self
            .request(
                IpvsMessage::new(IpvsCmd::GetConfig, vec![]),
                false,
                Op::Info,
                String::new,
            )
            .await?;
        let mut t = Timeouts::default();
        for a in replies.iter().flat_map(|m| &m.attrs) {
            match a {
                IpvsAttr::TimeoutTcp(v) => t.tcp = *v,
                IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                IpvsAttr::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        Ok(t)
    }

    /// Sets connection timeouts (0 leaves one unchanged).
    pub async fn set_timeouts(&self, t: Timeouts) -> Result<(), IpvsError> {
        let attrs = vec![
            IpvsAttr::TimeoutTcp(t.tcp),
            IpvsAttr::TimeoutTcpFin(t.tcp_fin),
            IpvsAttr::TimeoutUdp(t.udp),
        ];
        self.request(
            IpvsMessage::new(IpvsCmd::SetConfig, attrs),
            false,
            Op::SetConfig,
            String::new,
        )
        .await
        .map(drop)
    }

    /// Deletes every service (all of them, not only ours).
    pub async fn flush(&self) -> Result<(), IpvsError> {
        self.request(
            IpvsMessage::new(IpvsCmd::Flush, vec![]),
            false,
            Op::Flush,
            String::new,
        )
        .await
        .map(drop)
    }
}

/// Service requests.
#[derive(Debug)]
pub struct ServiceRequests {
    handle: IpvsHandle,
}

/// A pending add or edit of a service; adjust it, then [`execute`](Self::execute).
#[derive(Debug)]
#[must_use = "a request does nothing until executed"]
pub struct ServiceChange {
    handle: IpvsHandle,
    service: Service,
    edit: bool,
}

impl ServiceChange {
    /// Sets the scheduler.
    pub fn scheduler(mut self, name: &str) -> Self {
        self.service.scheduler = name.to_string();
        self
    }

    /// Sets `IP_VS_SVC_F_*` flags.
    pub fn flags(mut self, flags: u32) -> Self {
        self.service.flags = flags;
        self
    }

    /// Makes it persistent for `timeout` seconds.
    pub fn persistent(mut self, timeout: u32) -> Self {
        self.service.flags |= crate::svc_flags::PERSISTENT;
        self.service.timeout = timeout;
        self
    }

    /// Sends it.
    pub async fn execute(self) -> Result<(), IpvsError> {
        let (cmd, op) = if self.edit {
            (IpvsCmd::SetService, Op::EditService)
        } else {
            (IpvsCmd::NewService, Op::AddService)
        };
        let key = self.service.key;
        let msg = IpvsMessage::new(cmd, vec![IpvsAttr::Service(self.service.attrs())]);
        self.handle
            .request(msg, false, op, || key.to_string())
            .await
            .map(drop)
    }
}

impl ServiceRequests {
    /// Adds a service.
    #[allow(
        clippy::should_implement_trait,
        reason = "the rust-netlink request-builder naming"
    )]
    pub fn add(self, service: Service) -> ServiceChange {
        ServiceChange {
            handle: self.handle,
            service,
            edit: false,
        }
    }

    /// Edits a service (scheduler, flags, persistence).
    pub fn edit(self, service: Service) -> ServiceChange {
        ServiceChange {
            handle: self.handle,
            service,
            edit: true,
        }
    }

    /// Deletes a service and its destinations.
    pub async fn del(self, key: ServiceKey) -> Result<(), IpvsError> {
        let msg = IpvsMessage::new(IpvsCmd::DelService, vec![IpvsAttr::Service(key.attrs())]);
        self.handle
            .request(msg, false, Op::DelService, || key.to_string())
            .await
            .map(drop)
    }

    /// Every service in the kernel.
    pub async fn list(self) -> Result<Vec<(Service, Stats)>, IpvsError> {
        let replies = self
            .handle
            .request(
                IpvsMessage::new(IpvsCmd::GetService, vec![]),
                true,
                Op::ListServices,
                String::new,
            )
            .await?;
        Ok(replies
            .iter()
            .flat_map(|m| &m.attrs)
            .filter_map(|a| match a {
                IpvsAttr::Service(s) => Service::from_attrs(s),
                _ => None,
            })
            .collect())
    }
}

/// Destination requests for one service.
#[derive(Debug)]
pub struct DestRequests {
    handle: IpvsHandle,
    service: ServiceKey,
}

/// A pending add or edit of a destination.
#[derive(Debug)]
#[must_use = "a request does nothing until executed"]
pub struct DestChange {
    handle: IpvsHandle,
    service: ServiceKey,
    dest: Dest,
    edit: bool,
}

impl DestChange {
    /// Sets the weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.dest.weight = weight;
        self
    }

    /// Sets the forwarding method.
    pub fn forward(mut self, forward: crate::Forward) -> Self {
        self.dest.forward = forward;
        self
    }

    /// Sets connection thresholds.
    pub fn thresholds(mut self, upper: u32, lower: u32) -> Self {
        self.dest.upper_threshold = upper;
        self.dest.lower_threshold = lower;
        self
    }

    /// Sends it.
    pub async fn execute(self) -> Result<(), IpvsError> {
        let (cmd, op) = if self.edit {
            (IpvsCmd::SetDest, Op::EditDest)
        } else {
            (IpvsCmd::NewDest, Op::AddDest)
        };
        let (svc, d) = (self.service, &self.dest);
        let object = || format!("{}:{} in {svc}", d.addr, d.port);
        let msg = IpvsMessage::new(
            cmd,
            vec![
                IpvsAttr::Service(svc.attrs()),
                IpvsAttr::Dest(self.dest.attrs()),
            ],
        );
        self.handle.request(msg, false, op, object).await.map(drop)
    }
}

impl DestRequests {
    /// Adds a destination.
    #[allow(
        clippy::should_implement_trait,
        reason = "the rust-netlink request-builder naming"
    )]
    pub fn add(self, dest: Dest) -> DestChange {
        DestChange {
            handle: self.handle,
            service: self.service,
            dest,
            edit: false,
        }
    }

    /// Edits a destination (weight, thresholds, forwarding).
    pub fn edit(self, dest: Dest) -> DestChange {
        DestChange {
            handle: self.handle,
            service: self.service,
            dest,
            edit: true,
        }
    }

    /// Deletes a destination.
    pub async fn del(self, dest: &Dest) -> Result<(), IpvsError> {
        let svc = self.service;
        let msg = IpvsMessage::new(
            IpvsCmd::DelDest,
            vec![
                IpvsAttr::Service(svc.attrs()),
                IpvsAttr::Dest(dest.key_attrs()),
            ],
        );
        self.handle
            .request(msg, false, Op::DelDest, || {
                format!("{}:{} in {svc}", dest.addr, dest.port)
            })
            .await
            .map(drop)
    }

    /// The service's destinations.
    pub async fn list(self) -> Result<Vec<(Dest, DestConns)>, IpvsError> {
        let svc = self.service;
        let msg = IpvsMessage::new(IpvsCmd::GetDest, vec![IpvsAttr::Service(svc.attrs())]);
        let replies = self
            .handle
            .request(msg, true, Op::ListDests, || svc.to_string())
            .await?;
        Ok(replies
            .iter()
            .flat_map(|m| &m.attrs)
            .filter_map(|a| match a {
                IpvsAttr::Dest(d) => Dest::from_attrs(d),
                _ => None,
            })
            .collect())
    }
}
