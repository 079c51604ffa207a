//! Console sessions: a random id in an HTTP-only, SameSite=Strict cookie, kept in memory with the
//! account it is logged in as and its CSRF token. Every visitor gets a session (the log-in and
//! sign-up forms carry a CSRF token too); logging in always DISCARDS the visitor's session and
//! issues a new id, so an id planted before log-in is worthless after it (session fixation).
//! Log-in failures are counted per account: `lockout_after` in a row lock the account for
//! `lockout_secs`. Time is an input (the server's clock), so tests can move it.

use crate::crypto;
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "calamari_session";
/// Most sessions held at once; beyond it the idlest anonymous ones are dropped first.
const MAX_SESSIONS: usize = 20_000;

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    /// `(account id, account name)` once logged in.
    pub account: Option<(u32, String)>,
    pub csrf: String,
    last_seen_us: u64,
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until_us: u64,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<u32, Failures>>,
    idle_us: u64,
    lockout_after: u32,
    lockout_us: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The session id a request's cookie names, if any.
pub fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for a session id.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict")
}

impl Sessions {
    pub fn new(cfg: &crate::config::ConsoleConfig) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            idle_us: cfg.session_idle_secs.max(60) * 1_000_000,
            lockout_after: cfg.lockout_after,
            lockout_us: cfg.lockout_secs * 1_000_000,
        }
    }

    /// The live session a request names (its idle clock restarted), or a new anonymous one; the
    /// flag says whether it is new (its cookie must be set).
    pub fn current(&self, headers: &HeaderMap, now_us: u64) -> (Session, bool) {
        if let Some(id) = cookie_id(headers) {
            let mut map = lock(&self.map);
            if let Some(s) = map.get_mut(&id) {
                if now_us.saturating_sub(s.last_seen_us) < self.idle_us {
                    s.last_seen_us = now_us;
                    return (s.clone(), false);
                }
                map.remove(&id);
            }
        }
        (self.create(None, now_us), true)
    }

    /// A fresh session (a new random id and CSRF token).
    pub fn create(&self, account: Option<(u32, String)>, now_us: u64) -> Session {
        let s = Session { id: crypto::random_token(), account, csrf: crypto::random_token(), last_seen_us: now_us };
        let mut map = lock(&self.map);
        if map.len() >= MAX_SESSIONS {
            let idle = self.idle_us;
            map.retain(|_, v| now_us.saturating_sub(v.last_seen_us) < idle);
            if map.len() >= MAX_SESSIONS {
                let victim = map.iter().filter(|(_, v)| v.account.is_none()).min_by_key(|(_, v)| v.last_seen_us).map(|(k, _)| k.clone());
                if let Some(k) = victim.or_else(|| map.keys().next().cloned()) {
                    map.remove(&k);
                }
            }
        }
        map.insert(s.id.clone(), s.clone());
        s
    }

    /// Log-in: the visitor's session is discarded and a new one, logged in, takes its place.
    pub fn log_in(&self, old: &Session, account: (u32, String), now_us: u64) -> Session {
        lock(&self.map).remove(&old.id);
        self.create(Some(account), now_us)
    }

    pub fn end(&self, id: &str) {
        lock(&self.map).remove(id);
    }

    /// Ends every session of an account (its password changed).
    pub fn end_all_of(&self, account: u32) {
        lock(&self.map).retain(|_, s| s.account.as_ref().is_none_or(|(a, _)| *a != account));
    }

    /// Ends every logged-in session and forgets log-in failures (the accounts were replaced:
    /// `calamari reset`, `calamari snapshot restore`).
    pub fn end_all(&self) {
        lock(&self.map).retain(|_, s| s.account.is_none());
        lock(&self.failures).clear();
    }

    /// Whether the form's token is the session's (constant time).
    pub fn csrf_ok(session: &Session, token: Option<&str>) -> bool {
        token.is_some_and(|t| t.len() == session.csrf.len() && bool::from(t.as_bytes().ct_eq(session.csrf.as_bytes())))
    }

    /// Seconds left of a lockout of this account, if it is locked.
    pub fn locked(&self, account: u32, now_us: u64) -> Option<u64> {
        let f = lock(&self.failures);
        f.get(&account).filter(|f| f.locked_until_us > now_us).map(|f| (f.locked_until_us - now_us).div_ceil(1_000_000))
    }

    /// Counts a failed log-in; the account is locked once `lockout_after` failures are in a row.
    pub fn failed(&self, account: u32, now_us: u64) {
        if self.lockout_after == 0 {
            return;
        }
        let mut all = lock(&self.failures);
        let f = all.entry(account).or_default();
        f.count += 1;
        if f.count >= self.lockout_after {
            f.count = 0;
            f.locked_until_us = now_us + self.lockout_us;
        }
    }

    pub fn succeeded(&self, account: u32) {
        lock(&self.failures).remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, cookie.parse().unwrap());
        h
    }

    #[test]
    fn log_in_replaces_the_visitors_session() {
        let s = Sessions::new(&Default::default());
        let (anon, new) = s.current(&HeaderMap::new(), 0);
        assert!(new && anon.account.is_none());
        let (again, new) = s.current(&headers(&format!("a=b; {COOKIE}={}", anon.id)), 1);
        assert!(!new && again.id == anon.id);
        let logged = s.log_in(&anon, (2, "x".into()), 2);
        assert_ne!(logged.id, anon.id);
        assert_ne!(logged.csrf, anon.csrf);
        let (after, new) = s.current(&headers(&format!("{COOKIE}={}", anon.id)), 3);
        assert!(new && after.account.is_none(), "the old id names nothing after log-in");
    }

    #[test]
    fn idle_sessions_end_and_lockout_counts() {
        let cfg = crate::config::ConsoleConfig { session_idle_secs: 60, lockout_after: 2, lockout_secs: 10, ..Default::default() };
        let s = Sessions::new(&cfg);
        let a = s.create(Some((2, "x".into())), 0);
        assert!(s.current(&headers(&format!("{COOKIE}={}", a.id)), 61_000_000).1, "idle for 61 s: a new session");
        s.failed(2, 0);
        assert_eq!(s.locked(2, 0), None);
        s.failed(2, 0);
        assert_eq!(s.locked(2, 1_000_000), Some(9));
        assert_eq!(s.locked(2, 10_000_000), None);
        assert!(Sessions::csrf_ok(&a, Some(&a.csrf.clone())));
        assert!(!Sessions::csrf_ok(&a, Some("0")) && !Sessions::csrf_ok(&a, None));
    }
}
