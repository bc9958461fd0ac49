//! holdfast's reconciler against `ipvsadm -R`, in the same IPVS VM run.
//!
//! `cargo bench -p holdfast-ipvs --bench converge` boots the VM and runs
//! this binary inside it, which alternates the two, `HF_BENCH_REPS` times
//! (default 3), on the same table: 1,000 TCP services × 10 NAT
//! destinations from an empty table; then a 1 % weight change (100
//! destinations in 100 services; holdfast plans it against its cached view
//! of the table, as the director does on a health or weight change); then a
//! full pass over the unchanged table (holdfast: dump + diff, the periodic
//! re-convergence; ipvsadm: `-Ln`). It prints every time and
//! the pairwise ratios (holdfast / ipvsadm: below 1 means holdfast is faster).
//! Absolute times are QEMU software emulation: compare ratios.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use holdfast_ipvs::reconcile::{self, DesiredService};
use holdfast_ipvs::*;
use holdfast_tests::vm;

const SERVICES: u32 = 1000;
const DESTS: u32 = 10;
const EDITS: u32 = 100;

fn vip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

fn rip(k: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 2, (k / 250) as u8, (k % 250 + 1) as u8))
}

fn key(i: u32) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: vip(i),
        port: 80,
    }
}

/// The table, with every EDITS-th destination at `edited` weight.
fn desired(edited: u32) -> Vec<DesiredService> {
    let step = SERVICES * DESTS / EDITS;
    (0..SERVICES)
        .map(|i| DesiredService {
            service: Service::new(key(i), "wrr"),
            dests: (0..DESTS)
                .map(|j| {
                    let k = i * DESTS + j;
                    Dest {
                        weight: if k.is_multiple_of(step) { edited } else { 10 },
                        ..Dest::new(rip(k), 8080)
                    }
                })
                .collect(),
        })
        .collect()
}

fn rules(edited: u32) -> (String, String) {
    let (mut all, mut edits) = (String::new(), String::new());
    let step = SERVICES * DESTS / EDITS;
    for i in 0..SERVICES {
        let _ = writeln!(all, "-A -t {}:80 -s wrr", vip(i));
        for j in 0..DESTS {
            let k = i * DESTS + j;
            let _ = writeln!(all, "-a -t {}:80 -r {}:8080 -m -w 10", vip(i), rip(k));
            if k.is_multiple_of(step) {
                let _ = writeln!(
                    edits,
                    "-e -t {}:80 -r {}:8080 -m -w {edited}",
                    vip(i),
                    rip(k)
                );
            }
        }
    }
    (all, edits)
}

fn ipvsadm(args: &[&str], stdin: Option<&str>) -> Duration {
    let t = Instant::now();
    let mut child = Command::new("ipvsadm")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "ipvsadm {args:?}");
    t.elapsed()
}

fn count_dests(weight: u32) -> usize {
    let out = Command::new("ipvsadm").arg("-Ln").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            f.first() == Some(&"->") && f.get(3) == Some(&weight.to_string().as_str())
        })
        .count()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn in_vm() {
    let reps: usize = std::env::var("HF_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(async { IpvsHandle::connect() }).unwrap();
    let owned: BTreeSet<ServiceKey> = (0..SERVICES).map(key).collect();
    let (all, edits) = rules(20);
    let mut rows: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("converge 1,000 x 10 from empty", vec![], vec![]),
        ("1 % weight change (100 dests)", vec![], vec![]),
        ("full pass, no change (dump + diff / -Ln)", vec![], vec![]),
    ];
    for rep in 0..reps {
        // Alternate which goes first: the host is noisy.
        for ours_first in [rep % 2 == 0, rep % 2 != 0] {
            ipvsadm(&["-C"], None);
            if ours_first {
                let (a, b, c) = rt.block_on(async {
                    let t = Instant::now();
                    let (table, _) = apply::dump(&h, |k| owned.contains(k)).await.unwrap();
                    let ops = reconcile::plan(&desired(10), &table, &owned);
                    assert_eq!(ops.len(), (SERVICES * (DESTS + 1)) as usize);
                    let failed = apply::execute(&h, &ops).await;
                    assert!(failed.is_empty(), "{:?}", &failed[..1]);
                    let a = t.elapsed();
                    // A change (a check or a weight policy) is planned against
                    // the director's cached view, as the daemon does; the
                    // periodic full pass is measured on its own below.
                    let mut cached = table;
                    reconcile::apply(&mut cached, &ops);
                    let t = Instant::now();
                    let ops = reconcile::plan(&desired(20), &cached, &owned);
                    assert_eq!(ops.len(), EDITS as usize);
                    assert!(apply::execute(&h, &ops).await.is_empty());
                    let b = t.elapsed();
                    let t = Instant::now();
                    let (table, _) = apply::dump(&h, |k| owned.contains(k)).await.unwrap();
                    let dumped = t.elapsed();
                    assert!(reconcile::plan(&desired(20), &table, &owned).is_empty());
                    let c = t.elapsed();
                    println!(
                        "rep={rep} holdfast pass: dump {:.0}ms, diff {:.0}ms",
                        ms(dumped),
                        ms(c - dumped)
                    );
                    (a, b, c)
                });
                assert_eq!(count_dests(20), EDITS as usize);
                for (row, d) in rows.iter_mut().zip([a, b, c]) {
                    row.1.push(ms(d));
                }
                println!(
                    "rep={rep} holdfast converge={:.0}ms edit={:.0}ms pass={:.0}ms",
                    ms(a),
                    ms(b),
                    ms(c)
                );
            } else {
                let a = ipvsadm(&["-R"], Some(&all));
                let b = ipvsadm(&["-R"], Some(&edits));
                let c = ipvsadm(&["-Ln"], None);
                assert_eq!(count_dests(20), EDITS as usize);
                for (row, d) in rows.iter_mut().zip([a, b, c]) {
                    row.2.push(ms(d));
                }
                println!(
                    "rep={rep} ipvsadm  restore={:.0}ms edit={:.0}ms -Ln={:.0}ms",
                    ms(a),
                    ms(b),
                    ms(c)
                );
            }
        }
    }
    ipvsadm(&["-C"], None);
    println!(
        "\n| what | holdfast ms (median) | ipvsadm ms (median) | ratio per pair (holdfast/ipvsadm) |"
    );
    println!("|---|---|---|---|");
    for (what, ours, theirs) in &rows {
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ratios: Vec<String> = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| format!("{:.2}", a / b))
            .collect();
        println!(
            "| {what} | {:.0} | {:.0} | {} |",
            median(ours),
            median(theirs),
            ratios.join(", ")
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches: nothing to list.
    }
    if vm::inside() {
        in_vm();
        return;
    }
    if !vm::available() {
        eprintln!("the IPVS VM needs root; skipped");
        return;
    }
    let me = std::env::current_exe().unwrap();
    let name = me.file_name().unwrap().to_string_lossy().to_string();
    let reps = std::env::var("HF_BENCH_REPS").unwrap_or_else(|_| "3".into());
    let run = vm::run_command(
        &format!("{}=1 HF_BENCH_REPS={reps} ./{name} --bench 2>&1", vm::IN_VM),
        &[me.as_path()],
        1800,
    );
    println!("{}", run.output);
    assert_eq!(run.code, Some(0), "the benchmark failed in the VM");
}
