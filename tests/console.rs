//! The web console through the real server over HTTP: CSRF on every form that changes something,
//! no session fixation (log-in always issues a new session id and the old one is worthless), the
//! security headers, sign-up off by config, the key pages' ownership checks, and the same grant
//! rule as the CLI. (tests/console/ drives the same pages in a real Chromium.)

mod common;
use common::console::Browser;
use common::Server;

fn keys_of(s: &Server, account: &str) -> usize {
    let out = s.cli(&["key", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["keys"].as_array().unwrap().iter().filter(|k| k["account"] == account).count()
}

#[test]
fn every_changing_form_needs_the_sessions_csrf_token() {
    let s = Server::start();
    let mut b = Browser::new(&s.url);
    b.sign_up("alice", "alice-password-1");
    let page = b.get("/console/keys");
    assert_eq!(page.status, 200);
    let token = page.csrf();
    // Another visitor's token (a real token, of another session) is as bad as none.
    let other = Browser::new(&s.url).get("/console/login").csrf();
    fn key_form(csrf: Option<&str>) -> Vec<(&str, &str)> {
        let mut f = vec![("name", "bot"), ("perm", "funds_query")];
        if let Some(c) = csrf {
            f.push(("csrf", c));
        }
        f
    }
    for (what, csrf) in
        [("no token", None), ("another session's token", Some(other.as_str())), ("a wrong token", Some(&"0".repeat(64)[..]))]
    {
        let p = b.post("/console/keys", &key_form(csrf));
        assert_eq!(p.status, 403, "{what}: {}", p.body);
        assert!(p.body.contains("CSRF token missing or wrong"), "{what}");
        assert_eq!(keys_of(&s, "alice"), 0, "{what}: no key was created");
    }
    // The account's other forms: cancel, revoke, edit, log-out; none acts without the token.
    for path in ["/console/orders/cancel", "/console/keys/revoke", "/console/keys/edit", "/console/logout"] {
        let p = b.post(path, &[("all", "1"), ("id", "1")]);
        assert_eq!(p.status, 403, "{path}");
    }
    assert_eq!(b.get("/console/balances").status, 200, "the refused log-out did not log out");
    // The log-in and sign-up forms carry one too.
    let mut anon = Browser::new(&s.url);
    anon.get("/console/login");
    assert_eq!(anon.post("/console/login", &[("account", "alice"), ("password", "alice-password-1")]).status, 403);
    assert_eq!(
        anon.post("/console/signup", &[("account", "eve"), ("password", "eve-password-1"), ("password2", "eve-password-1")]).status,
        403
    );
    // With the token, it works.
    let p = b.post("/console/keys", &key_form(Some(&token)));
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Key generated"));
    assert_eq!(keys_of(&s, "alice"), 1);
}

#[test]
fn log_in_issues_a_new_session_and_the_planted_one_stays_anonymous() {
    let s = Server::start();
    s.cli(&["account", "create", "victim"]);
    let out = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&s.data_dir)
        .args(["account", "password", "victim"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"victim-password-1\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    // The attacker gets a session from the server and plants its id in the victim's browser.
    let mut attacker = Browser::new(&s.url);
    let form = attacker.get("/console/login");
    let planted = attacker.session.clone().expect("a session cookie for every visitor");
    let mut victim = Browser::new(&s.url);
    victim.session = Some(planted.clone());
    let p = victim.post("/console/login", &[("csrf", &form.csrf()), ("account", "victim"), ("password", "victim-password-1")]);
    assert_eq!((p.status, p.header("location")), (303, Some("/console/balances")));
    let fresh = p.session_cookie().expect("log-in sets a new cookie");
    assert_ne!(fresh, planted, "log-in must not keep the visitor's session id");
    assert_eq!(victim.get("/console/balances").status, 200, "the victim is logged in with the new id");
    // The planted id is not logged in: the attacker is sent to the log-in page.
    let p = attacker.get("/console/balances");
    assert_eq!((p.status, p.header("location")), (303, Some("/console/login")));
    // An id the server never issued is not adopted either.
    let mut forger = Browser::new(&s.url);
    let chosen = "ab".repeat(32);
    forger.session = Some(chosen.clone());
    let p = forger.get("/console/login");
    assert_ne!(p.session_cookie().as_deref(), Some(chosen.as_str()));
    // Log-out ends the session: its id no longer works.
    let id = victim.session.clone().unwrap();
    let csrf = victim.get("/console/balances").csrf();
    assert_eq!(victim.post("/console/logout", &[("csrf", &csrf)]).status, 303);
    victim.session = Some(id);
    assert_eq!(victim.get("/console/balances").status, 303);
}

#[test]
fn headers_cookies_and_what_a_session_may_touch() {
    let s = Server::start();
    let mut b = Browser::new(&s.url);
    let p = b.get("/");
    assert_eq!((p.status, p.header("location")), (303, Some("/console/")));
    let p = b.get("/console/login");
    let cookie = p.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    b.sign_up("alice", "alice-password-1");
    for path in [
        "/console/balances",
        "/console/orders",
        "/console/trades",
        "/console/ledger",
        "/console/funding",
        "/console/account",
        "/console/keys",
    ] {
        let p = b.get(path);
        assert_eq!(p.status, 200, "{path}");
        let csp = p.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(p.header("x-frame-options"), Some("DENY"));
        assert_eq!(p.header("cache-control"), Some("no-store"), "{path}");
        assert!(!p.body.contains("<script>") && !p.body.contains("style=\""), "{path}: no inline script or style");
    }
    let js = b.get("/console/assets/console.js");
    assert_eq!((js.status, js.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    // Sign-up credited the configured test money as deposits (ledger entries).
    assert!(b.get("/console/ledger").body.contains("deposit"));
    // Withdraw Funds on an unverified account: refused by the CLI's rule, nothing created.
    let csrf = b.get("/console/keys").csrf();
    let p = b.post("/console/keys", &[("csrf", &csrf), ("name", "w"), ("perm", "funds_withdraw")]);
    assert_eq!(p.status, 400);
    assert!(p.body.contains("Withdraw Funds needs a verified account"), "{}", p.body);
    assert_eq!(keys_of(&s, "alice"), 0);
    // Another account's key can be neither seen, edited nor revoked from alice's session.
    let demo_id = {
        let v: serde_json::Value = serde_json::from_str(s.cli(&["key", "list", "--json"]).trim()).unwrap();
        v["keys"].as_array().unwrap().iter().find(|k| k["account"] == "demo").unwrap()["id"].to_string()
    };
    assert_eq!(b.get(&format!("/console/keys/edit?id={demo_id}")).status, 303);
    let p = b.post("/console/keys/revoke", &[("csrf", &csrf), ("id", &demo_id)]);
    assert_eq!(p.status, 303);
    assert_eq!(keys_of(&s, "demo"), 1, "the demo key is still live");
    // Log-in is refused with the same words for a wrong password and an unknown account.
    let mut other = Browser::new(&s.url);
    let a = other.log_in("alice", "wrong-password");
    let c = other.log_in("nobody", "wrong-password");
    assert_eq!((a.status, c.status), (401, 401));
    assert!(a.body.contains("Wrong account name or password.") && c.body.contains("Wrong account name or password."));
}

#[test]
fn sign_up_can_be_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "[console]\nsignup = false\n").unwrap();
    let s = Server::start_with(&["--config", cfg.to_str().unwrap()], &[]);
    let mut b = Browser::new(&s.url);
    assert_eq!(b.get("/console/signup").status, 403);
    let login = b.get("/console/login");
    assert!(!login.body.contains("/console/signup"), "no sign-up link when it is off");
    let p = b.post(
        "/console/signup",
        &[("csrf", &login.csrf()), ("account", "eve"), ("password", "eve-password-1"), ("password2", "eve-password-1")],
    );
    assert_eq!(p.status, 403);
    let v: serde_json::Value = serde_json::from_str(s.cli(&["account", "list", "--json"]).trim()).unwrap();
    assert!(v["accounts"].as_array().unwrap().iter().all(|a| a["name"] != "eve"), "no account was created");
}

#[test]
fn funding_page_runs_the_apis_funding_methods_and_rules() {
    let s = Server::start();
    let mut b = Browser::new(&s.url);
    b.sign_up("alice", "alice-password-1");
    let p = b.get("/console/funding?asset=XBT");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("EFunding:No funding method"), "an unverified account gets the API's answer: {}", p.body);
    s.cli(&["account", "tier", "alice", "intermediate"]);
    let p = b.get("/console/funding?asset=XBT");
    assert!(p.body.contains("Generate a new Bitcoin address") && !p.body.contains("EFunding"), "{}", p.body);
    assert_eq!(b.post("/console/funding/address", &[("asset", "XBT"), ("method", "Bitcoin")]).status, 403, "no CSRF token");
    let p = b.post("/console/funding/address", &[("csrf", &p.csrf()), ("asset", "XBT"), ("method", "Bitcoin")]);
    assert_eq!(p.status, 303);
    let page = b.get(p.header("location").unwrap());
    assert!(page.body.contains("A new deposit address was generated.") && page.body.contains("<code>bc1"), "{}", page.body);
    // A withdrawal to a key the book does not have: the API's refusal, shown on the page.
    let p = b.post("/console/funding/withdraw", &[("csrf", &page.csrf()), ("asset", "XBT"), ("key", "nowhere"), ("amount", "0.01")]);
    let page = b.get(p.header("location").unwrap());
    assert!(page.body.contains("Refused: EFunding:Unknown withdraw key"), "{}", page.body);
}
