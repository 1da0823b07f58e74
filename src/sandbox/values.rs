//! The manifest's `sandbox` and `sandbox_write` values, checked in their own visitors so
//! that an error carries the value's line and column.

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::path::PathBuf;

use super::Sandbox;

pub(crate) struct SandboxName(pub(crate) Sandbox);

impl<'de> Deserialize<'de> for SandboxName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SandboxName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sandbox name (none or bwrap)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SandboxName, E> {
                Sandbox::parse(v).map(SandboxName).ok_or_else(|| {
                    E::custom(format!(
                        "unknown sandbox {v:?}; expected one of {}",
                        super::NAMES.join(", ")
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `sandbox_write`: a path or a list of paths, each absolute (or `~/…`) and not `/`.
pub(crate) struct WriteList(pub(crate) Vec<PathBuf>);

impl<'de> Deserialize<'de> for WriteList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WriteList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an absolute path or a list of absolute paths")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WriteList, E> {
                super::check_write_path(v)
                    .map(|p| WriteList(vec![p]))
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WriteList, A::Error> {
                let mut out = Vec::new();
                while let Some(p) = seq.next_element::<OnePath>()? {
                    out.push(p.0);
                }
                Ok(WriteList(out))
            }
        }
        d.deserialize_any(V)
    }
}

struct OnePath(PathBuf);

impl<'de> Deserialize<'de> for OnePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OnePath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an absolute path")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OnePath, E> {
                super::check_write_path(v).map(OnePath).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}
