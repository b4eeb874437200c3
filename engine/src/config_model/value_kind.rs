//! What a key's value may be, and a value in the shape the config file would
//! hold it (so a value from the environment or the API is read by the very same
//! reader as one from the file).

/// The kind of value a key takes; it decides the documented type, the JSON
/// schema and how a value written as text (an environment variable, `btbt config
/// set`) is shaped before the reader checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `true` or `false`.
    Bool,
    /// An integer in `min..=max`.
    Integer { min: i64, max: i64 },
    /// An integer, or "unlimited".
    IntegerOrUnlimited { max: i64 },
    /// Bytes per second: an integer or a string with a unit (`512K`, `10M`);
    /// 0 or "unlimited" = no limit.
    Rate,
    /// A number from 0, or "unlimited".
    Ratio,
    /// A duration: an integer of seconds, or a string such as `30s`, `15m`, `2h`.
    Duration,
    /// A duration, or "unlimited".
    DurationOrUnlimited,
    /// A duration, or "off" (a threshold that can be switched off).
    DurationOrOff,
    /// A size in bytes with a unit (`512M`, `1G`), or "off".
    SizeOrOff,
    /// An integer in `0..=max`, or "off".
    IntegerOrOff { max: i64 },
    /// `HH:MM`, local time.
    TimeOfDay,
    /// A free string.
    Text,
    /// A string that is never shown back (tokens, passwords).
    Secret,
    /// A file system path; a leading `~/` is the home directory.
    Path,
    /// `IP:PORT`.
    SocketAddr,
    /// A list of `IP:PORT`.
    SocketAddrList,
    /// A list of `HOST:PORT`.
    HostPortList,
    /// A list of weekday names (`mon` … `sun`).
    Weekdays,
    /// A list of file system paths (a single path is a list of one).
    PathList,
}

/// A value as the TOML file would hold it.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    List(Vec<String>),
}

impl ValueKind {
    /// The type as the reference documentation names it.
    pub fn type_name(self) -> &'static str {
        match self {
            ValueKind::Bool => "bool",
            ValueKind::Integer { .. } => "integer",
            ValueKind::IntegerOrUnlimited { .. } => "integer or \"unlimited\"",
            ValueKind::Rate => "rate (bytes/s: 65536, \"512K\", \"10M\"; 0 = unlimited)",
            ValueKind::Ratio => "number or \"unlimited\"",
            ValueKind::Duration => "duration (\"30s\", \"15m\", \"2h\", or seconds)",
            ValueKind::DurationOrUnlimited => "duration or \"unlimited\"",
            ValueKind::DurationOrOff => "duration or \"off\"",
            ValueKind::SizeOrOff => "size (bytes: 1048576, \"512M\", \"1G\") or \"off\"",
            ValueKind::IntegerOrOff { .. } => "integer or \"off\"",
            ValueKind::TimeOfDay => "time of day (\"HH:MM\")",
            ValueKind::Text => "string",
            ValueKind::Secret => "string (secret)",
            ValueKind::Path => "path",
            ValueKind::SocketAddr => "address (IP:PORT)",
            ValueKind::SocketAddrList => "list of IP:PORT",
            ValueKind::HostPortList => "list of HOST:PORT",
            ValueKind::Weekdays => "list of days (mon … sun)",
            ValueKind::PathList => "list of paths",
        }
    }

    /// Whether the value is a list (comma-separated in an environment variable).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            ValueKind::SocketAddrList | ValueKind::HostPortList | ValueKind::Weekdays | ValueKind::PathList
        )
    }

    /// Shapes a value written as text the way the file would hold it. Only the
    /// shape is decided here (a number stays a number, a list is split on commas);
    /// ranges and units are checked by the reader, as for the file.
    pub fn shape_text(self, text: &str) -> Result<RawValue, String> {
        let trimmed = text.trim();
        let integer = || trimmed.parse::<i64>().ok().map(RawValue::Integer);
        match self {
            ValueKind::Bool => match trimmed.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(RawValue::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(RawValue::Bool(false)),
                _ => Err(format!("'{text}' is not true or false")),
            },
            ValueKind::Integer { .. } => integer().ok_or_else(|| format!("'{text}' is not an integer")),
            ValueKind::Ratio => Ok(integer()
                .or_else(|| trimmed.parse::<f64>().ok().map(RawValue::Float))
                .unwrap_or_else(|| RawValue::String(trimmed.to_string()))),
            ValueKind::IntegerOrUnlimited { .. }
            | ValueKind::Rate
            | ValueKind::Duration
            | ValueKind::DurationOrUnlimited
            | ValueKind::DurationOrOff
            | ValueKind::SizeOrOff
            | ValueKind::IntegerOrOff { .. } => Ok(integer().unwrap_or_else(|| RawValue::String(trimmed.to_string()))),
            ValueKind::SocketAddrList | ValueKind::HostPortList | ValueKind::Weekdays | ValueKind::PathList => {
                Ok(RawValue::List(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                ))
            }
            ValueKind::TimeOfDay | ValueKind::Path | ValueKind::SocketAddr => Ok(RawValue::String(trimmed.to_string())),
            // Kept as written: leading spaces may matter in a command or password.
            ValueKind::Text | ValueKind::Secret => Ok(RawValue::String(text.to_string())),
        }
    }
}

impl RawValue {
    /// The value as a TOML literal (`true`, `42`, `"10M"`, `["a", "b"]`).
    pub fn to_toml(&self) -> String {
        match self {
            RawValue::Bool(b) => b.to_string(),
            RawValue::Integer(i) => i.to_string(),
            RawValue::Float(f) if f.is_finite() => {
                let s = f.to_string();
                if s.contains('.') || s.contains('e') {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            // TOML spells these `inf`/`nan`; the reader refuses them by range.
            RawValue::Float(f) => {
                if f.is_nan() {
                    "nan".into()
                } else if *f > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            }
            RawValue::String(s) => toml_string(s),
            RawValue::List(items) => {
                let inner: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
                format!("[{}]", inner.join(", "))
            }
        }
    }
}

/// A TOML basic string: JSON's escapes are a subset of TOML's, except that TOML
/// has no `\/` (serde_json never writes it).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_shaped_by_kind() {
        assert_eq!(ValueKind::Bool.shape_text("off"), Ok(RawValue::Bool(false)));
        assert!(ValueKind::Bool.shape_text("maybe").is_err());
        assert_eq!(
            ValueKind::Integer { min: 0, max: 9 }.shape_text(" 12 "),
            Ok(RawValue::Integer(12))
        );
        assert_eq!(
            ValueKind::Integer { min: 0, max: 9 }.shape_text("ten"),
            Err("'ten' is not an integer".into())
        );
        assert_eq!(ValueKind::Rate.shape_text("10M"), Ok(RawValue::String("10M".into())));
        assert_eq!(ValueKind::Rate.shape_text("65536"), Ok(RawValue::Integer(65536)));
        assert_eq!(ValueKind::Ratio.shape_text("1.5"), Ok(RawValue::Float(1.5)));
        assert_eq!(
            ValueKind::HostPortList.shape_text("a:1, b:2,,"),
            Ok(RawValue::List(vec!["a:1".into(), "b:2".into()]))
        );
    }

    #[test]
    fn values_become_toml_literals() {
        assert_eq!(RawValue::Float(2.0).to_toml(), "2.0");
        assert_eq!(RawValue::String("say \"hi\"\n".into()).to_toml(), r#""say \"hi\"\n""#);
        assert_eq!(
            RawValue::List(vec!["mon".into(), "fri".into()]).to_toml(),
            r#"["mon", "fri"]"#
        );
    }
}
