//! The `file` probe: keepalived's FILE_CHECK arithmetic on real files.

use std::time::Duration;

use holdfast_checks::{FileProbe, Probe, ProbeKind, WeightChange};

fn probe(path: &std::path::Path, weight: i64) -> Probe {
    Probe::new(
        ProbeKind::File(FileProbe {
            path: path.to_path_buf(),
            weight,
        }),
        "0.0.0.0:0".parse().unwrap(),
        Duration::from_millis(500),
    )
}

#[tokio::test]
async fn a_number_times_the_weight_adjusts_or_takes_down() {
    let dir = std::env::temp_dir().join(format!("holdfast-filecheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("rs1.weight");

    // Missing: reads as 0.
    let out = probe(&f, 0).run().await;
    assert!(out.success && out.weight.is_none());
    std::fs::write(&f, "3\n").unwrap();
    let out = probe(&f, 0).run().await;
    assert!(!out.success, "weight 0: any number but 0 is down");

    let out = probe(&f, -10).run().await;
    assert!(out.success);
    assert_eq!(out.weight, Some(WeightChange::Add(-30)));
    assert_eq!(WeightChange::Add(-30).apply(100), 70);
    assert_eq!(WeightChange::Add(-30).apply(10), 0, "never below 0");
    // `reverse` is a negative weight: 3 × 10.
    assert_eq!(
        probe(&f, 10).run().await.weight,
        Some(WeightChange::Add(30))
    );

    std::fs::write(&f, "26 trailing words").unwrap();
    let out = probe(&f, -10).run().await;
    assert!(!out.success, "-260 is at or below -254: down");
    std::fs::write(&f, "not a number").unwrap();
    assert_eq!(
        probe(&f, -10).run().await.weight,
        Some(WeightChange::Add(0))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
