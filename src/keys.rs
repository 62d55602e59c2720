//! Project secrets: API keys and ping keys.
//!
//! API keys look like healthchecks.io's (`hcw_`/`hcr_` + 28 characters, 32 in all; clients
//! check the length). Only their SHA-256 is stored: the keys carry about 166 bits of
//! randomness, so a fast hash is as safe as a slow one and lets a lookup use an index.

use rand::RngExt;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::store::NewProject;

/// Length of every API key (healthchecks.io answers "missing api key" to other lengths).
pub const API_KEY_LEN: usize = 32;

fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new read-write (`hcw_…`) or read-only (`hcr_…`) API key.
pub fn new_api_key(read_only: bool) -> String {
    let prefix = if read_only { "hcr_" } else { "hcw_" };
    format!(
        "{prefix}{}",
        random_alphanumeric(API_KEY_LEN - prefix.len())
    )
}

/// A new ping key: 22 characters of `[a-z0-9]`, as healthchecks.io's.
pub fn new_ping_key() -> String {
    random_alphanumeric(22).to_ascii_lowercase()
}

/// The stored form of a secret (an API key, a link token): only its SHA-256 is kept.
pub fn hash_secret(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random token for links (email verification): 32 characters, about 190 bits.
pub fn random_token() -> String {
    random_alphanumeric(32)
}

/// A project's secrets in plain text, shown once when the project is created.
#[derive(Clone)]
pub struct ProjectKeys {
    pub api_key: String,
    pub api_key_ro: String,
    pub ping_key: String,
}

impl std::fmt::Debug for ProjectKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProjectKeys(<redacted>)")
    }
}

/// A new project with fresh keys; the record holds only their hashes.
pub fn new_project(name: &str) -> (NewProject, ProjectKeys) {
    let keys = ProjectKeys {
        api_key: new_api_key(false),
        api_key_ro: new_api_key(true),
        ping_key: new_ping_key(),
    };
    let project = NewProject {
        api_key_hash: hash_secret(&keys.api_key),
        api_key_ro_hash: hash_secret(&keys.api_key_ro),
        ping_key: Some(keys.ping_key.clone()),
        ..keyless_project(name)
    };
    (project, keys)
}

/// A new project without keys (the dashboard makes them on the project's settings page).
pub fn keyless_project(name: &str) -> NewProject {
    NewProject {
        code: uuid::Uuid::new_v4(),
        name: name.to_owned(),
        api_key_hash: String::new(),
        api_key_ro_hash: String::new(),
        ping_key: None,
        badge_key: uuid::Uuid::new_v4().to_string(),
    }
}

/// A password's Argon2id hash (PHC string, random salt). Slow by design: call it from a
/// blocking thread.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .unwrap_or_default()
}

/// Whether `password` matches an Argon2 PHC string (never for a malformed one).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(hash) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_argon2_hash_only() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(hash, hash_password("correct horse"), "salted");
    }

    #[test]
    fn api_keys_have_healthchecks_shape() {
        let rw = new_api_key(false);
        let ro = new_api_key(true);
        assert!(rw.starts_with("hcw_") && ro.starts_with("hcr_"));
        assert_eq!((rw.len(), ro.len()), (API_KEY_LEN, API_KEY_LEN));
        assert_ne!(new_api_key(false), rw);
    }

    #[test]
    fn ping_keys_are_lowercase_alphanumeric() {
        let key = new_ping_key();
        assert_eq!(key.len(), 22);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn project_stores_only_hashes() {
        let (project, keys) = new_project("Backups");
        assert_eq!(project.api_key_hash, hash_secret(&keys.api_key));
        assert_ne!(project.api_key_hash, keys.api_key);
        assert_eq!(project.api_key_hash.len(), 64);
        assert_eq!(format!("{keys:?}"), "ProjectKeys(<redacted>)");
    }
}
