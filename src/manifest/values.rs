//! The manifest's scalar and small-collection values, each checked in its own visitor so
//! that an error carries the value's line and column.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub(super) struct Jobs(pub(super) usize);

impl<'de> Deserialize<'de> for Jobs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Jobs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of parallel tasks from 1 to 1024")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Jobs, E> {
                match usize::try_from(v) {
                    Ok(j) if (1..=1024).contains(&j) => Ok(Jobs(j)),
                    _ => Err(E::custom("jobs must be between 1 and 1024")),
                }
            }
        }
        d.deserialize_u64(V)
    }
}

pub(super) struct PortRange(pub(super) String);

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port range such as 20000-29999")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRange, E> {
                match crate::config::parse_port_range(v) {
                    Some(_) => Ok(PortRange(v.to_string())),
                    None => Err(E::custom(format!(
                        "invalid value {v:?}; expected a range such as 20000-29999 \
                         (two ports from 1 to 65535, the first not above the second)"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

pub(super) struct AgentName(pub(super) String);

impl<'de> Deserialize<'de> for AgentName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AgentName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an agent preset name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AgentName, E> {
                if !crate::agent::is_preset(v) {
                    return Err(E::custom(format!(
                        "unknown agent {v:?}, expected one of {}; or give a `command`",
                        crate::agent::PRESET_NAMES.join(", ")
                    )));
                }
                Ok(AgentName(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// `env`: a mapping of variable names to scalars; a bad name is reported at the name.
pub(super) struct EnvMap(pub(super) BTreeMap<String, String>);

impl<'de> Deserialize<'de> for EnvMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of environment variables")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = map.next_key::<EnvName>()? {
                    let v = map.next_value::<Scalar>()?;
                    out.insert(k.0, v.0);
                }
                Ok(EnvMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct EnvName(String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an environment variable name")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<EnvName, E> {
                if k.is_empty() || k.contains('=') || k.contains('\0') {
                    return Err(E::custom(format!(
                        "invalid environment variable name {k:?}"
                    )));
                }
                Ok(EnvName(k.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string or a list of strings (setup, copy).
pub(super) struct StrList(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StrList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// An agent command: a string split like a shell (no shell runs it), or a list.
pub(super) struct CommandValue(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for CommandValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CommandValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string or a list of arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandValue, E> {
                split_command(v).map(CommandValue).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandValue, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                if out.is_empty() || out[0].is_empty() {
                    return Err(de::Error::custom("command must not be empty"));
                }
                Ok(CommandValue(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Split a command string like a POSIX shell would split words (quotes, backslashes);
/// nothing else of a shell applies.
pub fn split_command(text: &str) -> Result<Vec<String>, String> {
    let words =
        shell_words::split(text).map_err(|e| format!("cannot split command {text:?}: {e}"))?;
    if words.is_empty() || words[0].is_empty() {
        return Err("command must not be empty".into());
    }
    Ok(words)
}

pub(super) struct DurationValue(pub(super) Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarWith(|s| {
            crate::time::parse_duration(&s)
                .map(DurationValue)
                .map_err(|e| format!("invalid duration {s:?} ({e}); expected e.g. 45s, 30m, 2h"))
        }))
    }
}

pub(super) struct NonEmpty(pub(super) String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-empty string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<NonEmpty, E> {
                if s.trim().is_empty() {
                    return Err(E::custom("expected a non-empty string"));
                }
                Ok(NonEmpty(s.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A YAML scalar taken as text (environment values: `PORT: 3000` is fine).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarWith(|s| Ok(Scalar(s))))
    }
}

/// Visits a scalar of any type as text and hands it to a check, so that the check's
/// error carries the value's line and column.
struct ScalarWith<T>(fn(String) -> Result<T, String>);

impl<T> Visitor<'_> for ScalarWith<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        if v.contains('\0') {
            return Err(E::custom("value contains a NUL byte"));
        }
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
}
