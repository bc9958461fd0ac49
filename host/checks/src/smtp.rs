//! The `smtp` probe (keepalived's SMTP_CHECK): the server greets with 220,
//! answers our HELO with 250, and we say QUIT.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::Outcome;
use crate::net::{Source, connect_from};

/// The longest reply line read.
const LINE_MAX: u64 = 4096;

/// An SMTP check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpProbe {
    /// The name sent with HELO.
    pub helo_name: String,
}

/// Reads one reply (the last line of a multi-line one) and its code.
async fn reply<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<(u16, String), String> {
    loop {
        let mut line = String::new();
        let n = (&mut *reader)
            .take(LINE_MAX)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed".into());
        }
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an SMTP reply: {}", line.trim_end()))?;
        // `250-...` continues; `250 ...` ends the reply.
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, line.trim_end().to_string()));
        }
    }
}

impl SmtpProbe {
    pub(crate) async fn run(
        &self,
        source: &Source,
        target: SocketAddr,
        started: Instant,
    ) -> Outcome {
        let stream = match connect_from(source, target).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(started, e),
        };
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let result: Result<(), String> = async {
            match reply(&mut reader).await? {
                (220, _) => {}
                (_, line) => return Err(format!("banner: {line}")),
            }
            write
                .write_all(format!("HELO {}\r\n", self.helo_name).as_bytes())
                .await
                .map_err(|e| format!("write: {e}"))?;
            match reply(&mut reader).await? {
                (250, _) => {}
                (_, line) => return Err(format!("HELO: {line}")),
            }
            let _ = write.write_all(b"QUIT\r\n").await;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => Outcome::passed(started),
            Err(e) => Outcome::failed(started, e),
        }
    }
}
