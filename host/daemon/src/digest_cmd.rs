//! `holdfast digest URL`: keepalived's `genhash`. Fetches a page the way an
//! `http`/`https` check does and prints the MD5 of its body, ready to
//! paste into a check's `digest=`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use holdfast_checks::{HttpProbe, TlsProbe, md5_hex};

#[derive(Debug, Args)]
pub(crate) struct DigestArgs {
    /// The page: `http://ADDRESS[:PORT]/PATH` (`https://` implies `--tls`).
    url: String,
    /// Fetch over TLS (certificates are not verified, as the check's default).
    #[arg(long)]
    tls: bool,
    /// The Host header (and the TLS server name), as the check's `host=`.
    #[arg(long)]
    host: Option<String>,
    /// Send an HTTP/1.0 request, as the check's `http-protocol="1.0"`.
    #[arg(long)]
    http10: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
}

/// `(tls, address, path)` of `http[s]://ADDRESS[:PORT]/PATH`.
fn split(url: &str) -> Result<(bool, SocketAddr, String), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{url}: write http://ADDRESS[:PORT]/PATH"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let default_port = if tls { 443 } else { 80 };
    let addr = authority
        .parse::<SocketAddr>()
        .or_else(|_| {
            authority
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, default_port))
        })
        .map_err(|_| format!("{authority}: an address is needed (a check probes addresses)"))?;
    Ok((tls, addr, path))
}

pub(crate) fn run(args: &DigestArgs) -> ExitCode {
    match fetch(args) {
        Ok((status, digest)) => {
            println!("MD5SUM = {digest}");
            println!("status {status}; in a check: digest=\"{digest}\"");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("holdfast: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(args: &DigestArgs) -> Result<(u16, String), String> {
    let (https, target, path) = split(&args.url)?;
    let tls = (https || args.tls)
        .then(|| TlsProbe::new(args.host.clone(), false, None))
        .transpose()?;
    let probe = HttpProbe {
        urls: Vec::new(),
        host: args.host.clone(),
        http10: args.http10,
        tls,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let timeout = Duration::from_secs_f64(args.timeout.max(0.01));
    let (status, body) = runtime.block_on(async {
        tokio::time::timeout(timeout, probe.fetch(target, &path))
            .await
            .map_err(|_| format!("no answer within {:.1} s", timeout.as_secs_f64()))?
    })?;
    Ok((status, md5_hex(&body)))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn urls_split_into_tls_address_and_path() {
        assert_eq!(
            split("http://10.0.1.11/index.html").unwrap(),
            (false, "10.0.1.11:80".parse().unwrap(), "/index.html".into())
        );
        assert_eq!(
            split("https://[2001:db8::1]:8443").unwrap(),
            (true, "[2001:db8::1]:8443".parse().unwrap(), "/".into())
        );
        assert!(split("ftp://x/").is_err());
        assert!(
            split("http://www.example.com/").is_err(),
            "names are not resolved"
        );
    }
}
