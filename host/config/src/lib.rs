//! holdfast's configuration: KDL text → typed, validated [`Config`], with
//! every problem reported at once as a miette diagnostic that points at the
//! offending token, and [`diff`] to compare two configurations for reload.
//!
//! ```
//! let text = r#"
//! vrrp-instance "VI_1" {
//!     interface "eth0"
//!     virtual-router-id 51
//!     priority 150
//!     advert-interval 0.1
//!     virtual-ipaddress "192.0.2.254/24"
//! }
//! "#;
//! let config = holdfast_config::parse_str("example.kdl", text).unwrap();
//! assert_eq!(config.vrrp_instances[0].advert_interval_cs, 10);
//!
//! let err = holdfast_config::parse_str("bad.kdl", "vrrp-instance \"x\" { priorty 1 }").unwrap_err();
//! assert!(err.render(false).contains("did you mean `priority`?"));
//! ```

mod diff;
mod error;
mod model;
mod parse;
mod reader;
mod validate;

pub use diff::{ConfigChange, InstanceChange, diff};
pub use error::{ConfigError, Problem, ProblemKind};
pub use model::*;
pub use parse::{NOT_RUN_YET, Setting, accepted_settings, load, parse_str};
