//! `calamari replay --at T` is the state a live server had at engine time T, even when the
//! server has logged more since: a `Tick` for a deposit confirmation that fell due after T is
//! left out, then counted once the time given reaches it. (The kill -9 loop compares a live
//! audit with this replay; without the cut it failed when the server's 1-second nudge logged a
//! due transition between the audit and the replay.)

mod common;

use common::{ok, Server};
use serde_json::{json, Value};

fn audit(s: &Server) -> Value {
    let v: Value = serde_json::from_str(s.cli(&["audit"]).trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v
}

fn replay_at(s: &Server, at: &Value) -> Value {
    let out = s.cli(&["replay", "--at", &at.as_u64().unwrap().to_string()]);
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn replay_at_a_time_leaves_out_what_was_logged_after_it() {
    let s = Server::start_with(&["--limits", "off"], &[("CALAMARI_TEST_CLOCK", "1")]);
    let k = s.account("alice", "1000", "1", "all");
    let addr =
        ok(&s.private(&k, "DepositAddresses", &[("asset", "XBT"), ("method", "Bitcoin")]))[0]["address"].as_str().unwrap().to_string();
    s.cli(&["chain", "deposit", &addr, "0.5"]);
    let before = audit(&s);
    let records_before = replay_at(&s, &before["now_ns"])["records"].clone();

    // The confirmations fall due on the test clock; a read through the queue logs their Tick.
    s.admin_post("/admin/clock/advance", json!({ "seconds": 4000 })).unwrap();
    let bal = ok(&s.private(&k, "Balance", &[])).clone();
    assert_eq!(bal["XXBT"], "1.5000000000", "the deposit was credited: {bal}");
    let after = audit(&s);
    assert_ne!(before["digest"], after["digest"], "the credit changed the state");

    let then = replay_at(&s, &before["now_ns"]);
    assert_eq!(then["digest"], before["digest"], "the replay at the first audit's time is that state: {then}");
    assert_eq!(then["records"], records_before, "and leaves out the records logged after it");
    let now = replay_at(&s, &after["now_ns"]);
    assert_eq!(now["digest"], after["digest"], "the replay at the second audit's time is the live state: {now}");
    assert!(now["records"].as_u64() > then["records"].as_u64(), "{now} {then}");
    s.assert_no_panics();
}
