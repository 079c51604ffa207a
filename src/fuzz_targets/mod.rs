//! Fuzz targets: one function per untrusted-input path, each taking raw bytes and asserting
//! properties of the result (not only "no panic"). They live in the library, on stable, so that
//! the same code runs under libFuzzer (`fuzz/`, nightly) and as the corpus replay in
//! `tests/fuzz_corpus.rs` (stable, every CI run). A failed property panics with the reason.
//!
//! Inputs that need several fields (the signature target) split the bytes on newlines, so that
//! hand-written seeds stay readable; see each target's doc.

mod body;
mod decimal;
mod order;
mod signature;

pub use body::request_body;
pub use decimal::decimal;
pub use order::new_order;
pub use signature::signed_request;

use crate::error::KrakenError;

/// A fuzz target: its name and the function that takes the fuzzer's bytes.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by its name in `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: [Target; 4] =
    [("request_body", request_body), ("signed_request", signed_request), ("decimal", decimal), ("new_order", new_order)];

/// A refusal must be one of Kraken's error strings: `E<Category>:<Message>`.
fn assert_kraken_error(e: &KrakenError) {
    let text = e.as_kraken();
    let (category, message) = text.split_once(':').unwrap_or_else(|| panic!("not a Kraken error: {text:?}"));
    assert!(
        ["EGeneral", "EAPI", "EQuery", "EOrder", "EService", "EFunding"].contains(&category) && !message.is_empty(),
        "not a Kraken error: {text:?}"
    );
}
