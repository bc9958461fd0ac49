//! A Redis probe: what keepalived can only do by forking `redis-cli` from
//! a MISC_CHECK, done in the sandbox over holdfast's exchanges with the
//! real server (and nothing else).
//!
//! Each call sends `AUTH` (when a password is given), `PING` (expecting
//! `+PONG`) and, when a role is required, `ROLE` (the first element of its
//! reply: `master`, `slave`). All in one TCP exchange: Redis answers
//! pipelined commands in order.
//!
//! Params (the KDL `params` block):
//!
//! | param | default | meaning |
//! |---|---|---|
//! | `password` | none | sent with `AUTH` first |
//! | `role` | none | `master` or `replica`: the server must have this role |
//! | `slow-ms` | none | an answer slower than this is a failure |

use holdfast_policy_sdk::*;
use serde::Deserialize;
use std::sync::Mutex;

/// Parsed parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Params {
    /// `AUTH` password.
    #[serde(default)]
    pub password: Option<String>,
    /// Required role: `master` or `replica`.
    #[serde(default)]
    pub role: Option<String>,
    /// Slower than this is down.
    #[serde(default)]
    pub slow_ms: Option<u64>,
}

impl Params {
    /// Parses and validates the `params` JSON.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let p: Self = serde_json::from_str(json).map_err(|e| format!("params: {e}"))?;
        match p.role.as_deref() {
            None | Some("master") | Some("replica") => Ok(p),
            Some(other) => Err(format!(
                "role: {other:?} is neither \"master\" nor \"replica\""
            )),
        }
    }

    /// The commands to send, as RESP arrays, and how many replies follow.
    pub fn request(&self) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut replies = 0;
        if let Some(pw) = &self.password {
            command(&mut out, &["AUTH", pw]);
            replies += 1;
        }
        command(&mut out, &["PING"]);
        replies += 1;
        if self.role.is_some() {
            command(&mut out, &["ROLE"]);
            replies += 1;
        }
        (out, replies)
    }

    /// The verdict on the replies, in order.
    pub fn judge(&self, reply: &[u8]) -> Result<String, String> {
        let text = String::from_utf8_lossy(reply);
        let mut lines = text.split("\r\n");
        if self.password.is_some() {
            let auth = lines.next().unwrap_or_default();
            if auth != "+OK" {
                return Err(format!("AUTH: {}", short(auth)));
            }
        }
        let ping = lines.next().unwrap_or_default();
        if ping != "+PONG" {
            return Err(format!("PING: {}", short(ping)));
        }
        let Some(want) = &self.role else {
            return Ok("PONG".into());
        };
        // ROLE replies with an array whose first element is the role:
        // `*3`, `$6`, `master`, ... or `*5`, `$5`, `slave`, ...
        let role = lines.nth(2).unwrap_or_default();
        let role = if role == "slave" { "replica" } else { role };
        if role == want {
            Ok(format!("PONG, role {role}"))
        } else {
            Err(format!("role is {}, not {want}", short(role)))
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

fn command(out: &mut Vec<u8>, words: &[&str]) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
}

/// Whether the replies are complete: every reply to a simple command is
/// one line; ROLE's array is read whole by counting its lines.
fn complete(reply: &[u8], replies: usize, role: bool) -> bool {
    let lines = reply.windows(2).filter(|w| w == b"\r\n").count();
    // ROLE: `*N` then at least `$len`, `role` before we can judge.
    let needed = replies + if role { 2 } else { 0 };
    lines >= needed
}

static PARAMS: Mutex<Option<Params>> = Mutex::new(None);

/// The policy.
pub struct RedisProbe;

impl Init for RedisProbe {
    fn init(params: String) -> Result<(), String> {
        let p = Params::from_json(&params)?;
        *PARAMS.lock().map_err(|_| "poisoned")? = Some(p);
        Ok(())
    }
}

impl ProbePolicy for RedisProbe {
    fn probe(input: ProbeInput) -> ProbeOutput {
        let params = PARAMS
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .unwrap_or_default();
        let (request, replies) = params.request();
        let started = now_ms();
        let mut reply = Vec::new();
        // One exchange (a second would be a new connection, without the
        // AUTH): Redis reads pipelined commands together and writes their
        // replies together, so reading stops at the end of the last line.
        let x = net::exchange(
            &input.target,
            &request,
            Some(b"\r\n"),
            4096,
            input.timeout_ms,
        );
        match net::tcp(&x) {
            Ok(r) => reply.extend(r),
            Err(e) => return down(e),
        }
        if !complete(&reply, replies, params.role.is_some()) {
            return down(format!(
                "incomplete reply: {}",
                short(&String::from_utf8_lossy(&reply))
            ));
        }
        let took = now_ms().saturating_sub(started);
        match params.judge(&reply) {
            Ok(_) if params.slow_ms.is_some_and(|slow| took > slow) => {
                down(format!("answered in {took} ms"))
            }
            Ok(msg) => ProbeOutput {
                up: true,
                weight: None,
                message: msg,
            },
            Err(e) => down(e),
        }
    }
}

fn down(message: String) -> ProbeOutput {
    ProbeOutput {
        up: false,
        weight: None,
        message,
    }
}

export_policy!(probe: RedisProbe);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_with_auth_and_role() {
        let p = Params::from_json(r#"{"password":"s3cret","role":"master"}"#).unwrap();
        let (req, n) = p.request();
        assert_eq!(n, 3);
        assert_eq!(
            req,
            b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nROLE\r\n"
        );
        let ok = b"+OK\r\n+PONG\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
        assert_eq!(p.judge(ok).unwrap(), "PONG, role master");
        let replica = b"+OK\r\n+PONG\r\n*5\r\n$5\r\nslave\r\n";
        assert!(p.judge(replica).unwrap_err().contains("replica"));
        let denied = b"-WRONGPASS invalid username-password pair\r\n";
        assert!(p.judge(denied).unwrap_err().starts_with("AUTH: -WRONGPASS"));
    }

    #[test]
    fn plain_ping() {
        let p = Params::from_json("{}").unwrap();
        assert_eq!(p.request(), (b"*1\r\n$4\r\nPING\r\n".to_vec(), 1));
        assert!(p.judge(b"+PONG\r\n").is_ok());
        assert!(p.judge(b"-LOADING\r\n").is_err());
        assert!(Params::from_json(r#"{"role":"primary"}"#).is_err());
    }

    #[test]
    fn completeness_counts_lines() {
        assert!(complete(b"+PONG\r\n", 1, false));
        assert!(!complete(b"+OK\r\n", 2, false));
        assert!(!complete(b"+PONG\r\n*3\r\n", 2, true));
        assert!(complete(b"+PONG\r\n*3\r\n$6\r\nmaster\r\n", 2, true));
    }
}
