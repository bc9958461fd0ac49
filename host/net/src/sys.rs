//! The one place a syscall's argument cannot be built safely: the link-layer
//! socket address of an AF_PACKET socket.
#![allow(
    unsafe_code,
    reason = "sockaddr_ll must be written into socket2's raw storage"
)]

use std::io;
use std::mem::size_of;

use socket2::SockAddr;

/// `struct sockaddr_ll` for sending on `ifindex` to `mac` with `protocol` (host order).
pub(crate) fn link_layer_address(
    ifindex: u32,
    protocol: u16,
    mac: [u8; 6],
) -> io::Result<SockAddr> {
    let mut addr = [0u8; 8];
    addr[..6].copy_from_slice(&mac);
    let ll = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: protocol.to_be(),
        sll_ifindex: i32::try_from(ifindex)
            .map_err(|_| io::Error::other("interface index out of range"))?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr: addr,
    };
    // SAFETY: `try_init` hands us storage of `sockaddr_storage` size, which is
    // larger than and suitably aligned for `sockaddr_ll`; we write one fully
    // initialised `sockaddr_ll` and report exactly its length.
    let ((), sa) = unsafe {
        SockAddr::try_init(|storage, len| {
            std::ptr::write(storage.cast::<libc::sockaddr_ll>(), ll);
            *len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            Ok(())
        })
    }?;
    Ok(sa)
}

/// Registers a socket with the tokio reactor.
pub(crate) fn async_socket(
    sock: socket2::Socket,
) -> io::Result<tokio::io::unix::AsyncFd<socket2::Socket>> {
    // SAFETY: a `socket2::Socket` owns its file descriptor: it stays open and
    // `as_raw_fd` returns that same descriptor until the `AsyncFd` (which
    // owns the socket) is dropped or `into_inner` hands the socket back.
    unsafe { tokio::io::unix::AsyncFd::register(sock) }.map_err(io::Error::from)
}
