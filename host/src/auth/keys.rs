//! The per-workspace keys file, `LIGHTRAG_WORKSPACE_KEYS_FILE`: loading, validating
//! and turning it into the key and account bindings [`Auth`](super::Auth) holds.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::settings::{AuthSettings, digest_eq};

const MAX_KEY_NAME_CHARS: usize = 128;

// ---------------------------------------------------------------------------------
// Workspace keys file
// ---------------------------------------------------------------------------------

/// `LIGHTRAG_WORKSPACE_KEYS_FILE`:
///
/// ```json
/// {"keys": [{"name": "team-a", "sha256": "<hex sha256 of the key>", "workspaces": ["alpha", "beta"]}],
///  "accounts": [{"username": "alice", "workspaces": ["alpha"]}]}
/// ```
///
/// Keys are stored only as unsalted SHA-256 hashes. That is appropriate because API
/// keys are long random tokens (use at least 128 bits, e.g. `openssl rand -hex 32`):
/// guessing one is infeasible however fast the hash, unlike a human-chosen password,
/// which is why accounts use bcrypt instead. A fast hash also keeps the per-request
/// check cheap.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    accounts: Vec<AccountEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    sha256: String,
    workspaces: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    username: String,
    workspaces: Vec<String>,
}

/// A workspace key as loaded: its name (not secret), the digest and its workspaces.
pub(super) struct BoundKey {
    pub(super) name: String,
    pub(super) digest: [u8; 32],
    pub(super) workspaces: Vec<String>,
}

impl fmt::Debug for BoundKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundKey")
            .field("name", &self.name)
            .field("workspaces", &self.workspaces)
            .finish_non_exhaustive()
    }
}

/// The workspace name rule of the server: 1–64 of `[A-Za-z0-9_-]`, starting with an
/// ASCII letter or digit.
fn valid_workspace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

fn check_workspaces(owner: &str, workspaces: Vec<String>) -> Result<Vec<String>, String> {
    if workspaces.is_empty() {
        return Err(format!("{owner} lists no workspace"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(workspaces.len());
    for workspace in workspaces {
        if !valid_workspace_name(&workspace) {
            return Err(format!(
                "{owner}: workspace {workspace:?} is not a valid name \
                 (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)"
            ));
        }
        if seen.insert(workspace.clone()) {
            out.push(workspace);
        }
    }
    Ok(out)
}

type Bindings = (Vec<BoundKey>, HashMap<String, Vec<String>>);

pub(super) fn load_keys_file(path: &Path, settings: &AuthSettings) -> Result<Bindings, String> {
    let fail = |reason: String| {
        format!(
            "invalid LIGHTRAG_WORKSPACE_KEYS_FILE={}: {reason}",
            path.display()
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let file: KeysFile =
        serde_json::from_str(&text).map_err(|e| fail(format!("not the expected JSON: {e}")))?;
    parse_keys_file(file, settings).map_err(fail)
}

fn parse_keys_file(file: KeysFile, settings: &AuthSettings) -> Result<Bindings, String> {
    let global_digest: Option<[u8; 32]> = settings
        .api_key
        .as_ref()
        .map(|key| Sha256::digest(key.expose().as_bytes()).into());

    let mut keys: Vec<BoundKey> = Vec::with_capacity(file.keys.len());
    for (index, entry) in file.keys.into_iter().enumerate() {
        let name = entry.name.trim().to_string();
        if name.is_empty()
            || name.chars().count() > MAX_KEY_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(format!(
                "keys[{index}]: \"name\" must be 1-{MAX_KEY_NAME_CHARS} printable characters"
            ));
        }
        let owner = format!("key {name:?}");
        let mut digest = [0u8; 32];
        hex::decode_to_slice(entry.sha256.trim(), &mut digest).map_err(|_| {
            format!("{owner}: \"sha256\" must be 64 hex digits (the hash of the key, not the key)")
        })?;
        if keys.iter().any(|k| k.name == name) {
            return Err(format!("{owner} is listed twice"));
        }
        if keys.iter().any(|k| digest_eq(&k.digest, &digest)) {
            return Err(format!("{owner} has the same sha256 as another key"));
        }
        if global_digest.is_some_and(|g| digest_eq(&g, &digest)) {
            return Err(format!("{owner} is the same key as LIGHTRAG_API_KEY"));
        }
        let workspaces = check_workspaces(&owner, entry.workspaces)?;
        keys.push(BoundKey {
            name,
            digest,
            workspaces,
        });
    }

    let mut bindings: HashMap<String, Vec<String>> = HashMap::new();
    for entry in file.accounts {
        let username = entry.username.trim().to_string();
        let owner = format!("account {username:?}");
        if !settings.accounts.iter().any(|a| a.username == username) {
            return Err(format!("{owner} is not in AUTH_ACCOUNTS"));
        }
        if bindings.contains_key(&username) {
            return Err(format!("{owner} is listed twice"));
        }
        let workspaces = check_workspaces(&owner, entry.workspaces)?;
        bindings.insert(username, workspaces);
    }
    Ok((keys, bindings))
}
