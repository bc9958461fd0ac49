//! Many virtual routers on one host: the owner of every [`Instance`], by
//! stable [`InstanceId`], as quinn-proto's `Endpoint` owns connections by
//! handle.
//!
//! The [`Router`] demultiplexes received adverts to their instance (by
//! interface, address family, VRID and, where several instances share
//! those, the unicast peer set), runs sync groups (a member's state change
//! is fanned out to the others before the change is returned), and yields
//! `(InstanceId, Action)` until nothing is left. Still sans-IO: time is a
//! parameter and nothing here touches a socket.
//!
//! An id is never reused, so an answer that arrives for a removed instance
//! finds nothing rather than a stranger.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Instant;

use crate::action::Action;
use crate::error::DecodeError;
use crate::events::Received;
use crate::fsm::State;
use crate::instance::Instance;
use crate::sync::{GroupCommand, SyncGroup};

/// A stable handle to an instance of a [`Router`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(u32);

impl InstanceId {
    /// The id's number, for logs and keys.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A stable handle to a sync group of a [`Router`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(u32);

/// Where an instance listens: adverts for it arrive with this key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    ifindex: u32,
    ipv6: bool,
    vrid: u8,
}

/// Why a received advert reached no instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Too short to carry a VRID.
    #[error("too short to carry a VRID")]
    Truncated,
    /// No instance runs this VRID on this interface and family.
    #[error("no instance runs VRID {vrid} on interface {ifindex}")]
    NoInstance {
        /// Interface index.
        ifindex: u32,
        /// VRID.
        vrid: u8,
    },
    /// Instances share the VRID here, and none of them peers with the sender.
    #[error("VRID {vrid} on interface {ifindex}: no instance peers with {src}")]
    NoPeer {
        /// Interface index.
        ifindex: u32,
        /// VRID.
        vrid: u8,
        /// Sender.
        src: IpAddr,
    },
    /// The instance refused it (counted in its statistics).
    #[error(transparent)]
    Refused(#[from] DecodeError),
}

#[derive(Debug)]
struct Entry {
    instance: Instance,
    key: Key,
}

/// Every instance of the host, by stable id, and their sync groups.
#[derive(Debug, Default)]
pub struct Router {
    entries: BTreeMap<InstanceId, Entry>,
    by_key: HashMap<Key, Vec<InstanceId>>,
    groups: BTreeMap<GroupId, SyncGroup>,
    next_id: u32,
    next_group: u32,
    /// Where the last `poll_action` found an action: drained first next time.
    cursor: Option<InstanceId>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an instance listening on interface `ifindex`; its id.
    pub fn insert(&mut self, ifindex: u32, instance: Instance) -> InstanceId {
        let id = InstanceId(self.next_id);
        self.next_id += 1;
        let key = Key {
            ifindex,
            ipv6: instance.primary.is_ipv6(),
            vrid: instance.config().vrid,
        };
        self.by_key.entry(key).or_default().push(id);
        self.entries.insert(id, Entry { instance, key });
        id
    }

