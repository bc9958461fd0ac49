//! `track-process` (keepalived's `vrrp_track_process`): whether enough
//! processes of a name (or a full command line) run. The process table is
//! read from `/proc` every half second on the checks thread, so a process
//! that dies or starts is noticed within a second — and, unlike
//! keepalived's process-events connector, it works the same when holdfast
//! runs inside a network namespace.

use std::time::Duration;

use holdfast_config::TrackProcessCfg;

/// How often the process table is read.
pub(crate) const SCAN_EVERY: Duration = Duration::from_millis(500);

/// The name a tracked process has among the instance's tracked checks
/// (and in a priority policy's input).
pub(crate) fn check_name(pattern: &str) -> String {
    format!("process:{pattern}")
}

/// What a pattern matches: a process name (`comm`, or the base name of
/// its program), or — when it has a `/` or a space — its whole command
/// line, arguments joined by spaces.
fn matches(pattern: &str, comm: &str, cmdline: &[u8]) -> bool {
    let args: Vec<&[u8]> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    if pattern.contains('/') || pattern.contains(' ') {
        let joined = args
            .iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
            .join(" ");
        return joined == pattern;
    }
    // `comm` is cut to 15 bytes by the kernel: compare the program too.
    let program = args
        .first()
        .map(|a| {
            String::from_utf8_lossy(a)
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default();
    comm == pattern || program == pattern
}

/// How many running processes match `pattern`.
pub(crate) fn count(pattern: &str) -> u32 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        // Kernel threads have no command line: never a tracked process.
        if !cmdline.is_empty() && matches(pattern, comm.trim_end(), &cmdline) {
            n += 1;
        }
    }
    n
}

/// Whether `running` processes satisfy the tracked process's quorum.
pub(crate) fn quorate(cfg: &TrackProcessCfg, running: u32) -> bool {
    running >= cfg.quorum && cfg.quorum_max.is_none_or(|max| running <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_command_lines_match_as_keepalived_does() {
        let nginx = b"nginx: master process /usr/sbin/nginx\0";
        assert!(matches("nginx", "nginx", nginx));
        assert!(!matches("nginx", "bash", b"bash\0-c\0nginx\0"));
        let long = b"/usr/sbin/a-very-long-daemon-name\0--flag\0";
        assert!(matches("a-very-long-daemon-name", "a-very-long-dae", long));
        assert!(matches(
            "/usr/sbin/a-very-long-daemon-name --flag",
            "x",
            long
        ));
        assert!(!matches("/usr/sbin/a-very-long-daemon-name", "x", long));
    }

    #[test]
    fn quorum_bounds_the_count() {
        let cfg = |quorum, quorum_max| TrackProcessCfg {
            name: "p".into(),
            weight: 0,
            quorum,
            quorum_max,
        };
        assert!(!quorate(&cfg(1, None), 0));
        assert!(quorate(&cfg(1, None), 3));
        assert!(!quorate(&cfg(2, Some(3)), 1));
        assert!(quorate(&cfg(2, Some(3)), 3));
        assert!(!quorate(&cfg(2, Some(3)), 4));
    }

    #[test]
    fn this_test_process_is_counted() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(count(me.trim_end()) >= 1);
        assert_eq!(count("no-such-process-holdfast"), 0);
    }
}
