//! Reading a parsed TOML document table by table against the list of known keys,
//! so that every error can name the file, the line and the dotted key.

use std::cell::RefCell;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::ConfigError;

/// Every table of the config and the keys it may hold; `""` is the top level.
pub(super) type Schema = &'static [(&'static str, &'static [&'static str])];

/// The config file's name and text, to turn byte offsets into lines; and the keys
/// read from it, for where each effective value came from.
pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    read: RefCell<Vec<(String, usize)>>,
}

impl<'a> Source<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Source<'a> {
        Source {
            path,
            text,
            read: RefCell::new(Vec::new()),
        }
    }

    /// Every key a reader looked at, dotted, with its line, in reading order.
    pub fn keys_read(&self) -> Vec<(String, usize)> {
        self.read.borrow().clone()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or(self.text);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn line(&self, offset: usize) -> usize {
        self.line_column(offset).0
    }

    pub fn syntax_error(&self, error: &toml::de::Error) -> ConfigError {
        let (line, column) = self.line_column(error.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            path: self.path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
        }
    }
}

/// One table of the document, its keys already checked against the schema.
pub(super) struct TableReader<'a, 'i> {
    source: &'a Source<'a>,
    schema: Schema,
    /// Dotted name, `""` for the top level.
    name: &'static str,
    table: &'a DeTable<'i>,
    line: usize,
}

impl<'a, 'i> TableReader<'a, 'i> {
    pub fn root(
        source: &'a Source<'a>,
        schema: Schema,
        document: &'a Spanned<DeTable<'i>>,
    ) -> Result<TableReader<'a, 'i>, ConfigError> {
        TableReader::checked(source, schema, "", document.get_ref(), 1)
    }

    fn checked(
        source: &'a Source<'a>,
        schema: Schema,
        name: &'static str,
        table: &'a DeTable<'i>,
        line: usize,
    ) -> Result<TableReader<'a, 'i>, ConfigError> {
        let reader = TableReader {
            source,
            schema,
            name,
            table,
            line,
        };
        let known = reader.known_keys();
        // Report the first unknown key in the file, not the first in key order.
        let unknown = table
            .iter()
            .filter(|(key, _)| !known.contains(&key.get_ref().as_ref()))
            .min_by_key(|(key, _)| key.span().start);
        if let Some((key, _)) = unknown {
            return Err(ConfigError::UnknownKey {
                path: source.path.to_path_buf(),
                line: source.line(key.span().start),
                key: reader.dotted(key.get_ref()),
                nearest: reader.nearest_key(key.get_ref()),
            });
        }
        Ok(reader)
    }

    fn known_keys(&self) -> &'static [&'static str] {
        self.schema
            .iter()
            .find(|(table, _)| *table == self.name)
            .map_or(&[], |(_, keys)| *keys)
    }

    fn dotted(&self, key: &str) -> String {
        if self.name.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.name)
        }
    }

    /// A key of this table a few edits away, or a table where this key is valid.
    fn nearest_key(&self, key: &str) -> Option<String> {
        let close_enough = (key.chars().count() / 3).max(2);
        let in_this_table = self
            .known_keys()
            .iter()
            .map(|k| (strsim::levenshtein(key, k), *k))
            .filter(|(d, _)| *d <= close_enough)
            .min();
        if let Some((_, k)) = in_this_table {
            return Some(self.dotted(k));
        }
        self.schema.iter().find_map(|(table, keys)| {
            keys.contains(&key).then(|| {
                if table.is_empty() {
                    key.to_string()
                } else {
                    format!("{table}.{key}")
                }
            })
        })
    }

    fn entry(&self, key: &str) -> Option<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>)> {
        self.table.iter().find(|(k, _)| k.get_ref() == key)
    }

    /// The sub-table `key` (`[name.key]`), if present.
    pub fn table(&self, key: &'static str, name: &'static str) -> Result<Option<TableReader<'a, 'i>>, ConfigError> {
        let Some((k, value)) = self.entry(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Table(table) => {
                TableReader::checked(self.source, self.schema, name, table, self.source.line(k.span().start)).map(Some)
            }
            other => Err(ConfigError::WrongType {
                path: self.source.path.to_path_buf(),
                line: self.source.line(k.span().start),
                key: self.dotted(key),
                expected: "a table",
                found: other.type_str(),
            }),
        }
    }

    /// The value of `key`, if present.
    pub fn field(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.entry(key).map(|(k, value)| {
            let field = Field {
                source: self.source,
                key: self.dotted(key),
                line: self.source.line(k.span().start),
                span: value.span(),
                value: value.get_ref(),
            };
            let mut read = self.source.read.borrow_mut();
            if !read.iter().any(|(seen, _)| *seen == field.key) {
                read.push((field.key.clone(), field.line));
            }
            field
        })
    }

    /// The value of `key`, which this table must have.
    pub fn required(&self, key: &str) -> Result<Field<'a, 'i>, ConfigError> {
        self.field(key).ok_or_else(|| ConfigError::MissingKey {
            path: self.source.path.to_path_buf(),
            line: self.line,
            key: self.dotted(key),
        })
    }
}

