//! The reconciler as data: plans are minimal and idempotent, foreign
//! services survive, and membership follows health, inhibit and quorum.

use std::collections::BTreeSet;

use holdfast_ipvs::reconcile::*;
use holdfast_ipvs::*;
use proptest::prelude::*;

fn key(port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port,
    }
}

fn dest(i: u8, weight: u32) -> Dest {
    Dest {
        weight,
        ..Dest::new(format!("10.0.1.{i}").parse().unwrap(), 80)
    }
}

#[test]
fn membership_follows_health_inhibit_and_quorum() {
    let rs = |i, w, up| RealServer {
        dest: dest(i, w),
        up,
    };
    let servers = [rs(1, 3, true), rs(2, 2, false), rs(3, 1, true)];
    let mut q = Quorum::default();
    let plain = MembershipRules::default();
    assert_eq!(members(&servers, &plain, &mut q), [dest(1, 3), dest(3, 1)]);
    let inhibit = MembershipRules {
        inhibit_on_failure: true,
        ..plain.clone()
    };
    assert_eq!(
        members(&servers, &inhibit, &mut q),
        [dest(1, 3), dest(2, 0), dest(3, 1)]
    );
    // Quorum 5 with hysteresis 1: lost below 4, regained at 6.
    let sorry = dest(9, 1);
    let rules = MembershipRules {
        quorum: 5,
        hysteresis: 1,
        sorry: Some(sorry.clone()),
        ..plain
    };
    let mut q = Quorum::default();
    assert_eq!(members(&servers, &rules, &mut q).len(), 2, "live 4: kept");
    let fewer = [rs(1, 3, true), rs(2, 2, false), rs(3, 1, false)];
    assert_eq!(
        members(&fewer, &rules, &mut q),
        std::slice::from_ref(&sorry),
        "live 3: lost"
    );
    let five = [rs(1, 3, true), rs(2, 2, true), rs(3, 1, false)];
    assert_eq!(
        members(&five, &rules, &mut q),
        [sorry],
        "live 5: still lost (hysteresis)"
    );
    let all = [rs(1, 3, true), rs(2, 2, true), rs(3, 1, true)];
    assert_eq!(members(&all, &rules, &mut q).len(), 3, "live 6: regained");
    assert!(q.up);
}

/// `(port, scheduler, [(dest id, weight)])` per service.
type Spec = Vec<(u16, String, Vec<(u8, u32)>)>;

fn table_strategy() -> impl Strategy<Value = Spec> {
    prop::collection::vec(
        (
            1u16..6,
            prop::sample::select(vec!["rr".to_string(), "wrr".into(), "lc".into()]),
            prop::collection::vec((1u8..8, 0u32..4), 0..5),
        ),
        0..5,
    )
}

fn build(spec: &Spec) -> Vec<DesiredService> {
    let mut seen = BTreeSet::new();
    spec.iter()
        .filter(|(p, _, _)| seen.insert(*p))
        .map(|(p, sched, ds)| {
            let mut ids = BTreeSet::new();
            DesiredService {
                service: Service::new(key(*p), sched),
                dests: ds
                    .iter()
                    .filter(|(i, _)| ids.insert(*i))
                    .map(|(i, w)| dest(*i, *w))
                    .collect(),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// From any table to any desired state: applying the plan converges,
    /// the next plan is empty, and foreign services are untouched.
    #[test]
    fn plans_converge_and_are_idempotent(old in table_strategy(), new in table_strategy(), foreign in any::<bool>()) {
        let before = build(&old);
        let after = build(&new);
        let mut table = Table::default();
        let first = plan(&before, &table, &BTreeSet::new());
        apply(&mut table, &first);
        let alien = ServiceKey::Fwmark { mark: 99, ipv6: false };
        if foreign {
            apply(&mut table, &[Operation::AddService(Service::new(alien, "rr"))]);
        }
        let owned: BTreeSet<ServiceKey> = before.iter().map(|d| d.service.key).collect();
        let ops = plan(&after, &table, &owned);
        apply(&mut table, &ops);
        prop_assert!(plan(&after, &table, &owned).is_empty());
        prop_assert_eq!(table.services.contains_key(&alien), foreign);
        for d in &after {
            let (svc, dests) = &table.services[&d.service.key];
            prop_assert_eq!(svc, &d.service);
            prop_assert_eq!(dests.len(), d.dests.len());
        }
        // Minimal: an unchanged desired state costs nothing, and no
        // operation touches a destination that already matches.
        for op in &ops {
            if let Operation::EditDest(k, x) = op {
                let was = before.iter().find(|d| d.service.key == *k).and_then(|d| d.dests.iter().find(|y| y.addr == x.addr));
                prop_assert_ne!(was, Some(x));
            }
        }
    }
}
