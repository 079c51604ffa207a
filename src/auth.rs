//! Kraken's private-API authentication: the `API-Key`/`API-Sign` headers, the HMAC-SHA512
//! signature over the raw body, per-key strictly increasing nonces, and the ten key permissions.
//! Keys live in memory in a [`KeyRegistry`] (loaded from the [`KeyStore`] at start, secrets
//! decrypted with the [`SecretBox`]) so that checking a request touches no database.

use crate::crypto::SecretBox;
use crate::error::KrakenError;
use crate::key_settings::{KeySettings, NonceState, StoredSettings};
use crate::storage::KeyStore;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A set of Kraken API-key permissions (bit flags).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(pub u32);

/// Per permission: its bit, Kraken's UI name, its key-management field name, and extra spellings.
#[rustfmt::skip]
const TABLE: [(u32, &str, &str, &[&str]); 10] = [
    (1 << 0, "Query Funds", "funds_query", &["query_funds"]),
    (1 << 1, "Deposit Funds", "funds_add", &["deposit_funds"]),
    (1 << 2, "Withdraw Funds", "funds_withdraw", &["withdraw_funds"]),
    (1 << 3, "Query Open Orders & Trades", "trades_query_open", &["query_open_orders"]),
    (1 << 4, "Query Closed Orders & Trades", "trades_query_closed", &["query_closed_orders"]),
    (1 << 5, "Create & Modify Orders", "trades_modify", &["create_modify_orders", "modify_orders"]),
    (1 << 6, "Cancel/Close Orders", "trades_close", &["cancel_close_orders"]),
    (1 << 7, "Query Ledger Entries", "ledger_query", &["query_ledger", "query_ledger_entries"]),
    (1 << 8, "Export Data", "export_data", &[]),
    (1 << 9, "Access WebSockets API", "websocket", &["websockets", "access_websockets"]),
];

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    pub const QUERY_FUNDS: Permissions = Permissions(1 << 0);
    pub const DEPOSIT_FUNDS: Permissions = Permissions(1 << 1);
    pub const WITHDRAW_FUNDS: Permissions = Permissions(1 << 2);
    pub const QUERY_OPEN_ORDERS: Permissions = Permissions(1 << 3);
    pub const QUERY_CLOSED_ORDERS: Permissions = Permissions(1 << 4);
    pub const CREATE_MODIFY_ORDERS: Permissions = Permissions(1 << 5);
    pub const CANCEL_CLOSE_ORDERS: Permissions = Permissions(1 << 6);
    pub const QUERY_LEDGER: Permissions = Permissions(1 << 7);
    pub const EXPORT_DATA: Permissions = Permissions(1 << 8);
    pub const WEBSOCKETS: Permissions = Permissions(1 << 9);
    pub const ALL: Permissions = Permissions((1 << 10) - 1);

    /// Parses a comma-separated list. Each item is a UI name ("Query Funds"), a key-management
    /// field ("funds_query"), a kebab slug ("query-funds", "create-modify-orders"), a constant
    /// name ("QUERY_OPEN_ORDERS"), `all`, or `none`; case, spaces, `&`, `/`, `-` and `_` don't matter.
    pub fn parse_list(s: &str) -> Result<Permissions, String> {
        PermissionRequest::parse(s).map(|r| if r.all { r.named | Permissions::ALL } else { r.named })
    }
}

/// A permission list as an operator wrote it: the permissions named one by one, and whether it
/// said `all` (every permission the account may hold: on an unverified or starter account that is
/// all but Withdraw Funds, which is refused only when asked for by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermissionRequest {
    pub named: Permissions,
    pub all: bool,
}

impl PermissionRequest {
    /// Parses `all`, `none`, or a comma list of Kraken's names, API field names or slugs.
    pub fn parse(s: &str) -> Result<PermissionRequest, String> {
        let mut out = Permissions::NONE;
        let mut all = false;
        let mut any = false;
        for item in s.split(',') {
            let want = slug(item);
            if want.is_empty() {
                continue;
            }
            any = true;
            if want == "none" {
                continue;
            }
            if want == "all" {
                all = true;
                continue;
            }
            let found =
                TABLE.iter().find(|(_, ui, field, extra)| slug(ui) == want || slug(field) == want || extra.iter().any(|e| slug(e) == want));
            match found {
                Some((bit, ..)) => out = out | Permissions(*bit),
                None => return Err(format!("unknown permission {:?} (known: {}, all)", item.trim(), Permissions::ALL.slugs().join(", "))),
            }
        }
        if !any {
            return Err("no permissions given".into());
        }
        Ok(PermissionRequest { named: out, all })
    }

