//! An IPVS generic netlink message: a command and its attributes. Encodes
//! and decodes only; [`crate::IpvsHandle`] sends them.

use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NlasIterator, ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::attr::IpvsAttr;
use crate::constants::*;

/// An IPVS command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvsCmd {
    /// Add a service.
    NewService,
    /// Edit a service.
    SetService,
    /// Delete a service.
    DelService,
    /// Get one service, or dump all.
    GetService,
    /// Add a destination.
    NewDest,
    /// Edit a destination.
    SetDest,
    /// Delete a destination.
    DelDest,
    /// Dump a service's destinations.
    GetDest,
    /// Set timeouts.
    SetConfig,
    /// Get timeouts.
    GetConfig,
    /// Version and connection table size.
    GetInfo,
    /// Delete every service.
    Flush,
    /// Any other command number.
    Other(u8),
}

impl From<IpvsCmd> for u8 {
    fn from(c: IpvsCmd) -> u8 {
        match c {
            IpvsCmd::NewService => CMD_NEW_SERVICE,
            IpvsCmd::SetService => CMD_SET_SERVICE,
            IpvsCmd::DelService => CMD_DEL_SERVICE,
            IpvsCmd::GetService => CMD_GET_SERVICE,
            IpvsCmd::NewDest => CMD_NEW_DEST,
            IpvsCmd::SetDest => CMD_SET_DEST,
            IpvsCmd::DelDest => CMD_DEL_DEST,
            IpvsCmd::GetDest => CMD_GET_DEST,
            IpvsCmd::SetConfig => CMD_SET_CONFIG,
            IpvsCmd::GetConfig => CMD_GET_CONFIG,
            IpvsCmd::GetInfo => CMD_GET_INFO,
            IpvsCmd::Flush => CMD_FLUSH,
            IpvsCmd::Other(n) => n,
        }
    }
}

impl From<u8> for IpvsCmd {
    fn from(n: u8) -> Self {
        match n {
            CMD_NEW_SERVICE => Self::NewService,
            CMD_SET_SERVICE => Self::SetService,
            CMD_DEL_SERVICE => Self::DelService,
            CMD_GET_SERVICE => Self::GetService,
            CMD_NEW_DEST => Self::NewDest,
            CMD_SET_DEST => Self::SetDest,
            CMD_DEL_DEST => Self::DelDest,
            CMD_GET_DEST => Self::GetDest,
            CMD_SET_CONFIG => Self::SetConfig,
            CMD_GET_CONFIG => Self::GetConfig,
            CMD_GET_INFO => Self::GetInfo,
            CMD_FLUSH => Self::Flush,
            n => Self::Other(n),
        }
    }
}

/// One IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command.
    pub cmd: IpvsCmd,
    /// Its attributes, in order.
    pub attrs: Vec<IpvsAttr>,
}

impl IpvsMessage {
    /// A message with attributes.
    pub fn new(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> Self {
        Self { cmd, attrs }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.into()
    }

    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let attrs = NlasIterator::new(buf)
            .map(|nla| nla.and_then(|b| IpvsAttr::parse_for(header.cmd, &b)))
            .collect::<Result<Vec<_>, _>>()
            .context("IPVS message attributes")?;
        Ok(Self {
            cmd: header.cmd.into(),
            attrs,
        })
    }
}
