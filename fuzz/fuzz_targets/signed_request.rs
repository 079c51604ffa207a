#![no_main]
//! libFuzzer entry for calamari::fuzz_targets::signed_request (the properties live there, shared with
//! the stable corpus replay in tests/fuzz_corpus.rs).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calamari::fuzz_targets::signed_request(data));
