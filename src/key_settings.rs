//! The settings of one API key beyond its permissions, as on Kraken's key page: nonce window,
//! expiry, query start/end, IP allowlist and the optional second factor (`otp`). Stored with
//! the key as JSON (the second factor's secret only as ciphertext) and checked on every call.

use crate::crypto::SecretBox;
use crate::limits::second_factor::{OtpVerifier, SecondFactor};
use base64::Engine as _;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// How the second factor is kept: its kind and the SecretBox ciphertext of its secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredOtp {
    /// `password` or `totp`.
    pub kind: String,
    /// base64 of the ciphertext.
    pub secret: String,
}

/// A key's settings as stored (and as the admin interface takes them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StoredSettings {
    /// A nonce up to this much below the highest seen is still accepted, once.
    pub nonce_window: u64,
    /// Unix seconds after which the key is refused (0: never).
    pub valid_until: i64,
    /// History endpoints see only records from this unix time on (0: no bound).
    pub query_from: i64,
    /// … and up to this unix time (0: no bound).
    pub query_to: i64,
    /// Addresses or CIDR blocks allowed to use the key (empty: any).
    pub ip_allowlist: Vec<String>,
    pub otp: Option<StoredOtp>,
}

/// A key's settings ready for the request path.
#[derive(Debug, Default)]
pub struct KeySettings {
    pub nonce_window: u64,
    pub valid_until: Option<i64>,
    pub query_from: Option<i64>,
    pub query_to: Option<i64>,
    pub ip_allowlist: Vec<IpNet>,
    pub otp: Option<OtpVerifier>,
}

pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("{text:?} is not an IPv4/IPv6 address or CIDR block"))
}

impl StoredSettings {
    /// Checks the stored form; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for n in &self.ip_allowlist {
            parse_net(n)?;
        }
        if self.valid_until < 0 || self.query_from < 0 || self.query_to < 0 {
            return Err("times are unix seconds (0: none)".into());
        }
        if self.query_to != 0 && self.query_to < self.query_from {
            return Err("query_to is before query_from".into());
        }
        if let Some(o) = &self.otp {
            if o.kind != "password" && o.kind != "totp" {
                return Err(format!("unknown second factor {:?} (password, totp)", o.kind));
            }
        }
        Ok(())
    }

    /// The request path's form, decrypting the second factor.
    pub fn load(&self, sbox: &SecretBox) -> Result<KeySettings, String> {
        self.validate()?;
        let otp = match &self.otp {
            None => None,
            Some(o) => {
                let ct = base64::engine::general_purpose::STANDARD.decode(&o.secret).map_err(|_| "second factor: bad ciphertext")?;
                let secret = sbox.decrypt(&ct).ok_or("second factor: cannot decrypt (is this the data directory's master.key?)")?;
                Some(OtpVerifier::new(if o.kind == "totp" { SecondFactor::Totp(secret) } else { SecondFactor::Password(secret) }))
            }
        };
        let opt = |t: i64| (t > 0).then_some(t);
        Ok(KeySettings {
            nonce_window: self.nonce_window,
            valid_until: opt(self.valid_until),
            query_from: opt(self.query_from),
            query_to: opt(self.query_to),
            ip_allowlist: self.ip_allowlist.iter().map(|n| parse_net(n)).collect::<Result<_, _>>()?,
            otp,
        })
    }

    /// Seals a second factor's secret for storage.
    pub fn seal_otp(kind: &str, secret: &[u8], sbox: &SecretBox) -> StoredOtp {
        StoredOtp { kind: kind.to_string(), secret: base64::engine::general_purpose::STANDARD.encode(sbox.encrypt(secret)) }
    }
}

impl KeySettings {
    /// Whether `ip` may use the key.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = crate::limits::canonical(ip);
        self.ip_allowlist.is_empty() || self.ip_allowlist.iter().any(|n| n.contains(&ip))
    }

    pub fn expired(&self, now_secs: i64) -> bool {
        self.valid_until.is_some_and(|t| now_secs >= t)
    }

    /// The `[from, to]` window (unix seconds) history endpoints may see.
    pub fn query_window(&self) -> (Option<i64>, Option<i64>) {
        (self.query_from, self.query_to)
    }
}

/// Most nonces below the highest remembered for the window; older ones are refused.
const REMEMBERED: usize = 4096;

/// The nonces a key has accepted: the highest, and (with a window) which ones below it.
#[derive(Debug, Default)]
pub struct NonceState {
    pub highest: u64,
    /// Accepted nonces within the window below `highest`.
    recent: BTreeSet<u64>,
    /// Nothing at or below this is accepted (forgotten nonces, or the state after a restart).
    floor: u64,
}

