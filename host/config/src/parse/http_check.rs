//! The `http` and `https` kinds of `check`: keepalived's HTTP_GET and
//! SSL_GET, with one URL on the check itself or several `url` children.

use std::path::PathBuf;

use kdl::KdlNode;

use super::check::{URL_PROPS, string_prop};
use super::ipvs::one_of;
use crate::error::{Problem, ProblemKind};
use crate::model::{CheckKind, TlsCfg, UrlCfg};
use crate::reader::{Diags, children, prop};

/// An `http` or `https` check: its URLs (one from its own properties, or
/// one per `url` child), Host header, HTTP version and TLS settings.
pub(super) fn read(node: &KdlNode, d: &mut Diags, tls: bool) -> Option<CheckKind> {
    let url_children: Vec<&KdlNode> = children(node).iter().collect();
    let urls = if url_children.is_empty() {
        vec![read_url(node, d)?]
    } else {
        for key in URL_PROPS {
            if let Some(e) = prop(node, key) {
                d.push(
                    Problem::new(
                        ProblemKind::Conflict,
                        e.span(),
                        format!("`{key}=` on a check with `url` nodes"),
                        "belongs to a url",
                    )
                    .help("move it onto a `url` node inside the block"),
                );
            }
        }
        let mut urls = Vec::new();
        for child in url_children {
            if child.name().value() != "url" {
                d.unknown_node(child, "`check`", &["url"]);
                continue;
            }
            d.max_args(child, 0);
            d.no_children(child);
            d.check_props(child, URL_PROPS);
            urls.extend(read_url(child, d));
        }
        urls
    };
    let http10 = match prop(node, "http-protocol") {
        Some(e) => one_of(d, e, "HTTP version", &["1.0", "1.1"])? == "1.0",
        None => false,
    };
    let host = string_prop(node, d, "host");
    let tls = if tls {
        let verify = prop(node, "verify")
            .and_then(|e| d.boolean(e))
            .unwrap_or(false);
        let ca = string_prop(node, d, "ca").map(PathBuf::from);
        if verify && ca.is_none() {
            d.push(
                Problem::new(
                    ProblemKind::Missing,
                    prop(node, "verify")?.span(),
                    "`verify=#true` without `ca=`",
                    "nothing to verify against",
                )
                .help("add `ca=\"/etc/holdfast/backend-ca.pem\"` (PEM certificates)"),
            );
            return None;
        }
        Some(TlsCfg {
            sni: string_prop(node, d, "sni").or_else(|| host.clone()),
            verify,
            ca,
        })
    } else {
        None
    };
    Some(CheckKind::Http {
        tls,
        urls,
        host,
        http10,
    })
}

/// One URL from the `path`, `status`, `digest` and `regex` of `node`.
fn read_url(node: &KdlNode, d: &mut Diags) -> Option<UrlCfg> {
    let status = match prop(node, "status") {
        Some(e) => {
            let s = d.string(e)?;
            let Some(ranges) = parse_status(s) else {
                d.push(
                    Problem::new(ProblemKind::Value, e.span(), format!("bad status list `{s}`"), "not status ranges")
                        .help("write codes or ranges between 100 and 599, e.g. \"200-299\" or \"200,204,300-399\""),
                );
                return None;
            };
            ranges
        }
        None => vec![(200, 299)],
    };
    let path = string_prop(node, d, "path").unwrap_or_else(|| "/".to_string());
    if !path.starts_with('/') {
        d.push(
            Problem::new(
                ProblemKind::Value,
                prop(node, "path")?.span(),
                "an HTTP path starts with `/`",
                "relative path",
            )
            .help(format!("write \"/{path}\"")),
        );
        return None;
    }
    let digest = match prop(node, "digest") {
        Some(e) => {
            let s = d.string(e)?.to_ascii_lowercase();
            if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                d.push(
                    Problem::new(
                        ProblemKind::Value,
                        e.span(),
                        format!("`{s}` is not an MD5 digest"),
                        "not 32 hex digits",
                    )
                    .help("`holdfast digest http://ADDR/PATH` prints the digest of a page"),
                );
                return None;
            }
            Some(s)
        }
        None => None,
    };
    let regex = match prop(node, "regex") {
        Some(e) => {
            let s = d.string(e)?;
            if let Err(err) = regex::bytes::Regex::new(s) {
                d.push(
                    Problem::new(
                        ProblemKind::Value,
                        e.span(),
                        format!("bad regex: {err}"),
                        "not a regex",
                    )
                    .help("the syntax is the Rust regex crate's (like RE2)"),
                );
                return None;
            }
            Some(s.to_string())
        }
        None => None,
    };
    Some(UrlCfg {
        path,
        status,
        digest,
        regex,
    })
}

/// `"200-299"` or `"200,204,300-399"`.
fn parse_status(s: &str) -> Option<Vec<(u16, u16)>> {
    s.split(',')
        .map(|part| {
            let (lo, hi) = part
                .trim()
                .split_once('-')
                .unwrap_or((part.trim(), part.trim()));
            let (lo, hi) = (
                lo.trim().parse::<u16>().ok()?,
                hi.trim().parse::<u16>().ok()?,
            );
            ((100..=599).contains(&lo) && (lo..=599).contains(&hi)).then_some((lo, hi))
        })
        .collect()
}