    /// The set granted on an account: `all` less Withdraw Funds when the account is not verified,
    /// with the one line that says so; Withdraw Funds named on such an account is an error.
    pub fn grant(&self, verified: bool) -> Result<(Permissions, Option<String>), WithdrawNeedsVerification> {
        if self.named.contains(Permissions::WITHDRAW_FUNDS) && !verified {
            return Err(WithdrawNeedsVerification);
        }
        if !self.all {
            return Ok((self.named, None));
        }
        if verified {
            return Ok((Permissions::ALL, None));
        }
        let granted = Permissions(Permissions::ALL.0 & !Permissions::WITHDRAW_FUNDS.0);
        Ok((granted, Some("all permissions but Withdraw Funds, which needs a verified account (intermediate or pro)".into())))
    }
}

/// Withdraw Funds asked for by name on an account that is not verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WithdrawNeedsVerification;

impl Permissions {
    /// Kraken's UI names of the permissions in the set, in Kraken's order.
    pub fn names(&self) -> Vec<&'static str> {
        TABLE.iter().filter(|(bit, ..)| self.0 & bit != 0).map(|(_, ui, ..)| *ui).collect()
    }

    /// Kebab slugs of the permissions in the set ("query-funds", …), for CLI output.
    pub fn slugs(&self) -> Vec<String> {
        self.names().into_iter().map(slug).collect()
    }

    /// Whether every permission in `other` is in `self`.
    pub fn contains(&self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Lowercase words joined by `-`: "Query Open Orders & Trades" -> "query-open-orders-trades".
fn slug(s: &str) -> String {
    let lower = s.trim().to_ascii_lowercase();
    lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-")
}

impl std::ops::BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({:#05x}: {})", self.0, self)
    }
}

type HmacSha512 = Hmac<Sha512>;

/// HMAC-SHA512 keyed with an API secret: the state after the key's inner and outer pads are
/// hashed, two of a signature's four SHA-512 blocks, the same for every call of the key (an
/// [`ApiKey`] keeps it; each call clones it).
fn keyed(secret: &[u8]) -> HmacSha512 {
    HmacSha512::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

fn mac(path: &str, nonce: &str, body: &[u8], keyed: &HmacSha512) -> HmacSha512 {
    let digest = Sha256::new().chain_update(nonce.as_bytes()).chain_update(body).finalize();
    let mut mac = keyed.clone();
    mac.update(path.as_bytes());
    mac.update(&digest);
    mac
}

/// Kraken's `API-Sign`: base64(HMAC-SHA512(secret, path + SHA256(nonce + body))).
pub fn sign(path: &str, nonce: &str, body: &[u8], secret: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(path, nonce, body, &keyed(secret)).finalize().into_bytes())
}

/// Checks an `API-Sign` header in constant time; undecodable base64 is simply a wrong signature.
pub fn verify(path: &str, nonce: &str, body: &[u8], secret: &[u8], api_sign_header: &str) -> bool {
    verify_keyed(path, nonce, body, &keyed(secret), api_sign_header)
}

/// [`verify`] with the key's HMAC state. The header is decoded on the stack: a right signature
/// is 64 bytes (88 base64 characters), and anything that decodes to more than fits is wrong.
fn verify_keyed(path: &str, nonce: &str, body: &[u8], keyed: &HmacSha512, api_sign_header: &str) -> bool {
    let mut tag = [0u8; 72];
    match base64::engine::general_purpose::STANDARD.decode_slice(api_sign_header.trim(), &mut tag) {
        Ok(len) => mac(path, nonce, body, keyed).verify_slice(&tag[..len]).is_ok(),
        Err(_) => false,
    }
}

/// A live API key as the request path sees it.
pub struct ApiKey {
    pub id: i64,
    pub public_key: String,
    pub account_id: u32,
    pub name: String,
    pub permissions: Permissions,
    secret: Vec<u8>,
    /// HMAC-SHA512 keyed with `secret` (see [`keyed`]): as secret as it, wiped with it.
    keyed: HmacSha512,
    /// Nonces accepted so far (the highest, and those within the key's nonce window).
    nonce: Mutex<NonceState>,
    /// Highest nonce handed to [`KeyRegistry::dirty_nonces`] (or loaded from storage).
    persisted: AtomicU64,
    pub created_at: i64,
    pub settings: KeySettings,
    /// Unix seconds of the last authenticated call (0: never; in memory, shown by the console).
    pub last_used: std::sync::atomic::AtomicI64,
}

impl ApiKey {
    pub fn new(
        id: i64,
        public_key: String,
        account_id: u32,
        name: String,
        permissions: Permissions,
        secret: Vec<u8>,
        created_at: i64,
    ) -> ApiKey {
        ApiKey {
            id,
            public_key,
            account_id,
            name,
            permissions,
            keyed: keyed(&secret),
            secret,
            nonce: Mutex::new(NonceState::default()),
            persisted: AtomicU64::new(0),
            created_at,
            settings: KeySettings::default(),
            last_used: std::sync::atomic::AtomicI64::new(0),
        }
    }

    pub fn with_settings(mut self, settings: KeySettings) -> ApiKey {
        self.settings = settings;
        self
    }

    /// Starts from a highest nonce restored from storage (nothing at or below it is accepted).
    pub fn restore_nonce(&self, highest: u64) {
        let mut st = self.nonce.lock().unwrap_or_else(|p| p.into_inner());
        if highest > st.highest {
            *st = NonceState::restored(highest);
        }
        self.persisted.fetch_max(highest, Ordering::AcqRel);
    }

    /// The raw (decoded) API secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Whether `api_sign_header` is this key's signature of the call ([`verify`], from the
    /// key's HMAC state).
    pub fn verify(&self, path: &str, nonce: &str, body: &[u8], api_sign_header: &str) -> bool {
        verify_keyed(path, nonce, body, &self.keyed, api_sign_header)
    }

    /// Accepts `n` if it is greater than every nonce accepted before or, with a nonce window,
    /// within the window and not seen before. Of concurrent requests carrying the same nonce
    /// exactly one wins.
    pub fn accept_nonce(&self, n: u64) -> bool {
        self.nonce.lock().unwrap_or_else(|p| p.into_inner()).accept(n, self.settings.nonce_window)
    }

    pub fn highest_nonce(&self) -> u64 {
        self.nonce.lock().unwrap_or_else(|p| p.into_inner()).highest
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("public_key", &self.public_key)
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("permissions", &self.permissions)
            .field("secret", &"<redacted>")
            .field("nonce", &self.highest_nonce())
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Drop for ApiKey {
    fn drop(&mut self) {
        self.secret.iter_mut().for_each(|b| *b = 0);
        // The HMAC state derives from the secret: overwritten in place by an empty key's.
        self.keyed = keyed(&[]);
        // Keeps the wipes from being optimised away as dead stores.
        std::hint::black_box(&self.secret);
        std::hint::black_box(&self.keyed);
    }
}

/// The live keys by public key.
#[derive(Default)]
pub struct KeyRegistry {
    keys: RwLock<HashMap<String, Arc<ApiKey>>>,
}

impl fmt::Debug for KeyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRegistry").field("keys", &self.all()).finish()
    }
}

impl KeyRegistry {
    pub fn new() -> KeyRegistry {
        KeyRegistry::default()
    }

    /// Builds the registry from the store's non-revoked keys, decrypting their secrets.
    pub fn load(store: &dyn KeyStore, sbox: &SecretBox) -> Result<KeyRegistry, String> {
        let reg = KeyRegistry::new();
        for rec in store.list_keys().map_err(|e| e.to_string())? {
            if rec.revoked {
                continue;
            }
            let Some(secret) = sbox.decrypt(&rec.secret_ciphertext) else {
                let (name, id) = (&rec.name, rec.id);
                let why = "is this the data directory's master.key?";
                return Err(format!("cannot decrypt API key {name:?} (id {id}): {why}"));
            };
            let perms = Permissions(rec.permissions);
            let stored: StoredSettings =
                serde_json::from_str(&rec.settings).map_err(|e| format!("API key id {}: settings: {e}", rec.id))?;
            let settings = stored.load(sbox).map_err(|e| format!("API key id {}: {e}", rec.id))?;
            let (pk, name) = (rec.public_key, rec.name);
            let key = ApiKey::new(rec.id, pk, rec.account_id, name, perms, secret, rec.created_at).with_settings(settings);
            key.restore_nonce(rec.nonce);
            reg.insert(Arc::new(key));
        }
        Ok(reg)
    }

    // A panic elsewhere cannot leave the map half-updated, so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Arc<ApiKey>>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Arc<ApiKey>>> {
        self.keys.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, key: Arc<ApiKey>) {
        self.write().insert(key.public_key.clone(), key);
    }

    pub fn remove(&self, public_key: &str) -> Option<Arc<ApiKey>> {
        self.write().remove(public_key)
    }

    pub fn get(&self, public_key: &str) -> Option<Arc<ApiKey>> {
        self.read().get(public_key).cloned()
    }

    /// The live key with this id.
    pub fn by_id(&self, id: i64) -> Option<Arc<ApiKey>> {
        self.read().values().find(|k| k.id == id).cloned()
    }

    /// Every live key, in id order.
    pub fn all(&self) -> Vec<Arc<ApiKey>> {
        let mut v: Vec<Arc<ApiKey>> = self.read().values().cloned().collect();
        v.sort_by_key(|k| k.id);
        v
    }

    /// `(id, nonce)` of the keys whose nonce advanced since the previous call (or since load),
    /// for [`KeyStore::save_nonces`].
    pub fn dirty_nonces(&self) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        for k in self.all() {
            let n = k.highest_nonce();
            if k.persisted.fetch_max(n, Ordering::AcqRel) < n {
                out.push((k.id, n));
            }
        }
        out
    }
}

