//! Command templates: argv whose words may hold `{name}` placeholders (the agent command,
//! runner prefixes and stop commands, remote dispatchers). Substitution is one pass: a
//! value put in is never looked at again, and a `{…}` nobody knows stays as written.

/// `arg` with each `{name}` that `value` knows replaced by its value.
pub fn expand(arg: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| value(&after[..close]).map(|v| (close, v)))
        {
            Some((close, v)) => {
                out.push_str(&v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why the template `t` (named `what` in messages) is refused: it is empty (`empty` says
/// what to write instead), or one of its words holds a `{name}` not in `known`.
pub fn check(what: &str, t: &[String], known: &[&str], empty: &str) -> Result<(), String> {
    if t.is_empty() || t[0].trim().is_empty() {
        return Err(empty.to_string());
    }
    for arg in t {
        let mut rest = arg.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !known.contains(&name)
            {
                let known: Vec<String> = known.iter().map(|p| format!("{{{p}}}")).collect();
                return Err(format!(
                    "{what}: unknown placeholder {{{name}}}; known: {}",
                    known.join(", ")
                ));
            }
            rest = &after[close + 1..];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Option<String> {
        match name {
            "task" => Some("t1".into()),
            "x" => Some("{task}".into()),
            _ => None,
        }
    }

    #[test]
    fn one_pass_and_unknowns_stay() {
        assert_eq!(expand("{task}:{x}", v), "t1:{task}");
        assert_eq!(expand("{unknown} { {{task}}", v), "{unknown} { {t1}");
    }

    #[test]
    fn empty_and_unknown_placeholders_are_refused() {
        assert_eq!(check("r", &[], &["task"], "empty"), Err("empty".into()));
        let e = check("r", &["a".into(), "{nope}".into()], &["task"], "e").unwrap_err();
        assert_eq!(e, "r: unknown placeholder {nope}; known: {task}");
        assert!(check("r", &["a".into(), "{task}{ }".into()], &["task"], "e").is_ok());
    }
}
