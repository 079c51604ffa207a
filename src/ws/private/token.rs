//! WebSocket tokens, as Kraken's `GetWebSocketsToken` hands them out: an opaque string that a
//! private WebSocket request carries in `params.token`. Valid for 15 minutes to its first use,
//! then for the life of every connection that used it in time.
//!
//! A token is the key's id, a fingerprint of its public key and the issue time, sealed
//! (ChaCha20-Poly1305) under the data directory's master key: nothing is stored per issued token,
//! so the store cannot grow with `GetWebSocketsToken` calls, and a token survives a restart for
//! the rest of its 15 minutes, as Kraken's do. What is kept in memory is only the binding of a
//! token to the connections that used it (released when the connection closes), bounded per
//! connection. The key is looked up again at every check, so a revoked or expired key, or one
//! that lost "Access WebSockets API", stops working at once; a key whose permissions changed is
//! seen with its new permissions. Tokens are never logged.

use crate::api::Caller;
use crate::auth::{ApiKey, KeyRegistry, Permissions};
use crate::crypto::SecretBox;
use crate::error::ws as err;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Seconds a token stays valid before its first use (Kraken's 15 minutes).
pub const EXPIRES_SECS: u64 = 900;
/// Distinct tokens one connection keeps bound (more are still accepted while unexpired).
pub const MAX_BOUND_PER_CONN: usize = 16;
const PLAIN_LEN: usize = 8 + 8 + 8;

/// What a valid token grants: the key it was issued to, as it is now.
#[derive(Clone)]
pub struct TokenGrant {
    pub key: Arc<ApiKey>,
}

impl TokenGrant {
    pub fn account(&self) -> u32 {
        self.key.account_id
    }
    pub fn permissions(&self) -> Permissions {
        self.key.permissions
    }
    /// The REST caller this grant stands for, so WebSocket methods run the REST code. A token
    /// carries no nonce: 0.
    pub fn caller(&self) -> Caller {
        Caller { key: self.key.clone(), nonce: 0 }
    }
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant").field("key_id", &self.key.id).field("account", &self.key.account_id).finish()
    }
}

/// The token issuer and checker, shared by REST (`GetWebSocketsToken`) and every connection.
pub struct Tokens {
    keys: Arc<KeyRegistry>,
    sbox: Arc<SecretBox>,
    /// Per connection: the tokens it used while they were valid.
    bound: Mutex<HashMap<u64, HashSet<String>>>,
}

fn fingerprint(public_key: &str) -> [u8; 8] {
    let d = Sha256::digest(public_key.as_bytes());
    let mut f = [0u8; 8];
    f.copy_from_slice(&d[..8]);
    f
}

impl Tokens {
    pub fn new(keys: Arc<KeyRegistry>, sbox: Arc<SecretBox>) -> Tokens {
        Tokens { keys, sbox, bound: Mutex::new(HashMap::new()) }
    }

