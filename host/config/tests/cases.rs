//! Fixture tests: every `cases/valid/*.kdl` and every example parses; every
//! `cases/invalid/*.kdl` fails with exactly the diagnostic stored next to it
//! in `*.golden`.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the golden files from the current output,
//! then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

fn kdl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    files
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

#[test]
fn valid_fixtures_parse() {
    let files = kdl_files(&cases_dir().join("valid"));
    assert!(files.len() >= 5, "expected valid fixtures");
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        if let Err(e) = holdfast_config::parse_str(&path.display().to_string(), &text) {
            panic!("{} should be valid:\n{}", path.display(), e.render(false));
        }
    }
}

#[test]
fn examples_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let files = kdl_files(&dir);
    assert!(!files.is_empty(), "no examples found in {}", dir.display());
    for path in files {
        if let Err(e) = holdfast_config::load(&path) {
            panic!(
                "example {} should be valid:\n{}",
                path.display(),
                e.render(false)
            );
        }
    }
}

#[test]
fn invalid_fixtures_match_golden_diagnostics() {
    let dir = cases_dir().join("invalid");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let files = kdl_files(&dir);
    assert!(
        files.len() >= 25,
        "the issue asks for at least 25 invalid cases"
    );
    let mut mismatches = Vec::new();
    for path in files {
        let name = format!("invalid/{}", path.file_name().unwrap().to_string_lossy());
        let text = fs::read_to_string(&path).unwrap();
        let Err(err) = holdfast_config::parse_str(&name, &text) else {
            mismatches.push(format!("{name}: parsed without error"));
            continue;
        };
        let rendered = err.render(false);
        let golden = path.with_extension("golden");
        if update {
            fs::write(&golden, &rendered).unwrap();
            continue;
        }
        match fs::read_to_string(&golden) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => mismatches.push(format!(
                "{name}: diagnostic differs\n--- expected\n{expected}\n--- actual\n{rendered}"
            )),
            Err(_) => mismatches.push(format!("{name}: no golden file (run with UPDATE_GOLDEN=1)")),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let path = cases_dir().join("invalid/many-errors-at-once.kdl");
    let err = holdfast_config::load(&path).unwrap_err();
    let kinds: Vec<_> = err.problems.iter().map(|p| p.kind).collect();
    use holdfast_config::ProblemKind::*;
    assert_eq!(
        kinds,
        [UnknownNode, Value, Value, Value, Reference, Value, Value],
        "{}",
        err.render(false)
    );
}