/// What a private request brings to authentication.
pub struct Request<'a> {
    pub api_key: Option<&'a str>,
    pub api_sign: Option<&'a str>,
    pub path: &'a str,
    /// The nonce's text as sent (form field or JSON value).
    pub nonce: Option<&'a str>,
    /// The raw request body exactly as received.
    pub body: &'a [u8],
    /// The `otp` field, for keys with a second factor.
    pub otp: Option<&'a str>,
    /// The client's address.
    pub client: IpAddr,
    pub now_secs: i64,
}

/// Authenticates a private request in Kraken's order: the key (unknown or expired: `EAPI:Invalid
/// key`), the key's IP allowlist, the nonce's syntax, the signature, the nonce's freshness
/// (within the key's nonce window), then the key's second factor (`EGeneral:Permission
/// denied` when missing or wrong). The nonce is consumed only after the signature verified.
pub fn authenticate(reg: &KeyRegistry, r: &Request<'_>) -> Result<Arc<ApiKey>, KrakenError> {
    let key = r.api_key.map(str::trim).filter(|k| !k.is_empty()).and_then(|k| reg.get(k)).ok_or(KrakenError::InvalidKey)?;
    if key.settings.expired(r.now_secs) {
        return Err(KrakenError::InvalidKey);
    }
    if !key.settings.allows(r.client) {
        return Err(KrakenError::PermissionDenied);
    }
    let nonce_text = r.nonce.ok_or(KrakenError::InvalidNonce)?;
    let n = parse_nonce(nonce_text).ok_or(KrakenError::InvalidNonce)?;
    let sign = r.api_sign.ok_or(KrakenError::InvalidSignature)?;
    if !key.verify(r.path, nonce_text, r.body, sign) {
        return Err(KrakenError::InvalidSignature);
    }
    if !key.accept_nonce(n) {
        let highest = key.highest_nonce();
        if n.checked_mul(100).is_some_and(|x| x < highest) {
            // Not in the answer (Kraken's string is all a client gets); a hint for the operator.
            tracing::info!(key = %key.name, nonce = n, highest, "nonce on a smaller scale than this key's highest: \
                 clients with different nonce scales (ms, µs, 10^-8 s) must not share a key");
        }
        return Err(KrakenError::InvalidNonce);
    }
    if let Some(otp) = &key.settings.otp {
        otp.check(r.otp, r.now_secs.max(0) as u64).map_err(|_| KrakenError::PermissionDenied)?;
    }
    key.last_used.store(r.now_secs, Ordering::Relaxed);
    Ok(key)
}

