//! Configuration reload: SIGHUP, `holdfast reload` (the control socket) or
//! a change of the file (`--watch-config`).
//!
//! Parse → validate → diff → apply only what changed. The file is read and
//! validated on a blocking thread, never on the VRRP task. A file with any
//! problem changes nothing: every problem is logged with file:line:col and
//! returned to `holdfast reload`, and the running configuration keeps
//! running. So does a change that can only take effect at a restart (a
//! `global` setting, a probe module), which is refused with that reason:
//! a reload applies entirely or not at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdfast_config::{Config, ConfigChange};
use holdfast_policy::PolicyEngine;
use tracing::{error, info};

use crate::control::ReloadOutcome;
use crate::lvs::Lvs;
use crate::probe_modules::ProbeModules;
use crate::vrrp::Vrrp;

/// What a running daemon is made of, and the configuration it runs.
#[derive(Debug)]
pub(crate) struct Daemon {
    pub(crate) path: PathBuf,
    pub(crate) config: Config,
    pub(crate) vrrp: Option<Vrrp>,
    pub(crate) lvs: Option<Lvs>,
    pub(crate) modules: Arc<ProbeModules>,
    pub(crate) engine: Option<PolicyEngine>,
}

fn refused(errors: String) -> ReloadOutcome {
    ReloadOutcome {
        applied: false,
        changes: Vec::new(),
        errors,
    }
}

/// Reads and validates the file off the runtime's thread.
async fn load(path: &Path) -> Result<Config, String> {
    let p = path.to_path_buf();
    match tokio::task::spawn_blocking(move || holdfast_config::load(&p)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            for line in e.located() {
                error!(problem = %line, "reload refused: configuration problem");
            }
            Err(e.render(false))
        }
        Err(e) => Err(format!("cannot read the configuration: {e}")),
    }
}

/// The probe modules (`check "probe" policy=`) a configuration uses, with
/// their settings.
fn probe_modules(config: &Config) -> Vec<(String, Option<holdfast_config::PolicyCfg>)> {
    crate::probe_modules::named(config)
        .into_iter()
        .map(|n| {
            let cfg = config.policies.get(&n).cloned();
            (n, cfg)
        })
        .collect()
}

/// Changes this daemon applies only at a restart; each is a reason to
/// refuse the whole reload.
fn restart_only(
    old: &Config,
    has_engine: bool,
    new: &Config,
    changes: &[ConfigChange],
) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        if let ConfigChange::Global { fields } = c {
            out.push(format!(
                "global {} changed: this takes effect at a restart",
                fields.join(", ")
            ));
        }
    }
    if probe_modules(old) != probe_modules(new) {
        out.push(
            "the probe modules (check \"probe\" policy=...) changed: they take effect at a restart"
                .into(),
        );
    }
    if !has_engine && !new.policies.is_empty() {
        out.push("policies in a daemon started without any take effect at a restart".into());
    }
    out
}

impl Daemon {
    /// One reload, start to end; what it did or why it did nothing.
    pub(crate) async fn reload(&mut self) -> ReloadOutcome {
        info!(config = %self.path.display(), "reloading the configuration");
        let new = match load(&self.path).await {
            Ok(c) => c,
            Err(errors) => return refused(errors),
        };
        let changes = holdfast_config::diff(&self.config, &new);
        if changes.is_empty() {
            info!("reload: nothing changed");
            return ReloadOutcome {
                applied: true,
                changes: Vec::new(),
                errors: String::new(),
            };
        }
        let reasons = restart_only(&self.config, self.engine.is_some(), &new, &changes);
        if !reasons.is_empty() {
            for r in &reasons {
                error!(reason = %r, "reload refused; the running configuration stays");
            }
            return refused(reasons.join("\n"));
        }
        if let Err(e) = self.apply(&new, &changes).await {
            error!(error = %e, "reload refused; the running configuration stays");
            return refused(e);
        }
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        for l in &lines {
            info!(change = %l, "reload applied");
        }
        self.config = new;
        ReloadOutcome {
            applied: true,
            changes: lines,
            errors: String::new(),
        }
    }

    /// What can still fail goes first: a director that has to start, then
    /// VRRP's preparation; a failure undoes what was started and refuses.
    async fn apply(&mut self, new: &Config, changes: &[ConfigChange]) -> Result<(), String> {
        let started_lvs = if self.lvs.is_none() && !new.virtual_servers.is_empty() {
            let l = crate::lvs::start(new, &self.modules, self.engine.clone())
                .await
                .map_err(|e| format!("cannot start IPVS: {e}"))?;
            Some(l)
        } else {
            None
        };
        let vrrp = match self.vrrp.as_mut() {
            Some(v) => v.reconfigure(&self.config, new, changes).await,
            None if !new.vrrp_instances.is_empty() => {
                match crate::vrrp::start(new, &self.modules, self.engine.clone()).await {
                    Ok(v) => {
                        self.vrrp = Some(v);
                        Ok(())
                    }
                    Err(e) => Err(format!("cannot start VRRP: {e}")),
                }
            }
            None => Ok(()),
        };
        if let Err(e) = vrrp {
            if let Some(l) = started_lvs {
                l.stop().await;
            }
            return Err(e);
        }
        if let Some(l) = started_lvs {
            self.lvs = Some(l);
        } else if let Some(l) = self.lvs.as_ref() {
            let policies: Vec<String> = changes
                .iter()
                .filter_map(|c| match c {
                    ConfigChange::PolicyChanged { name, .. } => Some(name.clone()),
                    _ => None,
                })
                .collect();
            l.reconfigure(new, policies).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        holdfast_config::parse_str("t.kdl", text).unwrap()
    }

    const VS: &str = "virtual-server \"192.0.2.1:80\" protocol=\"tcp\" {\n    scheduler \"rr\"\n    real-server \"10.0.0.1:80\" {\n        check \"tcp\"\n    }\n}\n";

    fn refused_for(old: &str, new: &str, engine: bool) -> Vec<String> {
        let (old, new) = (parse(old), parse(new));
        let changes = holdfast_config::diff(&old, &new);
        restart_only(&old, engine, &new, &changes)
    }

    #[test]
    fn what_takes_a_restart_is_refused_with_its_reason() {
        // A real server's weight: applied.
        let heavier = VS.replace("\"10.0.0.1:80\"", "\"10.0.0.1:80\" weight=5");
        assert!(refused_for(VS, &heavier, false).is_empty());
        // A global setting: refused, named.
        let global = format!("global {{\n    notify-timeout 3\n}}\n{VS}");
        let why = refused_for(VS, &global, false);
        assert!(
            why.len() == 1 && why[0].contains("notify-timeout"),
            "{why:?}"
        );
        // Policies in a daemon started without any.
        let policy = format!("policy \"p\" {{\n    path \"/x.wasm\"\n}}\n{VS}");
        assert_eq!(refused_for(VS, &policy, false).len(), 1);
        assert!(refused_for(VS, &policy, true).is_empty());
        // A probe module added.
        let probe = format!(
            "policy \"p\" {{\n    path \"/x.wasm\"\n}}\n{}",
            VS.replace("check \"tcp\"", "check \"probe\" policy=\"p\"")
        );
        let why = refused_for(&policy, &probe, true);
        assert!(why.iter().any(|w| w.contains("probe")), "{why:?}");
    }
}
