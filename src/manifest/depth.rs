//! How deeply a YAML text nests collections, measured before serde_yaml loads it.
//!
//! serde_yaml parses the whole document into events before it looks at any, and
//! libyaml's scanner spends time proportional to the flow nesting on every token, so a
//! 400 KB file of `[[[[…` takes minutes. Here the same libyaml parser is driven one event
//! at a time and stopped as soon as the nesting passes the limit: the measure is exact
//! (the parser that will read the file decides what nests, so no quoting trick can hide a
//! bracket from it) and its cost stays linear. A syntax error stops the measure; serde_yaml
//! then reports it.

use std::mem::MaybeUninit;

/// Where (1-based line and column) `text` first opens a collection deeper than `limit`.
pub fn too_deep(text: &str, limit: usize) -> Option<(usize, usize)> {
    let mut parser = Parser::new(text)?;
    let mut depth = 0usize;
    loop {
        let (kind, line, col) = parser.next()?;
        match kind {
            unsafe_libyaml::YAML_SEQUENCE_START_EVENT
            | unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                depth += 1;
                if depth > limit {
                    return Some((line + 1, col + 1));
                }
            }
            unsafe_libyaml::YAML_SEQUENCE_END_EVENT | unsafe_libyaml::YAML_MAPPING_END_EVENT => {
                depth = depth.saturating_sub(1)
            }
            unsafe_libyaml::YAML_STREAM_END_EVENT => return None,
            _ => {}
        }
    }
}

/// A libyaml parser over borrowed text. Boxed because libyaml keeps a pointer to the
/// parser itself (its read handler's data) once the input is set: it must never move.
struct Parser<'a> {
    sys: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    _text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Option<Parser<'a>> {
        let mut sys = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        // SAFETY: initialize fills the zeroed struct; on failure nothing was allocated.
        // The input outlives the parser (`_text` borrows it) and is only read.
        unsafe {
            let p = sys.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_initialize(p).fail {
                return None;
            }
            unsafe_libyaml::yaml_parser_set_encoding(p, unsafe_libyaml::YAML_UTF8_ENCODING);
            unsafe_libyaml::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
        }
        Some(Parser { sys, _text: text })
    }

    /// The next event's kind and 0-based start line and column; `None` on a syntax error.
    fn next(&mut self) -> Option<(unsafe_libyaml::yaml_event_type_t, usize, usize)> {
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new`; a parsed event is read and then
        // deleted exactly once. The caller stops at the first failure.
        unsafe {
            let p = self.sys.as_mut_ptr();
            let e = event.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_parse(p, e).fail {
                return None;
            }
            let out = (
                (*e).type_,
                (*e).start_mark.line as usize,
                (*e).start_mark.column as usize,
            );
            unsafe_libyaml::yaml_event_delete(e);
            Some(out)
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new` (a failed initialisation never builds a Parser).
        unsafe { unsafe_libyaml::yaml_parser_delete(self.sys.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_the_parser_nests() {
        assert_eq!(too_deep("tasks: []\n", 2), None);
        assert_eq!(too_deep("tasks: [[]]\n", 2), Some((1, 9)));
        assert_eq!(too_deep("a:\n  - - x\n", 2), Some((2, 5)));
        // Brackets inside quoted, plain and block scalars and comments are text.
        assert_eq!(
            too_deep(
                "a: \"[[[[\"\nb: '{{{{'\nc: x[[[[\nd: |\n  [[[[\n# [[[[\n",
                1
            ),
            None
        );
        // A syntax error is left to serde_yaml.
        assert_eq!(too_deep("a: [\n", 5), None);
        let deep = format!("tasks: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let start = std::time::Instant::now();
        assert_eq!(too_deep(&deep, 64), Some((1, 71)));
        assert!(start.elapsed().as_secs() < 2);
    }
}