impl NonceState {
    pub fn restored(highest: u64) -> NonceState {
        NonceState { highest, recent: BTreeSet::new(), floor: highest }
    }

    /// Accepts `n` if it is above the highest, or (window `w` > 0) at most `w` below it, above
    /// the floor, and not accepted before.
    pub fn accept(&mut self, n: u64, w: u64) -> bool {
        if n > self.highest {
            if w > 0 {
                self.recent.insert(self.highest);
            }
            self.highest = n;
        } else if w > 0 && n > self.floor && n >= self.highest.saturating_sub(w) && n != self.highest && !self.recent.contains(&n) {
            self.recent.insert(n);
        } else {
            return false;
        }
        let low = self.highest.saturating_sub(w);
        while self.recent.first().is_some_and(|f| *f < low) {
            self.recent.pop_first();
        }
        // Forgetting a nonce raises the floor to it, so it can never be accepted again.
        while self.recent.len() > REMEMBERED {
            if let Some(f) = self.recent.pop_first() {
                self.floor = self.floor.max(f);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_window_means_strictly_increasing() {
        let mut s = NonceState::default();
        let got: Vec<bool> = [5, 5, 4, 6, 100, 99].iter().map(|n| s.accept(*n, 0)).collect();
        assert_eq!(got, [true, false, false, true, true, false]);
    }

    #[test]
    fn a_window_accepts_late_nonces_once() {
        let mut s = NonceState::default();
        assert!(s.accept(1000, 10));
        assert!(s.accept(995, 10), "5 below the highest");
        assert!(!s.accept(995, 10), "but only once");
        assert!(!s.accept(1000, 10), "the highest itself only once");
        assert!(s.accept(990, 10), "exactly the window below");
        assert!(!s.accept(989, 10), "one past the window");
        assert!(s.accept(1005, 10));
        assert!(!s.accept(994, 10), "the window moved with the highest");
        assert!(s.accept(996, 10));
        assert!(!s.accept(995, 10) && !s.accept(1000, 10), "accepted nonces stay used as the window moves");
    }

    #[test]
    fn after_a_restart_only_higher_nonces() {
        let mut s = NonceState::restored(500);
        assert!(!s.accept(495, 100) && !s.accept(500, 100));
        assert!(s.accept(501, 100));
        assert!(!s.accept(499, 100), "below the restored floor");
    }

    #[test]
    fn memory_is_bounded_and_forgotten_nonces_are_refused() {
        let mut s = NonceState::default();
        let w = 1_000_000;
        let top = 10 * w;
        assert!(s.accept(top, w));
        let base = top - 10_000;
        for n in 0..(REMEMBERED as u64 + 100) {
            assert!(s.accept(base + 2 * n, w), "{n}");
        }
        assert!(s.recent.len() <= REMEMBERED);
        assert!(!s.accept(base, w) && !s.accept(base + 1, w), "forgotten nonces and those below them are refused");
        assert!(s.accept(top - 1, w), "unused nonces above the floor still pass");
    }

    #[test]
    fn allowlist_and_times() {
        let st = StoredSettings {
            ip_allowlist: vec!["10.1.0.0/16".into(), "2001:db8::/32".into(), "192.0.2.7".into()],
            valid_until: 2000,
            query_from: 100,
            ..Default::default()
        };
        let sbox = SecretBox::from_key(&[1; 32]);
        let k = st.load(&sbox).unwrap();
        for (ip, ok) in [("10.1.2.3", true), ("10.2.0.1", false), ("2001:db8::5", true), ("2001:db9::5", false), ("192.0.2.7", true)] {
            assert_eq!(k.allows(ip.parse().unwrap()), ok, "{ip}");
        }
        assert!(k.allows("::ffff:10.1.9.9".parse().unwrap()), "IPv4-mapped IPv6 is the IPv4 address");
        assert!(!k.expired(1999) && k.expired(2000));
        assert_eq!(k.query_window(), (Some(100), None));
        assert!(KeySettings::default().allows("8.8.8.8".parse().unwrap()));
        let bad = StoredSettings { ip_allowlist: vec!["10.0.0.0/33".into()], ..Default::default() };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn second_factor_is_sealed() {
        let sbox = SecretBox::from_key(&[2; 32]);
        let st = StoredSettings { otp: Some(StoredSettings::seal_otp("password", b"hunter2", &sbox)), ..Default::default() };
        let json = serde_json::to_string(&st).unwrap();
        assert!(!json.contains("hunter2") && !json.contains("aHVudGVyMg"), "{json}");
        let k = st.load(&sbox).unwrap();
        assert!(k.otp.as_ref().unwrap().check(Some("hunter2"), 0).is_ok());
        assert!(st.load(&SecretBox::from_key(&[3; 32])).is_err());
    }
}
