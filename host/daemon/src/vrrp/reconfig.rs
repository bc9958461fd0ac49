//! A configuration reload, on the VRRP side.
//!
//! Everything that can fail or wait — resolving interfaces and addresses,
//! opening sockets, reading link states — is prepared off the VRRP task
//! ([`Vrrp::reconfigure`]); a reload that cannot be prepared changes
//! nothing. The VRRP task then applies the typed changes in their order
//! ([`Runner::reconfigure`]): an unchanged instance is not touched, a
//! changed one takes its new settings in place without leaving its state
//! (`Instance::reconfigure`), one whose identity on the wire changed is
//! removed and created again, a removed one releases mastership as on stop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Instant;

use holdfast_config::{Config, ConfigChange, InstanceChange, PolicyCfg};
use holdfast_net::{Announcer, VipSpec, VrrpReceiver};
use holdfast_vrrp::{Instance, InstanceId};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::addresses::AddrCmd;
use super::checks::{CheckStatus, VrrpChecks};
use super::notify::Notifier;
use super::runner::{Group, Runner, Slot};
use super::setup::{Resolved, core_config, resolve_one};
use super::{Vrrp, receive, tracked_blocks};

/// A reload for the VRRP task, prepared off it.
pub(crate) struct Reconfig {
    config: Config,
    changes: Vec<ConfigChange>,
    /// Every added, replaced or changed instance, resolved.
    resolved: HashMap<String, Resolved>,
    /// Notify queues of added or replaced instances and of added groups.
    instance_notifiers: HashMap<String, Notifier>,
    group_notifiers: HashMap<String, Notifier>,
    /// The state of every interface the new configuration tracks.
    links_up: HashMap<String, bool>,
    /// A new checks thread, when the tracked checks changed.
    checks: Option<(VrrpChecks, mpsc::UnboundedReceiver<CheckStatus>)>,
    done: oneshot::Sender<()>,
}

