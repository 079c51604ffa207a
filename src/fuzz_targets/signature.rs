//! Target: the signature and nonce path (`auth::authenticate`) against one known key, with the
//! expected answer computed independently (HMAC-SHA512 straight from the `hmac` crate).

use super::assert_kraken_error;
use crate::api::params::Params;
use crate::auth::{authenticate, ApiKey, KeyRegistry, Permissions, Request};
use crate::error::KrakenError;
use crate::key_settings::KeySettings;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use std::net::IpAddr;
use std::sync::Arc;

pub const KEY: &str = "FUZZKEY";
const WINDOW: u64 = 3;
const SECRET: &[u8] = b"the fuzz target's API secret, 64 bytes long, as Kraken's are....";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The input is five newline-separated parts: `API-Key`, `API-Sign`, nonce, path, body (the
/// body is the rest, newlines included). An empty key, signature or nonce is absent. A
/// signature of `=` is replaced by the real signature of this request, a nonce of `*` by the
/// body's `nonce` field, so that the fuzzer also explores what happens after the signature.
///
/// Properties: the answer is exactly the one computed from the parts (key, nonce syntax,
/// signature, freshness, in Kraken's order); an accepted request is refused when replayed
/// (`EAPI:Invalid nonce`) or when one byte is added to its body (`EAPI:Invalid signature`); the
/// next nonce, correctly signed, is accepted; a lower one is then refused; on a key with a
/// nonce window, the nonces just below an accepted one are accepted once each.
pub fn signed_request(data: &[u8]) {
    let mut parts = data.splitn(5, |b| *b == b'\n').map(String::from_utf8_lossy);
    let mut next = || parts.next().unwrap_or_default();
    let (api_key, sign, nonce, path) = (next(), next(), next(), next());
    let body = data.splitn(5, |b| *b == b'\n').nth(4).unwrap_or_default();
    let present = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    let nonce =
        if nonce == "*" { Params::from_body(None, body).ok().and_then(|p| p.get("nonce").map(str::to_string)) } else { present(&nonce) };
    let sign = if sign == "=" { Some(real_sign(&path, nonce.as_deref().unwrap_or(""), body)) } else { present(&sign) };

    let reg = KeyRegistry::new();
    reg.insert(Arc::new(ApiKey::new(1, KEY.into(), 2, "fuzz".into(), Permissions::ALL, SECRET.to_vec(), 0)));
    let key_header = present(&api_key);
    let call = |sign: Option<&str>, nonce: Option<&str>, body: &[u8]| {
        let client = IpAddr::from([127, 0, 0, 1]);
        let r = Request { api_key: key_header.as_deref(), api_sign: sign, path: &path, nonce, body, otp: None, client, now_secs: 0 };
        authenticate(&reg, &r).map(|k| assert_eq!(k.public_key, KEY))
    };

    let got = call(sign.as_deref(), nonce.as_deref(), body);
    let n = nonce.as_deref().and_then(reference_nonce);
    let signed =
        sign.as_deref().is_some_and(|s| B64.decode(s.trim()).is_ok_and(|tag| tag == real_tag(&path, nonce.as_deref().unwrap_or(""), body)));
    let want = if api_key.trim() != KEY {
        Err(KrakenError::InvalidKey)
    } else if n.is_none() {
        Err(KrakenError::InvalidNonce)
    } else if !signed {
        Err(KrakenError::InvalidSignature)
    } else if n == Some(0) {
        Err(KrakenError::InvalidNonce)
    } else {
        Ok(())
    };
    assert_eq!(got, want, "key {api_key:?} sign {sign:?} nonce {nonce:?} path {path:?}");
    if let Err(e) = &got {
        assert_kraken_error(e);
    }
    let (Ok(()), Some(n), Some(sign)) = (got, n, sign) else { return };
    let nonce = nonce.unwrap();
    check_nonce_window(&path, n, body);
    assert_eq!(call(Some(&sign), Some(&nonce), body), Err(KrakenError::InvalidNonce), "replay accepted");
    let longer = [body, b"&"].concat();
    assert_eq!(call(Some(&sign), Some(&nonce), &longer), Err(KrakenError::InvalidSignature), "a changed body kept its signature");
    if n < u64::MAX {
        let up = (n + 1).to_string();
        assert_eq!(call(Some(&real_sign(&path, &up, body)), Some(&up), body), Ok(()), "next nonce refused");
        assert_eq!(call(Some(&real_sign(&path, &nonce, body)), Some(&nonce), body), Err(KrakenError::InvalidNonce), "older nonce");
    }
}

/// A key with a nonce window of [`WINDOW`]: after `n` is accepted, each nonce up to `WINDOW`
/// below it (and above 0) is accepted exactly once, and nothing further below.
fn check_nonce_window(path: &str, n: u64, body: &[u8]) {
    let settings = KeySettings { nonce_window: WINDOW, ..KeySettings::default() };
    let key = ApiKey::new(1, KEY.into(), 2, "fuzz".into(), Permissions::ALL, SECRET.to_vec(), 0).with_settings(settings);
    let reg = KeyRegistry::new();
    reg.insert(Arc::new(key));
    let call = |n: u64| {
        let nonce = n.to_string();
        let sign = real_sign(path, &nonce, body);
        let client = IpAddr::from([127, 0, 0, 1]);
        let r = Request { api_key: Some(KEY), api_sign: Some(&sign), path, nonce: Some(&nonce), body, otp: None, client, now_secs: 0 };
        authenticate(&reg, &r).map(|_| ())
    };
    assert_eq!(call(n), Ok(()), "fresh nonce {n} on a windowed key");
    for below in 1..=WINDOW + 1 {
        let Some(m) = n.checked_sub(below) else { break };
        let once = if below <= WINDOW && m > 0 { Ok(()) } else { Err(KrakenError::InvalidNonce) };
        assert_eq!(call(m), once, "nonce {m}, {below} below {n}, window {WINDOW}");
        assert_eq!(call(m), Err(KrakenError::InvalidNonce), "nonce {m} accepted twice");
    }
}

/// base64(HMAC-SHA512(secret, path + SHA256(nonce + body))), written out again here.
fn real_tag(path: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut inner = Sha256::new();
    inner.update(nonce.as_bytes());
    inner.update(body);
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(SECRET).unwrap();
    mac.update(path.as_bytes());
    mac.update(&inner.finalize());
    mac.finalize().into_bytes().to_vec()
}

fn real_sign(path: &str, nonce: &str, body: &[u8]) -> String {
    B64.encode(real_tag(path, nonce, body))
}

/// A nonce is 1 to 20 ASCII digits whose value fits a u64.
fn reference_nonce(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse::<u128>().ok()).flatten().and_then(|v| u64::try_from(v).ok())
}
