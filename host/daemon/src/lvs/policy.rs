//! Health and weight policies of real servers, run on their own thread
//! (a call may take its whole deadline; the director task never waits).

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;

use holdfast_policy::{HealthVerdict, PolicyError, PolicyInstance, ProbeResult, WeightInput};
use tokio::sync::mpsc;
use tracing::warn;

/// Which real server: its virtual server's IPVS identity and its address,
/// which a reload does not change (an answer for a server a reload removed
/// finds nothing).
pub(crate) type RsId = (holdfast_ipvs::ServiceKey, std::net::SocketAddr);

/// A question for the worker.
#[derive(Debug)]
pub(crate) enum Ask {
    /// Install instances (loaded in the background after start-up).
    Install(HashMap<RsId, PolicyInstance>, HashMap<RsId, PolicyInstance>),
    /// Drop the instances of real servers a reload removed.
    Forget(Vec<RsId>),
    /// Judge a probe result.
    Verdict(RsId, Box<ProbeResult>),
    /// Compute a weight.
    Weight(RsId, Box<WeightInput>),
}

/// The worker's answer.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A health verdict, or why there is none.
    Verdict(RsId, Result<HealthVerdict, PolicyError>),
    /// A weight, or why there is none.
    Weight(RsId, Result<u32, PolicyError>),
}

/// The worker's handle.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    tx: std_mpsc::Sender<Ask>,
}

impl Worker {
    /// Starts the thread; instances arrive with [`Ask::Install`].
    pub(crate) fn spawn() -> (Self, mpsc::UnboundedReceiver<Answer>) {
        let mut health: HashMap<RsId, PolicyInstance> = HashMap::new();
        let mut weight: HashMap<RsId, PolicyInstance> = HashMap::new();
        let (tx, rx) = std_mpsc::channel::<Ask>();
        let (answers, answers_rx) = mpsc::unbounded_channel();
        let spawned = std::thread::Builder::new()
            .name("lvs-policy".into())
            .spawn(move || {
                while let Ok(ask) = rx.recv() {
                    let answer = match ask {
                        Ask::Install(h, w) => {
                            health.extend(h);
                            weight.extend(w);
                            continue;
                        }
                        Ask::Forget(ids) => {
                            for id in ids {
                                health.remove(&id);
                                weight.remove(&id);
                            }
                            continue;
                        }
                        Ask::Verdict(id, input) => match health.get_mut(&id) {
                            Some(i) => Answer::Verdict(id, i.verdict(&input)),
                            // Not loaded (yet, or at all): the checks decide.
                            None => Answer::Verdict(
                                id,
                                Err(PolicyError {
                                    kind: holdfast_policy::FailureKind::Load,
                                    policy: input.target.clone(),
                                    message: "no health policy loaded".into(),
                                }),
                            ),
                        },
                        Ask::Weight(id, input) => match weight.get_mut(&id) {
                            Some(i) => Answer::Weight(id, i.weight(&input)),
                            None => continue,
                        },
                    };
                    if answers.send(answer).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "cannot start the LVS policy thread; fallbacks apply");
        }
        (Self { tx }, answers_rx)
    }

    /// Queues a question (dropped if the worker is gone: the fallback applies).
    pub(crate) fn ask(&self, ask: Ask) {
        let _ = self.tx.send(ask);
    }
}
