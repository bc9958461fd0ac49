//! The `file` probe (keepalived's FILE_CHECK): a number in a file, times
//! the check's weight, adjusts the real server's weight; with weight 0 any
//! number but 0 takes the server down, and so does a product of -254 or
//! less. A missing file, or one that holds no number, reads as 0.

use std::path::PathBuf;
use std::time::Instant;

use crate::{Outcome, WeightChange};

/// The product at which a server is down (keepalived's IPVS_WEIGHT_FAULT).
const FAULT: i64 = -254;

/// A file check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProbe {
    /// The file read.
    pub path: PathBuf,
    /// What its number is multiplied by (negative with `reverse`).
    pub weight: i64,
}

impl FileProbe {
    pub(crate) async fn run(&self, started: Instant) -> Outcome {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .unwrap_or_default();
        let value: i64 = text
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        if self.weight == 0 {
            return if value == 0 {
                Outcome::passed(started)
            } else {
                Outcome::failed(started, format!("{} holds {value}", self.path.display()))
            };
        }
        let product = value.saturating_mul(self.weight).clamp(FAULT, 253);
        if product <= FAULT {
            return Outcome::failed(
                started,
                format!("{} holds {value}: weight {product}", self.path.display()),
            );
        }
        let mut out = Outcome::passed(started);
        out.weight = Some(WeightChange::Add(product));
        out
    }
}