/// The instances a reload creates or changes, by name.
fn touched(changes: &[ConfigChange]) -> BTreeSet<&str> {
    changes
        .iter()
        .filter_map(|c| match c {
            ConfigChange::InstanceAdded { name }
            | ConfigChange::InstanceReplaced { name, .. }
            | ConfigChange::InstanceChanged { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

impl Vrrp {
    /// Applies a reload from `old` to `new`: prepared here (an error
    /// changes nothing), then applied by the VRRP task, which this waits for.
    pub(crate) async fn reconfigure(
        &mut self,
        old: &Config,
        new: &Config,
        changes: &[ConfigChange],
    ) -> Result<(), String> {
        let names = touched(changes);
        let mut links = BTreeMap::new();
        let mut resolved = HashMap::new();
        for cfg in new
            .vrrp_instances
            .iter()
            .filter(|i| names.contains(i.name.as_str()))
        {
            let r = resolve_one(&self.nl, cfg, &mut links)
                .await
                .map_err(|e| format!("instance `{}`: {e}", cfg.name))?;
            resolved.insert(cfg.name.clone(), r);
        }
        // Sockets for interfaces and families no instance used before.
        let mut receivers = Vec::new();
        let mut announcers = HashMap::new();
        for r in resolved.values() {
            let key = (r.link.index, r.primary.is_ipv6());
            if !self.receivers.contains(&key) && !receivers.iter().any(|(k, _)| *k == key) {
                let _on = self.thread.handle.enter();
                let rx = VrrpReceiver::open(&r.link.name, key.0, key.1)
                    .map_err(|e| format!("instance `{}`: {e}", r.cfg.name))?;
                receivers.push((key, rx));
            }
            for v in &r.vips {
                let had = self.announced.get(&v.index).copied().unwrap_or_default();
                let want = (had.0 || v.addr.is_ipv4(), had.1 || v.addr.is_ipv6());
                if want != had {
                    let link = r.vip_links.get(&v.index).unwrap_or(&r.link);
                    let a = Announcer::open(&link.name, v.index, link.mac, want.0, want.1)
                        .map_err(|e| format!("instance `{}`: {e}", r.cfg.name))?;
                    announcers.insert(v.index, (a, want));
                }
            }
        }
        // Only created or changed instances take tracking states from here
        // (the others keep theirs): read each of their interfaces once.
        let mut links_up = HashMap::new();
        for r in resolved.values() {
            for t in &r.cfg.track_interfaces {
                if !links_up.contains_key(&t.name) {
                    let up = self.nl.link(&t.name).await.is_ok_and(|l| l.up);
                    links_up.insert(t.name.clone(), up);
                }
            }
        }
        // Nothing below can fail: commit.
        for (key, rx) in receivers {
            self.receivers.insert(key);
            self.thread
                .handle
                .spawn(receive(rx, key.0, self.packets.clone()));
        }
        let mut open = HashMap::new();
        for (index, (a, want)) in announcers {
            self.announced.insert(index, want);
            open.insert(index, a);
        }
        if !open.is_empty() {
            let _ = self.addr_tx.send(AddrCmd::Announcers(open));
        }
        let mut instance_notifiers = HashMap::new();
        for c in changes {
            if let ConfigChange::InstanceAdded { name }
            | ConfigChange::InstanceReplaced { name, .. } = c
            {
                let (n, handle) = Notifier::spawn(name.clone(), self.notify_timeout);
                self.notifiers.push(handle);
                instance_notifiers.insert(name.clone(), n);
            }
        }
        let mut group_notifiers = HashMap::new();
        for c in changes {
            if let ConfigChange::SyncGroupAdded { name } = c {
                let (n, handle) = Notifier::spawn(name.clone(), self.notify_timeout);
                self.notifiers.push(handle);
                group_notifiers.insert(name.clone(), n);
            }
        }
        let tracked = tracked_blocks(new);
        let checks = if tracked != tracked_blocks(old) {
            info!(
                blocks = tracked.0.len(),
                processes = tracked.1.len(),
                "tracked checks changed: restarting them"
            );
            Some(super::checks::spawn(
                tracked.0,
                tracked.1,
                self.modules.clone(),
            ))
        } else {
            None
        };
        let (done, applied) = oneshot::channel();
        let r = Reconfig {
            config: new.clone(),
            changes: changes.to_vec(),
            resolved,
            instance_notifiers,
            group_notifiers,
            links_up,
            checks,
            done,
        };
        self.reconfig
            .send(r)
            .map_err(|_| "the VRRP task is not running".to_string())?;
        applied
            .await
            .map_err(|_| "the VRRP task ended during the reload".to_string())
    }
}

impl Runner {
    /// Applies a prepared reload, change by change, in order. Returns the
    /// new checks receiver, if the checks were restarted.
    pub(super) fn reconfigure(
        &mut self,
        now: Instant,
        mut r: Reconfig,
    ) -> Option<mpsc::UnboundedReceiver<CheckStatus>> {
        let checks = r.checks.take().map(|(handle, rx)| {
            self.checks = Some(handle);
            rx
        });
        let mut new_users: Vec<(String, InstanceId)> = Vec::new();
        for change in std::mem::take(&mut r.changes) {
            match change {
                ConfigChange::SyncGroupRemoved { name } => {
                    if let Some(id) = self.group_id(&name) {
                        self.groups.remove(&id);
                        self.router.remove_group(now, id);
                    }
                }
                ConfigChange::InstanceRemoved { name } => self.remove_instance(now, &name),
                ConfigChange::InstanceReplaced { name, because } => {
                    warn!(instance = %name, because = ?because, "instance replaced: these settings cannot change in place");
                    self.remove_instance(now, &name);
                    if let Some(id) = self.add_instance(now, &mut r, &name) {
                        new_users.push((name, id));
                    }
                }
                ConfigChange::InstanceAdded { name } => {
                    if let Some(id) = self.add_instance(now, &mut r, &name) {
                        new_users.push((name, id));
                    }
                }
                ConfigChange::InstanceChanged { name, changes } => {
                    if let Some(id) = self.change_instance(now, &mut r, &name, &changes) {
                        new_users.push((name, id));
                    }
                }
                ConfigChange::SyncGroupAdded { name } => self.add_group(now, &mut r, &name),
                ConfigChange::SyncGroupChanged { name, .. } => {
                    self.change_group(now, &r.config, &name)
                }
                _ => {}
            }
            self.drain(now);
        }
        self.tell_policies(&r.config, &new_users);
        let _ = r.done.send(());
        checks
    }

    fn group_id(&self, name: &str) -> Option<holdfast_vrrp::GroupId> {
        self.groups
            .iter()
            .find(|(_, g)| g.name == name)
            .map(|(id, _)| *id)
    }

    fn id_of(&self, name: &str) -> Option<InstanceId> {
        self.slots
            .iter()
            .find(|(_, s)| s.name == name)
            .map(|(id, _)| *id)
    }

    /// Releases mastership as on stop, then forgets the instance.
    fn remove_instance(&mut self, now: Instant, name: &str) {
        let Some(id) = self.id_of(name) else { return };
        if let Some(inst) = self.router.get_mut(id) {
            inst.shutdown(now);
        }
        self.drain(now);
        self.router.remove(id);
        self.slots.remove(&id);
        if let Ok(mut board) = self.board.write() {
            board.remove(name);
        }
        info!(instance = %name, "instance removed");
    }

    /// Creates and starts an instance of the new configuration.
    fn add_instance(&mut self, now: Instant, r: &mut Reconfig, name: &str) -> Option<InstanceId> {
        let resolved = r.resolved.remove(name)?;
        let notifier = r.instance_notifiers.remove(name)?;
        let id = self.router.insert(
            resolved.link.index,
            Instance::new(resolved.core, resolved.primary),
        );
        let mut slot = Slot::from_config(
            &resolved.cfg,
            resolved.link.index,
            resolved.sender,
            resolved.vips,
            notifier,
        );
        if self.policies.is_none() {
            slot.policy = None;
        }
        for (iface, up) in &r.links_up {
            slot.tracking.set_interface(iface, *up);
        }
        slot.tracking.refresh_files();
        info!(instance = %name, interface = %resolved.link.name, vrid = resolved.cfg.vrid, "instance added");
        self.slots.insert(id, slot);
        self.apply_tracking(now, id);
        if let Some(inst) = self.router.get_mut(id) {
            inst.startup(now);
        }
        resolved.cfg.priority_policy.as_ref().map(|_| id)
    }

    /// Applies an instance's new settings without leaving its state.
    fn change_instance(
        &mut self,
        now: Instant,
        r: &mut Reconfig,
        name: &str,
        changes: &[InstanceChange],
    ) -> Option<InstanceId> {
        let id = self.id_of(name)?;
        let resolved = r.resolved.remove(name)?;
        let cfg = resolved.cfg;
        let has_policy = self.policies.is_some();
        let slot = self.slots.get_mut(&id)?;
        info!(instance = %name, changes = ?changes, "instance changed in place");
        // The old addresses stay known until the instance has removed those
        // that went; then only the new list is kept.
        let old_vips = std::mem::replace(&mut slot.vips, resolved.vips.clone());
        slot.vips.extend(
            old_vips
                .iter()
                .filter(|v| !resolved.vips.contains(v))
                .cloned(),
        );
        let excluded = excluded_changes(&old_vips, &resolved.vips, changes);
        slot.sender = resolved.sender;
        slot.notify = cfg.notify.clone();
        slot.track_primary = !cfg.dont_track_primary;
        let mut tracking = super::tracking::Tracking::new(
            cfg.priority,
            &cfg.track_interfaces,
            &super::runner::tracked_checks(&cfg),
            &cfg.track_files,
        );
        tracking.carry_from(&slot.tracking);
        for (iface, up) in &r.links_up {
            tracking.set_interface(iface, *up);
        }
        tracking.refresh_files();
        slot.tracking = tracking;
        let policy_changed = cfg.priority_policy.is_some() != slot.policy.is_some()
            || changes.contains(&InstanceChange::Setting("priority-policy"));
        slot.policy = match (&cfg.priority_policy, slot.policy.take()) {
            (Some(_), _) if !has_policy => None,
            (Some(_), Some(p)) => Some(p),
            (Some(_), None) => Some(super::runner::PolicyState::default()),
            (None, _) => None,
        };
        let master = self
            .router
            .get(id)
            .is_some_and(|i| i.state() == holdfast_vrrp::State::Master);
        if let Some(inst) = self.router.get_mut(id)
            && let Err(e) = inst.reconfigure(now, core_config(&cfg))
        {
            // The diff replaces what cannot change in place; never here.
            warn!(instance = %name, error = ?e, "cannot change in place");
        }
        if master {
            self.excluded_vips(&excluded, name);
        }
        self.apply_tracking(now, id);
        self.drain(now);
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.vips = resolved.vips;
        }
        (policy_changed && cfg.priority_policy.is_some()).then_some(id)
    }

    /// Adds and removes a master's excluded addresses (not in adverts, so
    /// not the core's business).
    fn excluded_vips(&self, (added, removed): &(Vec<VipSpec>, Vec<VipSpec>), name: &str) {
        if !removed.is_empty() {
            let _ = self.addr_tx.send(AddrCmd::Remove {
                instance: name.to_string(),
                vips: removed.clone(),
            });
        }
        if !added.is_empty() {
            let _ = self.addr_tx.send(AddrCmd::Add {
                instance: name.to_string(),
                vips: added.clone(),
            });
        }
    }

    fn add_group(&mut self, now: Instant, r: &mut Reconfig, name: &str) {
        let (Some(cfg), Some(notifier)) = (
            r.config.sync_groups.iter().find(|g| g.name == name),
            r.group_notifiers.remove(name),
        ) else {
            return;
        };
        let members: Vec<InstanceId> = cfg.members.iter().filter_map(|m| self.id_of(m)).collect();
        let id = self.router.add_group(Vec::new());
        self.router.set_group_members(now, id, members);
        info!(group = %name, "sync group added");
        let group = Group {
            name: name.to_string(),
            id,
            notify: cfg.notify.clone(),
            notifier,
            state: holdfast_vrrp::State::Initialize,
        };
        self.groups.insert(id, group);
    }

    fn change_group(&mut self, now: Instant, config: &Config, name: &str) {
        let Some(cfg) = config.sync_groups.iter().find(|g| g.name == name) else {
            return;
        };
        let members: Vec<InstanceId> = cfg.members.iter().filter_map(|m| self.id_of(m)).collect();
        let Some(group) = self.groups.values_mut().find(|g| g.name == name) else {
            return;
        };
        group.notify = cfg.notify.clone();
        let id = group.id;
        info!(group = %name, members = ?cfg.members, "sync group changed");
        self.router.set_group_members(now, id, members);
    }

    /// Tells the priority-policy loader who uses which policy now, and
    /// which instances need a module (new users; changed policies).
    fn tell_policies(&self, config: &Config, new_users: &[(String, InstanceId)]) {
        let Some(reload) = &self.policy_reload else {
            return;
        };
        let mut users: BTreeMap<String, Vec<InstanceId>> = BTreeMap::new();
        for (id, s) in &self.slots {
            if let Some(p) = config
                .vrrp_instance(&s.name)
                .and_then(|c| c.priority_policy.clone())
            {
                users.entry(p).or_default().push(*id);
            }
        }
        let load: Vec<(String, InstanceId)> = new_users
            .iter()
            .filter_map(|(name, id)| {
                let p = config.vrrp_instance(name)?.priority_policy.clone()?;
                Some((p, *id))
            })
            .collect();
        let policies: BTreeMap<String, PolicyCfg> = config.policies.clone();
        let _ = reload.send(super::reload::PolicyReload::Config {
            policies,
            users,
            load,
        });
    }
}

/// The excluded addresses a reload adds and removes (`virtual-ipaddress-excluded`).
fn excluded_changes(
    old: &[VipSpec],
    new: &[VipSpec],
    changes: &[InstanceChange],
) -> (Vec<VipSpec>, Vec<VipSpec>) {
    let pick = |from: &[VipSpec], added: bool| -> Vec<VipSpec> {
        let addrs: Vec<IpAddr> = changes
            .iter()
            .filter_map(|c| match *c {
                InstanceChange::VipAdded {
                    addr,
                    excluded: true,
                    ..
                } if added => Some(addr),
                InstanceChange::VipRemoved {
                    addr,
                    excluded: true,
                    ..
                } if !added => Some(addr),
                _ => None,
            })
            .collect();
        from.iter()
            .filter(|v| addrs.contains(&v.addr))
            .cloned()
            .collect()
    };
    (pick(new, true), pick(old, false))
}
