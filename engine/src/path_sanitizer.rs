//! Turns file path components from a torrent into a safe relative path.
//!
//! A torrent names its files, so a hostile one could name `../../.bashrc` or
//! `/etc/passwd`. Anything that could leave the download directory is refused outright
//! (renaming it would hide the attack); merely awkward names are repaired so the files
//! can still be written: invalid UTF-8, control characters, over-long names.

use std::path::PathBuf;

/// Longest file name most Linux file systems accept, in bytes.
pub const MAX_COMPONENT_LEN: usize = 255;

/// Longest extension kept when shortening a name; anything longer is not a real extension.
const MAX_EXTENSION_LEN: usize = 32;

/// Why a torrent path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path has no components at all.
    #[error("empty file path in torrent")]
    Empty,
    /// A component could escape the download directory or is not a file name.
    #[error("unsafe file path in torrent: {path} ({reason})")]
    Unsafe {
        /// The offending path, components joined with '/', lossily decoded.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// Sanitizes the components of one torrent path into a relative path made only of
/// normal components.
pub fn sanitize_path(components: &[Vec<u8>]) -> Result<PathBuf, PathError> {
    if components.is_empty() {
        return Err(PathError::Empty);
    }
    let mut out = PathBuf::new();
    for c in components {
        match sanitize_component(c) {
            Ok(name) => out.push(name),
            Err(reason) => {
                return Err(PathError::Unsafe {
                    path: display_path(components),
                    reason,
                })
            }
        }
    }
    Ok(out)
}

/// Sanitizes a single file or directory name; the error says which rule it breaks.
pub fn sanitize_component(raw: &[u8]) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("empty component");
    }
    if raw == b"." || raw == b".." {
        return Err("'.' or '..' component");
    }
    if raw.contains(&0) {
        return Err("NUL byte in name");
    }
    if raw.contains(&b'/') || raw.contains(&b'\\') {
        return Err("path separator in name");
    }
    let name: String = String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    Ok(shorten(name))
}

/// The path as a user would read it in an error message.
pub fn display_path(components: &[Vec<u8>]) -> String {
    components
        .iter()
        .map(|c| String::from_utf8_lossy(c))
        .collect::<Vec<_>>()
        .join("/")
}

/// Cuts `name` to [`MAX_COMPONENT_LEN`] bytes on a char boundary, keeping a short
/// extension so the file still opens with the right program.
fn shorten(name: String) -> String {
    if name.len() <= MAX_COMPONENT_LEN {
        return name;
    }
    let ext = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_LEN => &name[dot..],
        _ => "",
    };
    let mut stem_len = MAX_COMPONENT_LEN - ext.len();
    while !name.is_char_boundary(stem_len) {
        stem_len -= 1;
    }
    format!("{}{}", &name[..stem_len], ext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    fn comps(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn unsafe_path(parts: &[&str]) -> String {
        match sanitize_path(&comps(parts)) {
            Err(PathError::Unsafe { path, .. }) => path,
            other => panic!("{parts:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn plain_paths_pass_through() {
        assert_eq!(
            sanitize_path(&comps(&["dir", "sub", "file.txt"])).unwrap(),
            Path::new("dir/sub/file.txt")
        );
        assert_eq!(
            sanitize_path(&comps(&[".hidden", "..x", "a b"])).unwrap(),
            Path::new(".hidden/..x/a b")
        );
    }

    #[test]
    fn escaping_paths_refused() {
        assert_eq!(unsafe_path(&["..", "..", "etc", "passwd"]), "../../etc/passwd");
        assert_eq!(unsafe_path(&["a", ".", "b"]), "a/./b");
        assert_eq!(unsafe_path(&["", "etc", "x"]), "/etc/x");
        assert_eq!(unsafe_path(&["/etc/x"]), "/etc/x");
        assert_eq!(unsafe_path(&["a", ""]), "a/");
        assert_eq!(unsafe_path(&["a\\..\\b"]), "a\\..\\b");
        assert_eq!(unsafe_path(&["nul\0byte"]), "nul\0byte");
        assert_eq!(sanitize_path(&[]), Err(PathError::Empty));
        let e = sanitize_path(&comps(&["..", "x"])).unwrap_err();
        assert!(e.to_string().contains("../x"), "{e}");
    }

    #[test]
    fn awkward_names_repaired() {
        assert_eq!(sanitize_path(&[b"a\x01b\x7f".to_vec()]).unwrap(), Path::new("a_b_"));
        assert_eq!(sanitize_path(&[b"caf\xe9".to_vec()]).unwrap(), Path::new("caf\u{fffd}"));
        assert_eq!(sanitize_path(&[b"a\nb".to_vec()]).unwrap(), Path::new("a_b"));
    }

    #[test]
    fn long_names_keep_extension() {
        let long = format!("{}.mkv", "x".repeat(400));
        let out = sanitize_component(long.as_bytes()).unwrap();
        assert_eq!(out.len(), MAX_COMPONENT_LEN);
        assert!(out.ends_with("xx.mkv"));
        let no_ext = "y".repeat(300);
        assert_eq!(sanitize_component(no_ext.as_bytes()).unwrap().len(), 255);
        let long_ext = format!("a.{}", "z".repeat(300));
        assert_eq!(sanitize_component(long_ext.as_bytes()).unwrap().len(), 255);
        // Multi-byte characters are never split.
        let wide = "é".repeat(200);
        let out = sanitize_component(wide.as_bytes()).unwrap();
        assert!(out.len() <= MAX_COMPONENT_LEN && out.chars().all(|c| c == 'é'));
    }

    proptest! {
        #[test]
        fn result_is_relative_and_normal(
            parts in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![Just(b'.'), Just(b'/'), Just(b'\\'), Just(0u8), Just(b'a'),
                                Just(0xff), any::<u8>()],
                    0..300,
                ),
                0..6,
            )
        ) {
            if let Ok(p) = sanitize_path(&parts) {
                prop_assert!(p.is_relative());
                prop_assert_eq!(p.components().count(), parts.len());
                for c in p.components() {
                    match c {
                        Component::Normal(n) => prop_assert!(n.len() <= MAX_COMPONENT_LEN),
                        other => prop_assert!(false, "bad component {:?}", other),
                    }
                }
            }
        }
    }
}
