//! Repository text made safe for a terminal: control characters and bidirectional
//! overrides shown as visible escapes.

use std::borrow::Cow;

/// Text from a repository (manifest commands, prompts, paths, YAML keys) made safe to show
/// on a terminal: control characters and bidirectional overrides would let it rewrite
/// what the reader sees (`touch /tmp/pwn #\r\e[2K` shows as an empty line), so they are
/// shown as visible escapes (`\r`, `\e`, `\x07`, `\u{202e}`), newlines as `\n`. Use this
/// wherever a user is asked to judge such text; hashes stay over the raw text.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// [`escape_control`] for multi-line messages: newlines stay line breaks.
pub fn escape_control_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        // Marks that also reorder text, and separators some terminals break lines at.
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}')
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let hidden = |c: char| needs_escape(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !hidden(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x1b' => out.push_str("\\e"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert!(matches!(escape_control("cargo test"), Cow::Borrowed(_)));
        assert_eq!(
            escape_control("touch /tmp/pwn #\r\x1b[2Kcargo test"),
            "touch /tmp/pwn #\\r\\e[2Kcargo test"
        );
        assert_eq!(escape_control("a\x07b\x7fc\td"), "a\\x07b\\x7fc\\td");
        assert_eq!(escape_control("x\u{9b}y\u{85}"), "x\\u{9b}y\\u{85}");
        assert_eq!(
            escape_control("rm -rf / #\u{202e}\u{2066}ok\u{2069}"),
            "rm -rf / #\\u{202e}\\u{2066}ok\\u{2069}"
        );
        assert_eq!(escape_control("a\nb"), "a\\nb");
        assert_eq!(escape_control_lines("a\nb\rc"), "a\nb\\rc");
        // Ordinary non-ASCII text is left alone.
        assert_eq!(escape_control("café → ✓"), "café → ✓");
    }
}
