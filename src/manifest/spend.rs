//! The values of the agent-output, budget and retry settings (`output`, `max_cost`,
//! `max_tokens`, `retry_in`), each checked in its own visitor so that an error carries
//! the value's line and column.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

use crate::agent::OutputChoice;
use crate::config::RetryIn;
use crate::engine::budget;

pub(super) struct Cost(pub(super) f64);

impl<'de> Deserialize<'de> for Cost {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl V {
            fn ok<E: de::Error>(v: f64) -> Result<Cost, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(Cost(v))
                } else {
                    Err(E::custom(format!(
                        "invalid max_cost {v}; expected a number of US dollars, 0 or more"
                    )))
                }
            }
        }
        impl Visitor<'_> for V {
            type Value = Cost;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of US dollars such as 0.50")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cost, E> {
                V::ok(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cost, E> {
                V::ok(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cost, E> {
                V::ok(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cost, E> {
                budget::parse_cost(v).map(Cost).ok_or_else(|| {
                    E::custom(format!(
                        "invalid max_cost {v:?}; expected a number of US dollars, 0 or more"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) struct Tokens(pub(super) u64);

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Tokens;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of tokens such as 200000 or 200k")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tokens, E> {
                Ok(Tokens(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tokens, E> {
                Err(E::custom(format!(
                    "invalid max_tokens {v}; expected a whole number of tokens, 0 or more"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tokens, E> {
                Err(E::custom(format!(
                    "invalid max_tokens {v}; expected a whole number of tokens such as 200000 or 200k"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tokens, E> {
                budget::parse_tokens(v).map(Tokens).ok_or_else(|| {
                    E::custom(format!(
                        "invalid max_tokens {v:?}; expected a whole number of tokens such as 200000 or 200k"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) struct Output(pub(super) OutputChoice);

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Output;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an agent output format")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Output, E> {
                OutputChoice::parse(v).map(Output).ok_or_else(|| {
                    E::custom(format!(
                        "unknown output format {v:?}; expected one of {}",
                        crate::adapter::Format::names()
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

pub(super) struct RetryInValue(pub(super) RetryIn);

impl<'de> Deserialize<'de> for RetryInValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RetryInValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`fresh` or `same`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RetryInValue, E> {
                RetryIn::parse(v).map(RetryInValue).ok_or_else(|| {
                    E::custom(format!("invalid retry_in {v:?}; expected fresh or same"))
                })
            }
        }
        d.deserialize_str(V)
    }
}
