//! The `dns` probe (keepalived's DNS_CHECK): a query over UDP that must be
//! answered — a response to our id, NOERROR, with at least one answer.
//! Messages are built and read with hickory-proto.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::Outcome;
use crate::net::{Source, udp_from};

/// A DNS check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProbe {
    /// The name queried.
    pub name: Name,
    /// The record type queried.
    pub record: RecordType,
}

impl DnsProbe {
    /// A probe for `name` and `record` (`A`, `AAAA`, `SOA`, ...).
    pub fn new(name: &str, record: &str) -> Result<Self, String> {
        Ok(Self {
            name: Name::from_str(name).map_err(|e| format!("name {name}: {e}"))?,
            record: RecordType::from_str(record).map_err(|e| format!("type {record}: {e}"))?,
        })
    }

    pub(crate) async fn run(
        &self,
        source: &Source,
        target: SocketAddr,
        timeout: std::time::Duration,
        started: Instant,
    ) -> Outcome {
        let id: u16 = rand_id();
        let mut query = Message::new(id, MessageType::Query, OpCode::Query);
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(self.name.clone(), self.record));
        let bytes = match query.to_vec() {
            Ok(b) => b,
            Err(e) => return Outcome::failed(started, format!("query: {e}")),
        };
        let socket = match udp_from(source, target).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(started, e),
        };
        if let Err(e) = socket.send(&bytes).await {
            return Outcome::failed(started, format!("send: {e}"));
        }
        let mut buf = vec![0u8; 4096];
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            let n = match tokio::time::timeout(left, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Outcome::failed(started, format!("receive: {e}")),
                Err(_) => return Outcome::failed(started, "no answer".into()),
            };
            let Ok(answer) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            // Not ours (a late answer to an earlier query): keep waiting.
            if answer.metadata.id != id || answer.metadata.message_type != MessageType::Response {
                continue;
            }
            return match (answer.metadata.response_code, answer.answers.len()) {
                (ResponseCode::NoError, 0) => Outcome::failed(started, "no answer records".into()),
                (ResponseCode::NoError, _) => Outcome::passed(started),
                (code, _) => Outcome::failed(started, format!("response code {code}")),
            };
        }
    }
}

/// A query id that differs from run to run.
fn rand_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ (nanos >> 16)) as u16
}
