//! Text that comes from a module (log messages, init errors, fault reasons,
//! trap messages with their backtraces, which name the module's own
//! functions) is untrusted: written as it is, a line feed would let a
//! policy start a log line that looks exactly like one of the daemon's, and
//! an ESC would reach the operator's terminal. Every such string passes
//! through [`module_text`] before it leaves this crate.

/// The longest log message a module may write, in bytes, before `…`.
pub const LOG_TEXT_MAX: usize = 512;
/// The longest error, fault reason or verdict reason kept, in bytes.
pub const ERROR_TEXT_MAX: usize = 1024;

/// Whether `c` must not reach a log line as it is: every C0 and C1
/// control (CR, LF, NEL, ESC, ...), DEL, the Unicode line and paragraph
/// separators, and the bidirectional overrides that reorder what a
/// terminal shows.
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every control character made a visible escape (`\n`, `\r`,
/// `\t`, `\u{1b}`, ...), backslashes doubled so an escape cannot be forged
/// either, and cut to at most `max` bytes (plus `…`).
pub fn module_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 8);
    for c in s.chars() {
        let start = out.len();
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
        if out.len() > max {
            out.truncate(start);
            out.push('…');
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(
            module_text("a\nb\rc\u{1b}[2J\u{85}d\\n", 100),
            "a\\nb\\rc\\u{1b}[2J\\u{85}d\\\\n"
        );
        assert_eq!(
            module_text("x\u{2028}y\u{202e}", 100),
            "x\\u{2028}y\\u{202e}"
        );
        assert_eq!(
            module_text("plain text, ünïcode", 100),
            "plain text, ünïcode"
        );
    }

    #[test]
    fn long_text_is_cut() {
        let s = "é".repeat(1000);
        let out = module_text(&s, 11);
        assert_eq!(out, format!("{}…", "é".repeat(5)));
        let out = module_text(&"\n".repeat(100), 10);
        assert_eq!(out, format!("{}…", "\\n".repeat(5)));
    }

    proptest! {
        #[test]
        fn no_control_survives(s in any::<String>(), max in 1usize..600) {
            let out = module_text(&s, max);
            prop_assert!(!out.chars().any(must_escape), "{out:?}");
            // `…` is 3 bytes.
            prop_assert!(out.len() <= max + 3);
        }
    }
}
