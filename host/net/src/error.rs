//! Errors of the network layer, with what failed and on which interface.

use std::io;

/// A failed network operation.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The process lacks a capability (CAP_NET_RAW for sockets, CAP_NET_ADMIN for addresses).
    #[error(
        "{what}: permission denied (holdfast needs CAP_NET_RAW and CAP_NET_ADMIN; run as root)"
    )]
    PermissionDenied {
        /// What was attempted.
        what: String,
    },
    /// The interface does not exist.
    #[error("interface {name} does not exist")]
    NoSuchInterface {
        /// Interface name.
        name: String,
    },
    /// The interface has no usable address of the family.
    #[error("interface {name} has no {family} address to send VRRP from")]
    NoAddress {
        /// Interface name.
        name: String,
        /// "IPv4" or "IPv6 link-local".
        family: &'static str,
    },
    /// A socket call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An rtnetlink request failed.
    #[error("{what}: {message}")]
    Netlink {
        /// What was attempted.
        what: String,
        /// The kernel's or the library's message.
        message: String,
    },
}

impl NetError {
    /// Wraps an I/O error, recognising missing privileges.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        let what = what.into();
        if source.kind() == io::ErrorKind::PermissionDenied {
            Self::PermissionDenied { what }
        } else {
            Self::Io { what, source }
        }
    }

    /// Wraps an rtnetlink error, recognising missing privileges (EPERM).
    pub fn netlink(what: impl Into<String>, err: rtnetlink::Error) -> Self {
        let what = what.into();
        let message = err.to_string();
        if let rtnetlink::Error::NetlinkError(ref e) = err
            && (e.raw_code() == -libc::EPERM || e.raw_code() == -libc::EACCES)
        {
            return Self::PermissionDenied { what };
        }
        Self::Netlink { what, message }
    }
}