/// 1 to 20 ASCII digits that fit a u64 (no sign, no spaces).
fn parse_nonce(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{open_sqlite, KeyRecord};
    use KrakenError::{InvalidKey as BadKey, InvalidNonce as BadNonce, InvalidSignature as BadSig};

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
    const SECRET: &str = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    const NONCE: &str = "1616492376594";
    const BODY: &str = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
    const PATH: &str = "/0/private/AddOrder";
    const SIGN: &str = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==";

    fn secret() -> Vec<u8> {
        B64.decode(SECRET).unwrap()
    }

    #[test]
    fn krakens_published_vector() {
        assert_eq!(sign(PATH, NONCE, BODY.as_bytes(), &secret()), SIGN);
        assert!(verify(PATH, NONCE, BODY.as_bytes(), &secret(), SIGN));
    }

    #[test]
    fn verify_rejects_every_difference() {
        let s = secret();
        let mut flipped = B64.decode(SIGN).unwrap();
        flipped[63] ^= 1;
        let flipped = B64.encode(flipped);
        let cases: [(&str, &str, &str, &[u8], &str); 7] = [
            ("/0/private/Balance", NONCE, BODY, &s, SIGN),
            (PATH, "1616492376595", BODY, &s, SIGN),
            (PATH, NONCE, "nonce=1616492376594&ordertype=limit", &s, SIGN),
            (PATH, NONCE, BODY, b"another secret", SIGN),
            (PATH, NONCE, BODY, &s, "not base64 !!"),
            (PATH, NONCE, BODY, &s, &SIGN[..44]), // a truncated tag
            (PATH, NONCE, BODY, &s, &flipped),
        ];
        for (i, (path, nonce, body, secret, sig)) in cases.into_iter().enumerate() {
            assert!(!verify(path, nonce, body.as_bytes(), secret, sig), "case {i}");
        }
    }

    /// A key verifies from its kept HMAC state exactly as `verify` from the secret: the vector
    /// passes, and a tag with bytes past the 64 (decoded on the stack, up to 72) or far longer
    /// (more than the stack buffer holds) does not.
    #[test]
    fn a_key_verifies_from_its_hmac_state() {
        let key = ApiKey::new(1, "K".into(), 2, "k".into(), Permissions::ALL, secret(), 0);
        assert!(key.verify(PATH, NONCE, BODY.as_bytes(), SIGN));
        assert!(key.verify(PATH, NONCE, BODY.as_bytes(), &format!("  {SIGN} ")));
        let mut longer = B64.decode(SIGN).unwrap();
        longer.extend_from_slice(&[0; 4]);
        assert!(!key.verify(PATH, NONCE, BODY.as_bytes(), &B64.encode(&longer)));
        longer.extend_from_slice(&[0; 64]);
        assert!(!key.verify(PATH, NONCE, BODY.as_bytes(), &B64.encode(&longer)));
        assert!(!key.verify("/0/private/Balance", NONCE, BODY.as_bytes(), SIGN));
        let other = ApiKey::new(1, "K".into(), 2, "k".into(), Permissions::ALL, b"another secret".to_vec(), 0);
        assert!(!other.verify(PATH, NONCE, BODY.as_bytes(), SIGN));
    }

    #[test]
    fn permission_spellings() {
        use Permissions as P;
        #[rustfmt::skip]
        let cases = [
            ("Query Funds", P::QUERY_FUNDS),
            ("query-funds, create-modify-orders,cancel-close-orders", P::QUERY_FUNDS | P::CREATE_MODIFY_ORDERS | P::CANCEL_CLOSE_ORDERS),
            ("funds_query,funds_add,funds_withdraw,trades_query_open,trades_query_closed", P(0b11111)),
            ("TRADES_MODIFY,trades_close,ledger_query,export_data,websocket", P(0b11111_00000)),
            ("Query Open Orders & Trades,query closed orders & trades", P::QUERY_OPEN_ORDERS | P::QUERY_CLOSED_ORDERS),
            ("Cancel/Close Orders,Create & Modify Orders", P::CANCEL_CLOSE_ORDERS | P::CREATE_MODIFY_ORDERS),
            ("Query Ledger Entries, Export Data, Access WebSockets API", P::QUERY_LEDGER | P::EXPORT_DATA | P::WEBSOCKETS),
            ("QUERY_OPEN_ORDERS,query-ledger,websockets", P::QUERY_OPEN_ORDERS | P::QUERY_LEDGER | P::WEBSOCKETS),
            ("all", P::ALL),
            ("ALL, query-funds", P::ALL),
            ("query-funds,,", P::QUERY_FUNDS),
            ("none", P::NONE),
        ];
        for (text, want) in cases {
            assert_eq!(P::parse_list(text), Ok(want), "{text}");
        }
        assert!(P::parse_list("query-funds,teleport").unwrap_err().contains("teleport"));
        assert!(P::parse_list("").is_err() && P::parse_list(" , ").is_err());
        for (bit, ui, field, _) in TABLE {
            assert_eq!(P::parse_list(ui), Ok(P(bit)), "{ui}");
            assert_eq!(P::parse_list(field), Ok(P(bit)), "{field}");
        }
        for slug in P::ALL.slugs() {
            P::parse_list(&slug).unwrap();
        }
    }

    #[test]
    fn permission_names_and_contains() {
        use Permissions as P;
        let all = P::ALL.names();
        assert_eq!((all.len(), all[0], all[9]), (10, "Query Funds", "Access WebSockets API"));
        assert_eq!((P::CANCEL_CLOSE_ORDERS | P::QUERY_FUNDS).names(), ["Query Funds", "Cancel/Close Orders"]);
        assert_eq!((P::QUERY_FUNDS | P::QUERY_LEDGER).slugs(), ["query-funds", "query-ledger-entries"]);
        assert!(P::ALL.contains(P::WITHDRAW_FUNDS) && P::ALL.contains(P::ALL));
        assert!((P::QUERY_FUNDS | P::EXPORT_DATA).contains(P::EXPORT_DATA));
        assert!(!P::QUERY_FUNDS.contains(P::QUERY_FUNDS | P::EXPORT_DATA));
        assert!(!P::NONE.contains(P::QUERY_FUNDS));
        assert_eq!(P::QUERY_FUNDS.to_string(), "Query Funds");
    }

    fn key(id: i64, public: &str, secret: &[u8]) -> Arc<ApiKey> {
        Arc::new(ApiKey::new(id, public.into(), 2, format!("k{id}"), Permissions::ALL, secret.to_vec(), 0))
    }

    #[test]
    fn nonces_strictly_increase() {
        let k = key(1, "K", b"s");
        assert_eq!(k.highest_nonce(), 0);
        let results: Vec<bool> = [0, 5, 5, 4, u64::MAX, u64::MAX].iter().map(|n| k.accept_nonce(*n)).collect();
        assert_eq!(results, [false, true, false, false, true, false]);
        assert_eq!(k.highest_nonce(), u64::MAX);
    }

    #[test]
    fn racing_threads_with_one_nonce_have_one_winner() {
        for round in 1..=20u64 {
            let k = key(1, "K", b"s");
            let barrier = Arc::new(std::sync::Barrier::new(64));
            let threads: Vec<_> = (0..64)
                .map(|_| {
                    let (k, b) = (k.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        k.accept_nonce(1000 + round)
                    })
                })
                .collect();
            let wins = threads.into_iter().map(|t| t.join().unwrap()).filter(|w| *w).count();
            assert_eq!((wins, k.highest_nonce()), (1, 1000 + round), "round {round}");
        }
    }

    #[test]
    fn registry_and_dirty_nonces() {
        let reg = KeyRegistry::new();
        reg.insert(key(2, "B", b"b"));
        reg.insert(key(1, "A", b"a"));
        assert_eq!(reg.all().iter().map(|k| k.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(reg.get("A").unwrap().secret(), b"a");
        assert!(reg.get("C").is_none() && reg.dirty_nonces().is_empty());
        let (a, b) = (reg.get("A").unwrap(), reg.get("B").unwrap());
        assert!(a.accept_nonce(10) && b.accept_nonce(7) && a.accept_nonce(11));
        assert_eq!(reg.dirty_nonces(), [(1, 11), (2, 7)]);
        assert!(reg.dirty_nonces().is_empty(), "cleared by the call");
        b.accept_nonce(8);
        assert_eq!(reg.dirty_nonces(), [(2, 8)]);
        assert!(reg.remove("B").is_some() && reg.remove("B").is_none());
        assert!(reg.get("B").is_none());
        assert_eq!(reg.all().len(), 1);
    }

    #[test]
    fn load_decrypts_live_keys_and_restores_nonces() {
        let dir = tempfile::tempdir().unwrap();
        let sbox = SecretBox::load_or_create(dir.path()).unwrap();
        let (_, store) = open_sqlite(dir.path()).unwrap();
        let rec = |pk: &str, secret: &[u8], perms: Permissions| KeyRecord {
            id: 0,
            public_key: pk.into(),
            account_id: 3,
            name: pk.to_lowercase(),
            permissions: perms.0,
            secret_ciphertext: sbox.encrypt(secret),
            created_at: 1_700_000_000,
            revoked: false,
            nonce: 0,
            settings: "{}".into(),
        };
        let a = store.insert_key(&rec("PA", b"secret-a", Permissions::QUERY_FUNDS)).unwrap();
        store.insert_key(&rec("PB", b"secret-b", Permissions::ALL)).unwrap();
        store.revoke_key("PB").unwrap();
        store.save_nonces(&[(a, 500)]).unwrap();
        let reg = KeyRegistry::load(store.as_ref(), &sbox).unwrap();
        assert_eq!(reg.all().len(), 1, "revoked keys are not loaded");
        let k = reg.get("PA").unwrap();
        assert_eq!((k.id, k.account_id, k.name.as_str(), k.permissions), (a, 3, "pa", Permissions::QUERY_FUNDS));
        assert_eq!((k.secret(), k.created_at, k.highest_nonce()), (&b"secret-a"[..], 1_700_000_000, 500));
        assert!(!k.accept_nonce(500));
        assert!(reg.dirty_nonces().is_empty(), "the loaded nonce is already persisted");
        let wrong = SecretBox::from_key(&[9; 32]);
        assert!(KeyRegistry::load(store.as_ref(), &wrong).unwrap_err().contains("master.key"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let dbg = format!("{:?}", key(1, "PUB", b"SUPERSECRETBYTES"));
        assert!(dbg.contains("PUB") && dbg.contains("redacted"));
        assert!(!dbg.contains("SUPERSECRETBYTES") && !dbg.contains("83, 85, 80"));
    }

    /// `authenticate` from loopback at time 0, with no `otp`.
    fn auth(
        reg: &KeyRegistry,
        api_key: Option<&str>,
        api_sign: Option<&str>,
        path: &str,
        nonce: Option<&str>,
        body: &[u8],
    ) -> Result<Arc<ApiKey>, KrakenError> {
        let client = IpAddr::from([127, 0, 0, 1]);
        authenticate(reg, &Request { api_key, api_sign, path, nonce, body, otp: None, client, now_secs: 0 })
    }

    /// A registry holding key 1 ("PUBKEY") with the published secret.
    fn registry() -> KeyRegistry {
        let reg = KeyRegistry::new();
        reg.insert(key(1, "PUBKEY", &secret()));
        reg
    }

    /// Signs `body` as a client would, for the table below.
    fn header(spec: &str, nonce: Option<&str>, body: &str) -> Option<String> {
        let n = nonce.unwrap_or("");
        match spec {
            "none" => None,
            "good" => Some(sign(PATH, n, body.as_bytes(), &secret())),
            "wrong-secret" => Some(sign(PATH, n, body.as_bytes(), b"wrong secret")),
            "wrong-path" => Some(sign("/0/private/Balance", n, body.as_bytes(), &secret())),
            literal => Some(literal.to_string()),
        }
    }

    /// Every branch of `authenticate`, in order against one key (rows depend on earlier ones).
    #[rustfmt::skip]
    #[test]
    fn authenticate_in_krakens_order() {
        const K: Option<&str> = Some("PUBKEY");
        let max = u64::MAX.to_string();
        let max_body = format!("nonce={max}");
        type Row<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, &'a str, Result<(), KrakenError>);
        let cases: Vec<Row> = vec![
            ("no key", None, "good", Some("5"), "nonce=5", Err(BadKey)),
            ("empty key", Some(""), "good", Some("5"), "nonce=5", Err(BadKey)),
            ("unknown key", Some("OTHER"), "good", Some("5"), "nonce=5", Err(BadKey)),
            ("the key is checked first", Some("OTHER"), "none", None, "", Err(BadKey)),
            ("no nonce", K, "good", None, "", Err(BadNonce)),
            ("no nonce beats no signature", K, "none", None, "", Err(BadNonce)),
            ("empty nonce", K, "good", Some(""), "nonce=", Err(BadNonce)),
            ("letters", K, "good", Some("abc"), "nonce=abc", Err(BadNonce)),
            ("negative", K, "good", Some("-5"), "nonce=-5", Err(BadNonce)),
            ("plus sign", K, "good", Some("+5"), "nonce=+5", Err(BadNonce)),
            ("fraction", K, "good", Some("1.5"), "nonce=1.5", Err(BadNonce)),
            ("space", K, "good", Some(" 5"), "nonce= 5", Err(BadNonce)),
            ("2^64", K, "good", Some("18446744073709551616"), "nonce=18446744073709551616", Err(BadNonce)),
            ("21 digits", K, "good", Some("000000000000000000005"), "nonce=000000000000000000005", Err(BadNonce)),
            ("no signature", K, "none", Some("10"), "nonce=10", Err(BadSig)),
            ("bad base64", K, "%%%", Some("10"), "nonce=10", Err(BadSig)),
            ("empty signature", K, "", Some("10"), "nonce=10", Err(BadSig)),
            ("wrong secret", K, "wrong-secret", Some("10"), "nonce=10", Err(BadSig)),
            ("wrong path", K, "wrong-path", Some("10"), "nonce=10", Err(BadSig)),
            ("failures consumed no nonce", K, "good", Some("10"), "nonce=10", Ok(())),
            ("bad signature beats stale nonce", K, "wrong-secret", Some("10"), "nonce=10", Err(BadSig)),
            ("replayed nonce", K, "good", Some("10"), "nonce=10", Err(BadNonce)),
            ("lower nonce", K, "good", Some("9"), "nonce=9", Err(BadNonce)),
            ("JSON body", K, "good", Some("21"), r#"{"nonce": 21, "pair": "XBTUSD"}"#, Ok(())),
            ("Kraken's example", K, SIGN, Some(NONCE), BODY, Ok(())),
            ("20 digits", K, "good", Some(&max), &max_body, Ok(())),
            ("after u64::MAX", K, "good", Some(&max), &max_body, Err(BadNonce)),
        ];
        let reg = registry();
        for (what, key, sig, nonce, body, want) in cases {
            let sig = header(sig, nonce, body);
            let got = auth(&reg, key, sig.as_deref(), PATH, nonce, body.as_bytes());
            assert_eq!(got.map(|k| assert_eq!(k.id, 1)), want, "{what}");
        }
        assert_eq!(reg.get("PUBKEY").unwrap().highest_nonce(), u64::MAX);
        reg.remove("PUBKEY");
        let sig = header("good", Some("5"), "nonce=5");
        let got = auth(&reg, K, sig.as_deref(), PATH, Some("5"), b"nonce=5");
        assert_eq!(got.unwrap_err(), BadKey, "revoked");
    }

    #[test]
    fn authenticate_signs_the_raw_body() {
        let reg = registry();
        let sent = "pair=XBTUSD&nonce=20&type=buy";
        let sig = header("good", Some("20"), sent).unwrap();
        let call = |body: &str| auth(&reg, Some("PUBKEY"), Some(&sig), PATH, Some("20"), body.as_bytes());
        // The same parameters re-encoded are not what was signed.
        for other in ["nonce=20&pair=XBTUSD&type=buy", "pair=XBTUSD&nonce=20&type=buy&", r#"{"nonce":20,"pair":"XBTUSD"}"#] {
            assert_eq!(call(other).unwrap_err(), BadSig, "{other}");
        }
        assert!(call(sent).is_ok());
    }
}
