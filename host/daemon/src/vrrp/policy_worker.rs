//! Priority policies, run on their own thread.
//!
//! A policy call is bounded by its deadline (20 ms by default), which is two
//! adverts at 0.01 s: it must never run on the VRRP task. The worker thread
//! owns every policy instance; the VRRP task sends it requests and receives
//! results in its `select!` loop, applying the static-tracking fallback when
//! a call fails. Hot swap replaces an instance between two calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use holdfast_policy::{FailureKind, PolicyError, PolicyInstance, PriorityInput, PriorityOutput};
use holdfast_vrrp::InstanceId;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// A request to the worker.
#[derive(Debug)]
pub(crate) enum PolicyRequest {
    /// Compute the priority of instance `slot`.
    Priority {
        slot: InstanceId,
        input: PriorityInput,
    },
    /// Drop the instances of slots a reload removed or took off a policy.
    Forget(Vec<InstanceId>),
    /// Replace the instance of `slot` (already initialised and self-tested).
    Swap {
        slot: InstanceId,
        instance: Box<PolicyInstance>,
    },
}

/// A result from the worker.
#[derive(Debug)]
pub(crate) struct PolicyAnswer {
    pub(crate) slot: InstanceId,
    pub(crate) result: Result<PriorityOutput, PolicyError>,
}

/// Handle of the worker thread.
#[derive(Debug, Clone)]
pub(crate) struct PolicyWorker {
    tx: std_mpsc::Sender<PolicyRequest>,
}

impl PolicyWorker {
    /// Starts the worker with the initial instances (by slot).
    pub(crate) fn spawn(
        instances: HashMap<InstanceId, PolicyInstance>,
    ) -> (Self, mpsc::UnboundedReceiver<PolicyAnswer>) {
        let (tx, rx) = std_mpsc::channel::<PolicyRequest>();
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        let mut instances = instances;
        let spawned = std::thread::Builder::new()
            .name("policy".into())
            .spawn(move || {
                while let Ok(req) = rx.recv() {
                    match req {
                        PolicyRequest::Priority { slot, input } => {
                            // A slot whose policy failed to load answers with the
                            // load failure, so its fallback applies until a fixed
                            // module is swapped in.
                            let result = match instances.get_mut(&slot) {
                                Some(instance) => instance.priority(&input),
                                None => Err(PolicyError {
                                    kind: FailureKind::Load,
                                    policy: input.instance.clone(),
                                    message: "no module loaded".into(),
                                }),
                            };
                            if answers_tx.send(PolicyAnswer { slot, result }).is_err() {
                                return;
                            }
                        }
                        PolicyRequest::Forget(slots) => {
                            for slot in slots {
                                instances.remove(&slot);
                            }
                        }
                        PolicyRequest::Swap { slot, instance } => {
                            let old = instances.insert(slot, *instance);
                            let new = &instances[&slot];
                            info!(
                                policy = %new.policy().name(),
                                old_hash = %old.as_ref().map_or("-", |o| o.policy().hash()),
                                new_hash = %new.policy().hash(),
                                "policy swapped"
                            );
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "cannot start the policy thread; static tracking applies");
        }
        (Self { tx }, answers_rx)
    }

    /// Queues a request; dropped if the worker is gone (the fallback applies).
    pub(crate) fn send(&self, req: PolicyRequest) {
        let _ = self.tx.send(req);
    }
}

/// The VRRP instances' states, published by the VRRP task and read by
/// policies through `state.instance-state`.
pub(crate) type StateBoard = Arc<std::sync::RwLock<HashMap<String, holdfast_policy::VrrpState>>>;

/// The read-only query handed to policy instances.
pub(crate) fn state_query(board: &StateBoard) -> holdfast_policy::StateQuery {
    let board = board.clone();
    Arc::new(move |name: &str| {
        board
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    })
}

/// A self-test call with synthetic input: a new module must answer before it
/// replaces the running one.
pub(crate) fn self_test(instance: &mut PolicyInstance) -> Result<(), PolicyError> {
    let input = PriorityInput {
        instance: "self-test".into(),
        base_priority: 100,
        current_priority: 100,
        state: holdfast_policy::VrrpState::Backup,
        interfaces: vec![],
        files: vec![],
        checks: vec![],
        master_priority: None,
    };
    instance.priority(&input).map(|_| ())
}
