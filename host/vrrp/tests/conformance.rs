//! Conformance scenarios as data.
//!
//! Each directory under `tests/conformance/` holds `input.json` (routers,
//! sync groups, scripted events in virtual time) and `expected.txt` (every
//! action each router took, with its time in milliseconds, then each
//! router's final state and counters). The test replays the input and
//! compares. `UPDATE_GOLDEN=1` rewrites `expected.txt`; review the diff.

#[path = "support/sim.rs"]
mod sim;

use std::fs;
use std::path::{Path, PathBuf};

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(name)
}

fn run_case(name: &str) {
    let dir = case_dir(name);
    let input =
        fs::read_to_string(dir.join("input.json")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let scenario: sim::Scenario =
        serde_json::from_str(&input).unwrap_or_else(|e| panic!("{name}/input.json: {e}"));
    assert!(
        !scenario.description.is_empty(),
        "{name}: describe the case"
    );
    let sim = sim::Sim::run(&scenario);
    let expected_path = dir.join("expected.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&expected_path, &sim.trace).unwrap();
        return;
    }
    let expected = fs::read_to_string(&expected_path)
        .unwrap_or_else(|_| panic!("{name}: no expected.txt (UPDATE_GOLDEN=1)"));
    if expected != sim.trace {
        panic!(
            "{name}: actions differ\n--- expected\n{expected}\n--- actual\n{}",
            sim.trace
        );
    }
}

macro_rules! conformance {
    ($($test:ident => $dir:literal,)+) => {
        $(#[test] fn $test() { run_case($dir); })+

        /// Every case directory has a test above, and every test a directory.
        #[test]
        fn every_case_directory_has_a_test() {
            let mut listed: Vec<&str> = vec![$($dir),+];
            listed.sort();
            let mut dirs: Vec<String> = fs::read_dir(case_dir(""))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            dirs.sort();
            assert_eq!(dirs, listed);
        }
    };
}

conformance! {
    startup_backup_then_master_down => "startup-backup-master-down",
    startup_owner_is_master_at_once => "startup-owner",
    fault_address_survives_link_up => "fault-address-survives-link-up",
    reconfig_priority_master => "reconfig-priority-master",
    reconfig_keeps_tracked_priority => "reconfig-keeps-tracked-priority",
    reconfig_priority_below_backup => "reconfig-priority-below-backup",
    reconfig_vip_added_and_removed => "reconfig-vip-added-and-removed",
    reconfig_interval_master => "reconfig-interval-master",
    reconfig_vrid_refused => "reconfig-vrid-refused",
    startup_initial_state_master => "startup-initial-master",
    master_yields_to_higher_priority => "master-yields-to-higher",
    backup_preempts_lower_master => "backup-preempts-lower",
    nopreempt_keeps_backup => "nopreempt",
    preempt_delay_waits => "preempt-delay",
    priority_zero_in_backup_takes_over_after_skew => "priority-zero-backup",
    priority_zero_in_master_answers_at_once => "priority-zero-master",
    equal_priority_higher_address_wins => "equal-priority-higher-address",
    equal_priority_lower_address_ignored => "equal-priority-lower-address",
    v3_backup_learns_master_interval => "v3-interval-learning",
    v2_backup_does_not_learn_intervals => "v2-interval-fixed",
    fault_on_interface_down_and_recovery => "fault-interface-backup",
    fault_releases_mastership => "fault-master-releases",
    fault_needs_every_reason_cleared => "fault-two-reasons",
    owner_returns_to_master_after_fault => "fault-owner-recovers",
    shutdown_master_sends_priority_zero => "shutdown-master",
    shutdown_backup_is_silent => "shutdown-backup",
    priority_change_is_advertised_at_once => "set-priority-master",
    raised_priority_preempts => "set-priority-backup-preempts",
    garp_delay_and_refresh => "garp-refresh",
    dropped_bad_ttl => "drop-bad-ttl",
    dropped_bad_checksum => "drop-bad-checksum",
    dropped_bad_version => "drop-bad-version",
    dropped_version_mismatch => "drop-version-mismatch",
    dropped_bad_type => "drop-bad-type",
    dropped_bad_length => "drop-bad-length",
    dropped_too_short => "drop-too-short",
    dropped_other_vrid => "drop-vrid-mismatch",
    dropped_v2_interval_mismatch => "drop-v2-interval-mismatch",
    dropped_v2_wrong_password => "drop-v2-auth-mismatch",
    dropped_v2_auth_type_mismatch => "drop-v2-auth-type",
    dropped_unknown_unicast_peer => "drop-unknown-peer",
    dropped_own_advert => "drop-own-advert",
    accepted_checksum_without_pseudo_header => "checksum-compat",
    address_list_mismatch_is_counted_not_dropped => "address-list-mismatch",
    sync_group_follows_backup_and_master => "sync-group-follow",
    sync_group_fault_is_group_wide => "sync-group-fault",
    two_routers_elect_the_higher => "two-routers-election",
    two_routers_failover_on_kill => "two-routers-kill",
    two_routers_failover_on_shutdown => "two-routers-shutdown",
    two_routers_preempt_on_return => "two-routers-preempt-return",
    two_routers_nopreempt_on_return => "two-routers-nopreempt-return",
    two_routers_v2_with_password => "two-routers-v2-auth",
    two_routers_ipv6 => "two-routers-ipv6",
    three_routers_centisecond => "three-routers-centisecond",
}
