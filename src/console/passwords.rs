//! Console passwords: Argon2id (the `argon2` crate's defaults, OWASP's minimum: 19 MiB, t=2, p=1)
//! in PHC form, one per account, in the data directory's metadata table
//! (`console_password:<account id>`). Only the hash is ever stored; the password itself is
//! never logged or kept. At most four hashes are computed at once. An account made with `calamari account create` has no password until
//! `calamari account password NAME` sets one.

use crate::server::Server;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

pub const MIN_LEN: usize = 8;
/// Argon2 computations at once (each takes 19 MiB for tens of milliseconds): a flood of log-ins
/// queues here instead of taking the machine's memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
pub const MAX_LEN: usize = 128;

fn meta_key(account: u32) -> String {
    format!("console_password:{account}")
}

/// Checks a new password's length (in characters).
pub fn acceptable(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(format!("a password has {MIN_LEN} to {MAX_LEN} characters"));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string (false for a malformed one).
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified against when the account has none, so that a log-in
/// takes as long whether or not the account exists.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash(&crate::crypto::random_token()).unwrap_or_default())
}

/// Sets an account's password (durable before it returns) and ends its console sessions.
pub async fn set(server: &Server, account: u32, password: &str) -> Result<(), String> {
    acceptable(password)?;
    let pw = password.to_string();
    let _permit = HASHING.acquire().await.map_err(|e| e.to_string())?;
    let phc = tokio::task::spawn_blocking(move || hash(&pw)).await.map_err(|e| e.to_string())??;
    server.key_store.set_meta(&meta_key(account), &phc).map_err(|e| e.to_string())?;
    server.sessions.end_all_of(account);
    Ok(())
}

/// Checks a log-in off the async threads (Argon2 takes tens of milliseconds by design).
pub async fn check(server: &Server, account: Option<u32>, password: &str) -> bool {
    let stored = account.and_then(|a| server.key_store.get_meta(&meta_key(a)).ok().flatten());
    let has = stored.is_some();
    let phc = stored.unwrap_or_else(|| decoy().to_string());
    let pw = password.to_string();
    let Ok(_permit) = HASHING.acquire().await else { return false };
    let ok = tokio::task::spawn_blocking(move || verify(&phc, &pw)).await.unwrap_or(false);
    ok && has
}

#[cfg(test)]
mod tests {
    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = super::hash("correct horse").unwrap();
        let b = super::hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(super::verify(&a, "correct horse"));
        assert!(!super::verify(&a, "correct horsf") && !super::verify("nonsense", "x"));
        assert!(super::acceptable("1234567").is_err() && super::acceptable("12345678").is_ok());
    }
}