/// One key's value, with what is needed to report an error about it.
pub(super) struct Field<'a, 'i> {
    source: &'a Source<'a>,
    key: String,
    line: usize,
    span: Range<usize>,
    value: &'a DeValue<'i>,
}

impl Field<'_, '_> {
    pub fn value(&self) -> &DeValue<'_> {
        self.value
    }

    pub fn wrong_type(&self, expected: &'static str) -> ConfigError {
        ConfigError::WrongType {
            path: self.source.path.to_path_buf(),
            line: self.line,
            key: self.key.clone(),
            expected,
            found: self.value.type_str(),
        }
    }

    pub fn bad_value(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::BadValue {
            path: self.source.path.to_path_buf(),
            line: self.line,
            key: self.key.clone(),
            message: message.into(),
        }
    }

    pub fn out_of_range(&self, allowed: impl Into<String>) -> ConfigError {
        let value = self
            .source
            .text
            .get(self.span.clone())
            .unwrap_or("?")
            .trim()
            .to_string();
        ConfigError::OutOfRange {
            path: self.source.path.to_path_buf(),
            line: self.line,
            key: self.key.clone(),
            value,
            allowed: allowed.into(),
        }
    }

    pub fn string(&self) -> Result<&str, ConfigError> {
        self.value.as_str().ok_or_else(|| self.wrong_type("a string"))
    }

    /// A TOML integer, any radix, widened so that no value is lost before the
    /// caller's range check.
    pub fn integer(&self) -> Result<i128, ConfigError> {
        let int = self.value.as_integer().ok_or_else(|| self.wrong_type("an integer"))?;
        i128::from_str_radix(int.as_str(), int.radix()).map_err(|_| self.out_of_range("too large"))
    }

    /// A TOML integer or float.
    pub fn number(&self) -> Result<f64, ConfigError> {
        match self.value {
            DeValue::Float(f) => f.as_str().parse().map_err(|_| self.wrong_type("a number")),
            DeValue::Integer(_) => self.integer().map(|i| i as f64),
            _ => Err(self.wrong_type("a number")),
        }
    }

    /// A TOML boolean.
    pub fn boolean(&self) -> Result<bool, ConfigError> {
        self.value.as_bool().ok_or_else(|| self.wrong_type("true or false"))
    }

    /// An array of strings.
    pub fn strings(&self) -> Result<Vec<&str>, ConfigError> {
        let expected = "an array of strings";
        let array = self.value.as_array().ok_or_else(|| self.wrong_type(expected))?;
        array
            .iter()
            .map(|item| item.get_ref().as_str().ok_or_else(|| self.wrong_type(expected)))
            .collect()
    }
}
