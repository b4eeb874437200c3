//! The configuration model: every key a user may set, as data.
//!
//! One registry ([`keys::SECTIONS`]) names each key once: its dotted path, the
//! kind of value it takes, its default, its environment variable, whether a
//! running daemon applies a change live or needs a restart, and a line of doc.
//! Everything else is derived from it: the env rule ([`env_var_name`]), the
//! nearest key for a typo ([`nearest_key`]), the JSON schema ([`json_schema`]),
//! `docs/config.md` ([`markdown_reference`]), and where a value came from
//! ([`ValueSource`], [`Provenance`]).
//!
//! No I/O here: reading files and the environment is the daemon's job; this
//! module turns the text it was given into values and says what is wrong.

mod env_rule;
mod json_schema;
pub mod keys;
mod markdown;
mod provenance;
mod registry;
mod units;
mod value_kind;

pub use env_rule::{env_near_miss, env_value, env_var_name, EnvValueError, ENV_PREFIX};
pub use json_schema::json_schema;
pub use markdown::markdown_reference;
pub use provenance::{Provenance, ValueSource};
pub use registry::{all_keys, find_key, nearest_key, table_names, KeySpec, Reload};
pub use units::{format_duration, format_rate, parse_duration, parse_rate};
pub use value_kind::{RawValue, ValueKind};
