//! The OpenAPI description (src/api/openapi.json, served at /openapi.json) checked against the
//! code so that it cannot drift: the public and private methods the server answers are exactly
//! the spec's paths, each private path's `x-kraken-permissions` is `permission_for`'s set, the
//! spec's `x-kraken-errors` is exactly the set of strings src/error.rs spells, and the served
//! document is the file byte for byte. Response shapes are checked by schemathesis
//! (tests/schema/run) against the same document.

mod common;
use calamari::api::{private, public};
use common::Server;
use serde_json::Value;
use std::collections::BTreeSet;

fn spec() -> Value {
    serde_json::from_str(calamari::api::OPENAPI_JSON).expect("src/api/openapi.json is JSON")
}

/// The method names of the spec's paths under `prefix` (e.g. `/0/public/`).
fn spec_methods(spec: &Value, prefix: &str) -> BTreeSet<String> {
    spec["paths"].as_object().unwrap().keys().filter_map(|p| p.strip_prefix(prefix)).map(str::to_string).collect()
}

#[test]
fn spec_paths_are_exactly_the_dispatched_methods() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.0."), "OpenAPI 3.0.x");
    let code_public: BTreeSet<String> = public::METHODS.iter().map(|m| m.to_string()).collect();
    let code_private: BTreeSet<String> = private::METHODS.iter().map(|(m, _)| m.to_string()).collect();
    assert_eq!(spec_methods(&spec, "/0/public/"), code_public, "public methods: spec paths vs public::METHODS");
    assert_eq!(spec_methods(&spec, "/0/private/"), code_private, "private methods: spec paths vs private::METHODS");
    let others: Vec<&String> = spec["paths"].as_object().unwrap().keys().filter(|p| !p.starts_with("/0/")).collect();
    assert_eq!(others, ["/health", "/metrics", "/openapi.json"], "operator paths (the /admin routes stay out)");

    for m in &code_public {
        let ops = &spec["paths"][format!("/0/public/{m}")];
        assert!(ops["get"].is_object() && ops["post"].is_object(), "{m}: public methods answer GET and POST");
    }
    for m in &code_private {
        let op = &spec["paths"][format!("/0/private/{m}")];
        assert_eq!(op.as_object().unwrap().keys().collect::<Vec<_>>(), ["post"], "{m}: POST only");
        let content = &op["post"]["requestBody"]["content"];
        for ct in ["application/x-www-form-urlencoded", "application/json"] {
            let reference = content[ct]["schema"]["$ref"].as_str().unwrap_or_else(|| panic!("{m}: {ct} body"));
            let name = reference.rsplit('/').next().unwrap();
            let required = &spec["components"]["schemas"][name]["required"];
            assert!(required.as_array().unwrap().contains(&Value::from("nonce")), "{m}: nonce required");
        }
        assert_eq!(op["post"]["security"], serde_json::json!([{"API-Key": [], "API-Sign": []}]), "{m}: signed");
    }
}

#[test]
fn private_permissions_match_permission_for() {
    let spec = spec();
    for (method, needs) in private::METHODS {
        // A combined permission (all of its parts needed) is its slugs joined by `+`.
        // No permission at all ("None" on Kraken's page) is an empty list.
        let in_code: BTreeSet<String> = needs.iter().map(|p| p.slugs().join("+")).filter(|s| !s.is_empty()).collect();
        let op = &spec["paths"][format!("/0/private/{method}")]["post"];
        let in_spec: BTreeSet<String> = op["x-kraken-permissions"]
            .as_array()
            .unwrap_or_else(|| panic!("{method}: x-kraken-permissions"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(in_spec, in_code, "{method}: x-kraken-permissions vs permission_for");
        assert_eq!(private::permission_for(method), Some(*needs));
    }
    assert!(private::permission_for("NoSuchMethod").is_none());
}

/// Every literal Kraken error text in `KrakenError::as_kraken` (templates keep their `{name}`).
fn error_strings_in_code() -> BTreeSet<String> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/error.rs")).unwrap();
    let start = src.find("pub fn as_kraken").expect("as_kraken");
    // The body of `as_kraken` only: up to the next function.
    let end = start + 1 + src[start + 1..].find("pub fn ").expect("a function after as_kraken");
    let body = &src[start..end];
    let mut out = BTreeSet::new();
    for piece in body.split('"').skip(1).step_by(2) {
        if piece.starts_with('E') && piece.contains(':') {
            out.insert(piece.to_string());
        }
    }
    out
}

#[test]
fn spec_lists_exactly_the_error_strings_of_error_rs() {
    let spec = spec();
    let list: Vec<String> = spec["x-kraken-errors"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let in_spec: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(in_spec.len(), list.len(), "x-kraken-errors has duplicates");
    let in_code = error_strings_in_code();
    assert!(in_code.len() >= 20, "parsed too few error strings from src/error.rs: {in_code:?}");
    let missing: Vec<_> = in_code.difference(&in_spec).collect();
    let extra: Vec<_> = in_spec.difference(&in_code).collect();
    assert!(missing.is_empty() && extra.is_empty(), "x-kraken-errors vs src/error.rs: missing {missing:?}, not in code {extra:?}");
    let pattern = spec["components"]["schemas"]["KrakenError"]["pattern"].as_str().unwrap();
    assert_eq!(pattern, "^[EW][A-Za-z]+:.+");
    for e in &in_code {
        let (category, text) = e.split_once(':').unwrap();
        assert!(category.len() > 1 && category.chars().all(|c| c.is_ascii_alphabetic()) && !text.is_empty(), "{e} fits {pattern}");
    }
}

#[test]
fn served_document_is_the_file_and_every_method_is_served() {
    let server = Server::start_with(&["--limits", "off"], &[]); // no public limit masking a method
    let on_disk = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json")).unwrap();
    let resp = ureq::get(&format!("{}/openapi.json", server.url)).call().expect("GET /openapi.json");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert!(resp.into_string().unwrap() == on_disk, "served /openapi.json differs from src/api/openapi.json");

    let unknown = |v: &Value| v["error"].as_array().is_some_and(|e| e.iter().any(|s| s == "EGeneral:Unknown method"));
    for m in public::METHODS {
        let get = server.public(m, "");
        let post: Value = ureq::post(&format!("{}/0/public/{m}", server.url)).send_string("").unwrap().into_json().unwrap();
        assert!(!unknown(&get) && !unknown(&post), "public {m} is in the spec but not served: {get} {post}");
    }
    assert!(unknown(&server.public("NoSuchMethod", "")));
    let key = server.account("spec", "1000", "0", "all");
    for (m, _) in private::METHODS {
        let v = server.private(&key, m, &[]);
        assert!(!unknown(&v), "private {m} is in the spec but not served: {v}");
    }
    assert!(unknown(&server.private(&key, "NoSuchMethod", &[])));
}
