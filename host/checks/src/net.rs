//! Where probes come from: keepalived's `bind_to` (a source address) and
//! `bind_if` (an interface), applied to every socket a probe opens.

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// The source of a probe's traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `bind-to=`: the source address.
    pub addr: Option<IpAddr>,
    /// `bind-interface=`: the interface (SO_BINDTODEVICE).
    pub interface: Option<String>,
}

impl Source {
    /// The local address to bind for `target`'s family (port 0).
    pub(crate) fn local(&self, target: SocketAddr) -> SocketAddr {
        let any: IpAddr = if target.is_ipv4() {
            [0, 0, 0, 0].into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        SocketAddr::new(self.addr.unwrap_or(any), 0)
    }
}

/// A TCP connection to `target` from `source`.
pub(crate) async fn connect_from(source: &Source, target: SocketAddr) -> Result<TcpStream, String> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    if let Some(dev) = &source.interface {
        socket
            .bind_device(Some(dev.as_bytes()))
            .map_err(|e| format!("bind-interface {dev}: {e}"))?;
    }
    if source.addr.is_some() {
        socket
            .bind(source.local(target))
            .map_err(|e| format!("bind-to {}: {e}", source.local(target).ip()))?;
    }
    socket
        .connect(target)
        .await
        .map_err(|e| format!("connect: {e}"))
}

/// A UDP socket for `target` from `source`, connected to it.
pub(crate) async fn udp_from(source: &Source, target: SocketAddr) -> Result<UdpSocket, String> {
    let socket = UdpSocket::bind(source.local(target))
        .await
        .map_err(|e| format!("bind: {e}"))?;
    if let Some(dev) = &source.interface {
        socket
            .bind_device(Some(dev.as_bytes()))
            .map_err(|e| format!("bind-interface {dev}: {e}"))?;
    }
    socket
        .connect(target)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    Ok(socket)
}
