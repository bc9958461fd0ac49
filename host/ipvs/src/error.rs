//! Typed errors: the kernel's errno with the operation and the object.

use std::fmt;

/// What was being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Connecting or resolving the family.
    Connect,
    /// Adding a service.
    AddService,
    /// Editing a service.
    EditService,
    /// Deleting a service.
    DelService,
    /// Dumping services.
    ListServices,
    /// Adding a destination.
    AddDest,
    /// Editing a destination.
    EditDest,
    /// Deleting a destination.
    DelDest,
    /// Dumping destinations.
    ListDests,
    /// Reading info or timeouts.
    Info,
    /// Setting timeouts.
    SetConfig,
    /// Flushing.
    Flush,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::AddService => "add service",
            Self::EditService => "edit service",
            Self::DelService => "delete service",
            Self::ListServices => "list services",
            Self::AddDest => "add destination",
            Self::EditDest => "edit destination",
            Self::DelDest => "delete destination",
            Self::ListDests => "list destinations",
            Self::Info => "get info",
            Self::SetConfig => "set timeouts",
            Self::Flush => "flush",
        })
    }
}

/// An IPVS operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The kernel refused: its errno, the operation and the object.
    #[error("{op} {object}: {}", std::io::Error::from_raw_os_error(*errno))]
    Kernel {
        /// What was being done.
        op: Op,
        /// The service or destination, as text.
        object: String,
        /// The kernel's errno (positive).
        errno: i32,
    },
    /// The IPVS family is not there (no `ip_vs` module), or the socket failed.
    #[error("{op}: {message}")]
    Transport {
        /// What was being done.
        op: Op,
        /// Details.
        message: String,
    },
    /// A reply could not be decoded.
    #[error("{op}: undecodable reply: {message}")]
    Decode {
        /// What was being done.
        op: Op,
        /// Details.
        message: String,
    },
}

impl IpvsError {
    /// The kernel's errno, if the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}
