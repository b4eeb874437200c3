//! The qBittorrent API's categories and tags. A category is a label on its torrents
//! plus a save path; a tag is a label. Their list lives in `categories.json` in the
//! state dir (written atomically), beside the session file, whose format it leaves
//! alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::change_log::Category;
use crate::control::ApiError;

pub const CATEGORIES_FILE: &str = "categories.json";
/// Categories and tags kept at most; more are refused.
pub const MAX_CATEGORIES: usize = 10_000;
pub const MAX_TAGS: usize = 10_000;
/// Longest category or tag name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// A larger file is not ours: it is ignored with a warning.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CategoryBook {
    #[serde(default)]
    pub categories: BTreeMap<String, Category>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
}

/// A change to the book.
#[derive(Clone, Debug, PartialEq)]
pub enum CategoryEdit {
    /// A new category (409 if it exists).
    Create(Category),
    /// A new save path for an existing category (409 if it does not exist).
    Edit(Category),
    /// Removes categories (unknown names are ignored) and their label from torrents.
    Remove(Vec<String>),
    /// Adds tags (known ones are ignored).
    CreateTags(Vec<String>),
    /// Removes tags and their label from torrents.
    DeleteTags(Vec<String>),
}

/// Checks a category name as qBittorrent does: not empty, no `\`, no leading or
/// trailing `/`, no `//`, bounded.
pub fn check_category_name(name: &str) -> Result<(), ApiError> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.contains('\\')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.contains("//")
        || name.chars().any(char::is_control);
    if bad {
        return Err(ApiError::bad_request(format!(
            "category: {name:?} is not a valid category name"
        )));
    }
    Ok(())
}

/// Checks a tag name: not empty, no `,` (the list separator), bounded.
pub fn check_tag_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > MAX_NAME_BYTES || name.contains(',') || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!("tags: {name:?} is not a valid tag")));
    }
    Ok(())
}

impl CategoryBook {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(CATEGORIES_FILE)
    }

    /// The saved book, or an empty one (a missing file is normal; a bad one is
    /// reported and ignored: categories are not worth refusing to start for).
    pub fn load(state_dir: &Path) -> CategoryBook {
        let path = Self::path(state_dir);
        let Ok(meta) = std::fs::metadata(&path) else {
            return CategoryBook::default();
        };
        if meta.len() > MAX_FILE_BYTES {
            tracing::warn!(path = %path.display(), "categories file too large; ignored");
            return CategoryBook::default();
        }
        match std::fs::read(&path).map(|bytes| serde_json::from_slice::<CategoryBook>(&bytes)) {
            Ok(Ok(book)) => book,
            Ok(Err(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "categories file unreadable; ignored");
                CategoryBook::default()
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the categories file");
                CategoryBook::default()
            }
        }
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| ApiError::internal(format!("categories: {e}")))?;
        crate::state_dir::write_atomic(&Self::path(state_dir), &bytes)
            .map_err(|e| ApiError::internal(format!("cannot save the categories: {e}")))
    }

    /// Applies an edit; returns the names removed (categories or tags) so the core
    /// can take their labels off torrents. Nothing changes on an error.
    pub fn apply(&mut self, edit: &CategoryEdit) -> Result<Vec<String>, ApiError> {
        match edit {
            CategoryEdit::Create(c) => {
                check_category_name(&c.name)?;
                if self.categories.contains_key(&c.name) {
                    return Err(ApiError::conflict(format!("category {:?} already exists", c.name)));
                }
                if self.categories.len() >= MAX_CATEGORIES {
                    return Err(ApiError::conflict(format!("at most {MAX_CATEGORIES} categories")));
                }
                self.categories.insert(c.name.clone(), c.clone());
                Ok(Vec::new())
            }
            CategoryEdit::Edit(c) => {
                let Some(existing) = self.categories.get_mut(&c.name) else {
                    return Err(ApiError::conflict(format!("category {:?} does not exist", c.name)));
                };
                existing.save_path = c.save_path.clone();
                Ok(Vec::new())
            }
            CategoryEdit::Remove(names) => Ok(names
                .iter()
                .filter(|n| self.categories.remove(n.as_str()).is_some())
                .cloned()
                .collect()),
            CategoryEdit::CreateTags(tags) => {
                for t in tags {
                    check_tag_name(t)?;
                }
                let new = tags.iter().filter(|t| !self.tags.contains(t.as_str())).count();
                if self.tags.len() + new > MAX_TAGS {
                    return Err(ApiError::conflict(format!("at most {MAX_TAGS} tags")));
                }
                self.tags.extend(tags.iter().cloned());
                Ok(Vec::new())
            }
            CategoryEdit::DeleteTags(tags) => {
                Ok(tags.iter().filter(|t| self.tags.remove(t.as_str())).cloned().collect())
            }
        }
    }

    pub fn tag_list(&self) -> Vec<String> {
        self.tags.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(name: &str, path: &str) -> Category {
        Category {
            name: name.into(),
            save_path: path.into(),
        }
    }

    #[test]
    fn categories_are_created_once_edited_when_present_and_removed() {
        let mut book = CategoryBook::default();
        book.apply(&CategoryEdit::Create(cat("tv", "/data/tv"))).unwrap();
        assert_eq!(
            book.apply(&CategoryEdit::Create(cat("tv", "/x"))).unwrap_err().status,
            409
        );
        assert_eq!(
            book.apply(&CategoryEdit::Edit(cat("movies", "/x"))).unwrap_err().status,
            409
        );
        book.apply(&CategoryEdit::Edit(cat("tv", "/srv/tv"))).unwrap();
        assert_eq!(book.categories["tv"].save_path, "/srv/tv");
        let removed = book
            .apply(&CategoryEdit::Remove(vec!["tv".into(), "nope".into()]))
            .unwrap();
        assert_eq!(removed, vec!["tv".to_string()]);
        assert!(book.categories.is_empty());
    }

    #[test]
    fn bad_names_are_refused_naming_the_field() {
        let mut book = CategoryBook::default();
        for bad in ["", "/tv", "tv/", "a//b", "a\\b"] {
            let e = book.apply(&CategoryEdit::Create(cat(bad, ""))).unwrap_err();
            assert_eq!(e.status, 400, "{bad:?}");
            assert!(e.message.starts_with("category:"));
        }
        let e = book.apply(&CategoryEdit::CreateTags(vec!["a,b".into()])).unwrap_err();
        assert!(e.message.starts_with("tags:"));
        assert!(book.tags.is_empty());
    }

    #[test]
    fn the_book_survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut book = CategoryBook::default();
        book.apply(&CategoryEdit::Create(cat("tv", "/data/tv"))).unwrap();
        book.apply(&CategoryEdit::CreateTags(vec!["hd".into(), "x".into()]))
            .unwrap();
        book.save(dir.path()).unwrap();
        assert_eq!(CategoryBook::load(dir.path()), book);
        std::fs::write(CategoryBook::path(dir.path()), b"{not json").unwrap();
        assert_eq!(CategoryBook::load(dir.path()), CategoryBook::default());
    }
}
