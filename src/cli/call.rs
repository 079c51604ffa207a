//! `calamari call`: a signed Kraken client for any endpoint, with the key and secret from the
//! environment, signing exactly as Kraken's clients do.

use base64::Engine as _;
use serde_json::Value;

pub const PUBLIC_METHODS: &[&str] = &["Time", "SystemStatus", "Assets", "AssetPairs", "Ticker", "Depth", "Trades", "Spread", "OHLC"];

pub fn parse_params(params: &[String]) -> Result<Vec<(String, String)>, String> {
    params
        .iter()
        .map(|p| p.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("parameter {p:?} is not key=value")))
        .collect()
}

pub fn call(url: &str, method: &str, params: &[String]) -> Result<i32, String> {
    let url = url.trim_end_matches('/');
    let mut pairs = parse_params(params)?;
    let response = if PUBLIC_METHODS.contains(&method) {
        let query = serde_urlencoded::to_string(&pairs).map_err(|e| e.to_string())?;
        ureq::get(&format!("{url}/0/public/{method}?{query}")).call()
    } else {
        let key =
            std::env::var("KRAKEN_API_KEY").map_err(|_| "set KRAKEN_API_KEY (and KRAKEN_API_SECRET) for private calls".to_string())?;
        let secret_b64 = std::env::var("KRAKEN_API_SECRET").map_err(|_| "set KRAKEN_API_SECRET for private calls".to_string())?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret_b64.trim())
            .map_err(|_| "KRAKEN_API_SECRET is not base64".to_string())?;
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0).to_string();
        pairs.push(("nonce".into(), nonce.clone()));
        let body = serde_urlencoded::to_string(&pairs).map_err(|e| e.to_string())?;
        let path = format!("/0/private/{method}");
        let sign = crate::auth::sign(&path, &nonce, body.as_bytes(), &secret);
        ureq::post(&format!("{url}{path}"))
            .set("API-Key", &key)
            .set("API-Sign", &sign)
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&body)
    };
    let v: Value = match response {
        Ok(r) => r.into_json().map_err(|e| e.to_string())?,
        Err(ureq::Error::Status(code, r)) => return Err(format!("HTTP {code}: {}", r.into_string().unwrap_or_default())),
        Err(e) => return Err(format!("{url}: {e}")),
    };
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(if v["error"].as_array().is_some_and(|e| !e.is_empty()) { 1 } else { 0 })
}
