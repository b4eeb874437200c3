//! What can be wrong with a config file; every kind names the file, and all but a
//! read error the line and the key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the config file: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not valid TOML: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: unknown key `{key}`{}", path.display(), did_you_mean(nearest))]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        /// The valid key closest to it, dotted (`queue.max_active_downloads`).
        nearest: Option<String>,
    },
    #[error("{}:{line}: `{key}` must be {expected}, not {found}", path.display())]
    WrongType {
        path: PathBuf,
        line: usize,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{}:{line}: `{key}` = {value} is out of range: {allowed}", path.display())]
    OutOfRange {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
        allowed: String,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    BadValue {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}:{line}: `{key}` is required in this table", path.display())]
    MissingKey { path: PathBuf, line: usize, key: String },
    /// A `CCBT_*` variable (or a flag) whose value does not read: named, with the
    /// key it sets.
    #[error("{origin} (`{key}`): {problem}")]
    NotFromFile {
        /// `environment variable CCBT_LIMITS_DOWNLOAD`, `flag --listen`.
        origin: String,
        key: String,
        problem: String,
    },
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
            ConfigError::NotFromFile { key, .. }
            | ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::OutOfRange { key, .. }
            | ConfigError::BadValue { key, .. }
            | ConfigError::MissingKey { key, .. } => Some(key),
        }
    }

    /// The 1-based line the error is on, if it is on one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } | ConfigError::NotFromFile { .. } => None,
            ConfigError::Syntax { line, .. }
            | ConfigError::UnknownKey { line, .. }
            | ConfigError::WrongType { line, .. }
            | ConfigError::OutOfRange { line, .. }
            | ConfigError::BadValue { line, .. }
            | ConfigError::MissingKey { line, .. } => Some(*line),
        }
    }
}

impl ConfigError {
    /// What is wrong, without where: the text after `FILE:LINE: `.
    pub fn problem(&self) -> String {
        match self {
            ConfigError::Read { source, .. } => source.to_string(),
            ConfigError::Syntax { message, .. } => format!("not valid TOML: {message}"),
            ConfigError::UnknownKey { key, nearest, .. } => format!("unknown key `{key}`{}", did_you_mean(nearest)),
            ConfigError::WrongType {
                key, expected, found, ..
            } => format!("`{key}` must be {expected}, not {found}"),
            ConfigError::OutOfRange {
                key, value, allowed, ..
            } => format!("`{key}` = {value} is out of range: {allowed}"),
            ConfigError::BadValue { key, message, .. } => format!("`{key}`: {message}"),
            ConfigError::MissingKey { key, .. } => format!("`{key}` is required in this table"),
            ConfigError::NotFromFile { problem, .. } => problem.clone(),
        }
    }
}

fn did_you_mean(nearest: &Option<String>) -> String {
    match nearest {
        Some(key) => format!("; did you mean `{key}`?"),
        None => String::new(),
    }
}