    /// Removes an instance (and its membership in any group).
    pub fn remove(&mut self, id: InstanceId) -> Option<Instance> {
        let entry = self.entries.remove(&id)?;
        if let Some(ids) = self.by_key.get_mut(&entry.key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_key.remove(&entry.key);
            }
        }
        for group in self.groups.values_mut() {
            group.forget(id);
        }
        if self.cursor == Some(id) {
            self.cursor = None;
        }
        Some(entry.instance)
    }

    /// An instance.
    pub fn get(&self, id: InstanceId) -> Option<&Instance> {
        self.entries.get(&id).map(|e| &e.instance)
    }

    /// An instance, to give it input (its actions come out of
    /// [`Router::poll_action`], with its group's fan-out).
    pub fn get_mut(&mut self, id: InstanceId) -> Option<&mut Instance> {
        self.entries.get_mut(&id).map(|e| &mut e.instance)
    }

    /// Puts a new instance in `id`'s place (a restart), keeping its id and
    /// its groups; the old one is returned.
    pub fn replace(&mut self, id: InstanceId, instance: Instance) -> Option<Instance> {
        let entry = self.entries.get_mut(&id)?;
        let key = Key {
            ifindex: entry.key.ifindex,
            ipv6: instance.primary.is_ipv6(),
            vrid: instance.config().vrid,
        };
        let old_key = std::mem::replace(&mut entry.key, key);
        let old = std::mem::replace(&mut entry.instance, instance);
        if old_key != key {
            if let Some(ids) = self.by_key.get_mut(&old_key) {
                ids.retain(|i| *i != id);
            }
            self.by_key.retain(|_, ids| !ids.is_empty());
            self.by_key.entry(key).or_default().push(id);
        }
        Some(old)
    }

    /// Every instance's id, in order.
    pub fn ids(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.entries.keys().copied()
    }

    /// How many instances it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes a sync group of these instances.
    pub fn add_group(&mut self, members: Vec<InstanceId>) -> GroupId {
        let id = GroupId(self.next_group);
        self.next_group += 1;
        self.groups.insert(id, SyncGroup::new(members));
        id
    }

    /// Changes a group's members in place (a reload). A member that joins
    /// a group with a master follows it into Master (its addresses are
    /// added and announced by its own transition); the group's fault is
    /// then worked out again for every member, and for those that left.
    pub fn set_group_members(&mut self, now: Instant, group: GroupId, members: Vec<InstanceId>) {
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        let old = std::mem::replace(g, SyncGroup::new(members.clone()));
        let master = old.members().iter().any(|m| {
            members.contains(m) && self.get(*m).is_some_and(|i| i.state() == State::Master)
        });
        for &m in members.iter().filter(|m| !old.members().contains(m)) {
            if master && let Some(inst) = self.get_mut(m) {
                inst.apply_group(now, GroupCommand::Follow(State::Master));
            }
        }
        for m in members.iter().chain(old.members()) {
            self.refresh_group_fault(now, *m);
        }
    }

    /// Removes a group; its members stay, released from its fault.
    pub fn remove_group(&mut self, now: Instant, group: GroupId) {
        if let Some(g) = self.groups.remove(&group) {
            for &m in g.members() {
                self.refresh_group_fault(now, m);
            }
        }
    }

    /// Sets the group-imposed fault of `id` exactly when a group it is in
    /// has another member with a fault of its own.
    fn refresh_group_fault(&mut self, now: Instant, id: InstanceId) {
        let faulty = self.groups.values().any(|g| {
            g.members().contains(&id)
                && g.members()
                    .iter()
                    .any(|&o| o != id && self.get(o).is_some_and(|i| i.has_own_fault()))
        });
        if let Some(inst) = self.get_mut(id) {
            inst.apply_group(now, GroupCommand::Fault(faulty));
        }
    }

    /// A group's members.
    pub fn group_members(&self, group: GroupId) -> &[InstanceId] {
        self.groups.get(&group).map_or(&[], |g| g.members())
    }

    /// The groups `id` belongs to.
    pub fn groups_of(&self, id: InstanceId) -> impl Iterator<Item = GroupId> + '_ {
        self.groups
            .iter()
            .filter(move |(_, g)| g.members().contains(&id))
            .map(|(gid, _)| *gid)
    }

    /// The instance an advert from `src` on `ifindex` is for.
    pub fn route(
        &self,
        ifindex: u32,
        src: IpAddr,
        payload: &[u8],
    ) -> Result<InstanceId, RouteError> {
        // The VRID is the second byte of every VRRP version's header.
        let vrid = *payload.get(1).ok_or(RouteError::Truncated)?;
        let key = Key {
            ifindex,
            ipv6: src.is_ipv6(),
            vrid,
        };
        let ids = self
            .by_key
            .get(&key)
            .ok_or(RouteError::NoInstance { ifindex, vrid })?;
        if let [only] = ids.as_slice() {
            return Ok(*only);
        }
        // Several instances share the VRID here, told apart by their peers:
        // the one that peers with the sender, else the multicast one.
        let peers = |id: &InstanceId| &self.entries[id].instance.config().unicast_peers;
        ids.iter()
            .find(|id| peers(id).contains(&src))
            .or_else(|| ids.iter().find(|id| peers(id).is_empty()))
            .copied()
            .ok_or(RouteError::NoPeer { ifindex, vrid, src })
    }

    /// Hands a received advert to its instance.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        ifindex: u32,
        rx: Received<'_>,
    ) -> Result<InstanceId, RouteError> {
        let id = self.route(ifindex, rx.src, rx.payload)?;
        if let Some(e) = self.entries.get_mut(&id) {
            e.instance.handle_packet(now, rx)?;
        }
        Ok(id)
    }

    /// The nearest deadline of any instance.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| e.instance.poll_timeout())
            .min()
    }

    /// Runs every instance whose deadline has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        for e in self.entries.values_mut() {
            if e.instance.poll_timeout().is_some_and(|t| t <= now) {
                e.instance.handle_timeout(now);
            }
        }
    }

    /// The next action of any instance. A state change has been fanned out
    /// to the instance's sync groups before it is returned (the members'
    /// own changes follow). Call until `None`.
    pub fn poll_action(&mut self, now: Instant) -> Option<(InstanceId, Action)> {
        let (id, action) = self.next_action()?;
        if let Action::StateChanged { from, to, .. } = action {
            self.fan_out(now, id, from, to);
        }
        Some((id, action))
    }

    fn next_action(&mut self) -> Option<(InstanceId, Action)> {
        // Round robin: the instance that last had an action is drained
        // first, then the ones after it, then from the start. No
        // allocation: this runs for every action on the VRRP thread.
        let start = self.cursor.unwrap_or(InstanceId(0));
        let found = first_action(self.entries.range_mut(start..))
            .or_else(|| first_action(self.entries.range_mut(..start)));
        self.cursor = found.as_ref().map(|(id, _)| *id);
        found
    }

    fn fan_out(&mut self, now: Instant, who: InstanceId, from: State, to: State) {
        let entries = &self.entries;
        let commands: Vec<_> = self
            .groups
            .values()
            .flat_map(|g| {
                g.member_changed(who, from, to, |m| {
                    entries.get(&m).is_some_and(|e| e.instance.has_own_fault())
                })
            })
            .collect();
        for (m, cmd) in commands {
            if let Some(e) = self.entries.get_mut(&m) {
                e.instance.apply_group(now, cmd);
            }
        }
    }
}

/// The first instance among `entries` with an action, and the action.
fn first_action<'a>(
    entries: impl Iterator<Item = (&'a InstanceId, &'a mut Entry)>,
) -> Option<(InstanceId, Action)> {
    entries
        .into_iter()
        .find_map(|(id, e)| e.instance.poll_action().map(|a| (*id, a)))
}