    /// A new token for `key` at `now_ns`, and its lifetime in seconds before first use.
    pub fn issue(&self, key: &ApiKey, now_ns: u64) -> (String, u64) {
        let mut plain = [0u8; PLAIN_LEN];
        plain[..8].copy_from_slice(&key.id.to_be_bytes());
        plain[8..16].copy_from_slice(&fingerprint(&key.public_key));
        plain[16..].copy_from_slice(&now_ns.to_be_bytes());
        (base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.sbox.encrypt(&plain)), EXPIRES_SECS)
    }

    /// [`Tokens::check`] of a subscription's `token` parameter (`EGeneral:Invalid arguments` when
    /// it is missing or not a string): the private channels and level3 share it.
    pub fn check_param(&self, params: &serde_json::Value, conn_id: u64, now_ns: u64) -> Result<TokenGrant, &'static str> {
        let token = params.get("token").and_then(serde_json::Value::as_str).ok_or(err::TOKEN_MISSING)?;
        self.check(token, conn_id, now_ns)
    }

    /// The grant of `token` presented on connection `conn_id` at `now_ns`: refused
    /// (`ESession:Invalid session`) when it is not one of ours, more than 15 minutes old and not
    /// used on this connection before, or its key is gone or expired; `EAccount:Invalid
    /// permissions` when the key no longer has "Access WebSockets API". A first valid use binds
    /// the token to the connection for the connection's life.
    pub fn check(&self, token: &str, conn_id: u64, now_ns: u64) -> Result<TokenGrant, &'static str> {
        let blob =
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| err::INVALID_SESSION)?;
        let plain = self.sbox.decrypt(&blob).filter(|p| p.len() == PLAIN_LEN).ok_or(err::INVALID_SESSION)?;
        let id = i64::from_be_bytes(plain[..8].try_into().unwrap_or_default());
        let issued_ns = u64::from_be_bytes(plain[16..].try_into().unwrap_or_default());
        let key = self.keys.by_id(id).filter(|k| fingerprint(&k.public_key)[..] == plain[8..16]).ok_or(err::INVALID_SESSION)?;
        if key.settings.expired((now_ns / 1_000_000_000) as i64) {
            return Err(err::INVALID_SESSION);
        }
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        let on_conn = bound.get(&conn_id).is_some_and(|s| s.contains(token));
        if !on_conn {
            if now_ns > issued_ns.saturating_add(EXPIRES_SECS * 1_000_000_000) {
                return Err(err::INVALID_SESSION);
            }
            let set = bound.entry(conn_id).or_default();
            if set.len() < MAX_BOUND_PER_CONN {
                set.insert(token.to_string());
            }
        }
        drop(bound);
        if !key.permissions.contains(Permissions::WEBSOCKETS) {
            return Err(err::INVALID_PERMISSIONS);
        }
        Ok(TokenGrant { key })
    }

    /// Forgets the connection's bindings (it closed).
    pub fn release(&self, conn_id: u64) {
        self.bound.lock().unwrap_or_else(|p| p.into_inner()).remove(&conn_id);
    }

    /// Connections holding bindings (for tests and bounds).
    pub fn bound_connections(&self) -> usize {
        self.bound.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn setup(perms: Permissions) -> (Tokens, Arc<KeyRegistry>, Arc<ApiKey>) {
        let reg = Arc::new(KeyRegistry::new());
        let key = Arc::new(ApiKey::new(7, "PUBKEY".into(), 3, "bot".into(), perms, vec![1; 64], 0));
        reg.insert(key.clone());
        (Tokens::new(reg.clone(), Arc::new(SecretBox::from_key(&[9; 32]))), reg, key)
    }

    #[test]
    fn valid_fifteen_minutes_then_for_the_connection_that_used_it() {
        let (t, _, key) = setup(Permissions::ALL);
        let now = 1_000_000 * S;
        let (tok, exp) = t.issue(&key, now);
        assert_eq!(exp, 900);
        assert!(tok.len() >= 43, "{tok}");
        assert_eq!(t.check(&tok, 1, now + 899 * S).unwrap().account(), 3);
        assert_eq!(t.check(&tok, 1, now + 5000 * S).unwrap().caller().account(), 3, "bound to connection 1");
        assert_eq!(t.check(&tok, 2, now + 901 * S).unwrap_err(), err::INVALID_SESSION, "another connection after 15 min");
        let (late, _) = t.issue(&key, now);
        assert_eq!(t.check(&late, 1, now + 901 * S).unwrap_err(), err::INVALID_SESSION, "unused for 15 min");
        t.release(1);
        assert_eq!(t.bound_connections(), 0);
        assert_eq!(t.check(&tok, 1, now + 5000 * S).unwrap_err(), err::INVALID_SESSION, "released with its connection");
    }

    #[test]
    fn forged_altered_and_revoked_tokens_refused() {
        let (t, reg, key) = setup(Permissions::ALL);
        let (tok, _) = t.issue(&key, 0);
        assert_eq!(t.check("G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY", 1, 0).unwrap_err(), err::INVALID_SESSION);
        assert_eq!(t.check("", 1, 0).unwrap_err(), err::INVALID_SESSION);
        let mut bytes = tok.clone().into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        assert_eq!(t.check(std::str::from_utf8(&bytes).unwrap(), 1, 0).unwrap_err(), err::INVALID_SESSION);
        let other = Tokens::new(reg.clone(), Arc::new(SecretBox::from_key(&[8; 32])));
        assert_eq!(other.check(&tok, 1, 0).unwrap_err(), err::INVALID_SESSION, "another master key");
        assert!(t.check(&tok, 1, 0).is_ok());
        reg.remove("PUBKEY");
        assert_eq!(t.check(&tok, 1, 0).unwrap_err(), err::INVALID_SESSION, "revoked, even on a bound connection");
        // A new key with the same id (after a reset) does not inherit the token.
        reg.insert(Arc::new(ApiKey::new(7, "OTHER".into(), 3, "bot".into(), Permissions::ALL, vec![1; 64], 0)));
        assert_eq!(t.check(&tok, 2, 0).unwrap_err(), err::INVALID_SESSION);
    }

    #[test]
    fn permission_read_at_check_time() {
        let (t, reg, key) = setup(Permissions::ALL);
        let (tok, _) = t.issue(&key, 0);
        reg.insert(Arc::new(ApiKey::new(7, "PUBKEY".into(), 3, "bot".into(), Permissions::QUERY_FUNDS, vec![1; 64], 0)));
        assert_eq!(t.check(&tok, 1, 0).unwrap_err(), err::INVALID_PERMISSIONS);
    }

    #[test]
    fn bindings_bounded_per_connection() {
        let (t, _, key) = setup(Permissions::ALL);
        for _ in 0..MAX_BOUND_PER_CONN + 5 {
            let (tok, _) = t.issue(&key, 0);
            assert!(t.check(&tok, 1, 0).is_ok());
        }
        assert_eq!(t.bound.lock().unwrap()[&1].len(), MAX_BOUND_PER_CONN);
    }
}
