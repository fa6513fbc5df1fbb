//! [`Workspace`]: a validated workspace name, the value every layer passes around.
//!
//! A name is validated, never rewritten: rewriting would merge tenants (`a-b` and
//! `a_b` must stay two workspaces), so anything outside the allowed alphabet is refused
//! before any file is touched. How a request names its workspace (headers, the
//! default, strict mode) is the HTTP layer's business: `routes::tenant`.

use std::fmt;

/// Longest workspace name.
pub const MAX_NAME_LEN: usize = 64;

/// A validated workspace name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workspace(String);

impl Workspace {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Workspace, String> {
        validate_name(name)?;
        Ok(Workspace(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The workspaces with a directory under `root`, sorted. Names only: entries are
    /// never followed (a link is not a directory here), and the server's own records
    /// live under names that are not workspace names.
    pub fn existing(root: &std::path::Path) -> Vec<Workspace> {
        let Ok(entries) = std::fs::read_dir(root) else {
            return Vec::new();
        };
        let mut names: Vec<Workspace> = entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|entry| Workspace::new(&entry.file_name().to_string_lossy()).ok())
            .collect();
        names.sort();
        names
    }
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–64 characters of `[A-Za-z0-9_-]`, starting with a letter or digit. The rule
/// also keeps every name a safe single path component (no `.`, `/`, `..`), and
/// names beginning with `.` stay free for the server's own records.
pub fn validate_name(name: &str) -> Result<(), String> {
    const RULE: &str = "use 1-64 letters, digits, '_' or '-', starting with a letter or digit";
    if name.is_empty() {
        return Err(format!("the workspace name is empty; {RULE}"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the workspace name is longer than {MAX_NAME_LEN} characters; {RULE}"
        ));
    }
    let first_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !first_ok || !rest_ok {
        return Err(format!(
            "invalid workspace name \"{}\"; {RULE}",
            name.escape_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_not_rewritten() {
        for good in ["a", "A-b_c", "0", &"x".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            ".a",
            "a.b",
            "a/b",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
