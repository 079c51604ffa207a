//! Engine checkpoint files: the engine's whole state at one command-log sequence number, so that
//! a start replays only the log after it. (Not the operator's "database snapshot" of
//! `calamari snapshot save`, which copies the whole database: see `admin::state`.)
//!
//! This module knows only the container, never the state inside it. A file in
//! `DATA_DIR/checkpoints/` is named `checkpoint-EPOCH-SEQ.ckpt` and is three parts:
//!
//! ```text
//! {"format":"calamari-engine-checkpoint","version":2,"engine":"…","seq":…,…}\n   header (JSON)
//! 8 hex digits\n                                                                 CRC-32 of header line + payload
//! payload (postcard bytes)
//! ```
//!
//! A file is written to a temporary name, synced, renamed into place and the directory synced,
//! so a crash at any moment leaves either the old set of files or the new one (and perhaps a
//! `.tmp` file, ignored and removed at the next write). Reading checks the header, the length
//! and the checksum before anything looks at the payload.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The container's name and version: a file of another version is refused (the log is
/// replayed instead).
pub const FORMAT: &str = "calamari-engine-checkpoint";
/// 2: books keep each level's orders as a list rebuilt into the book's slab (`engine::queue`).
/// 3: trades and ledger entries left the engine (`engine::outbox`): counters and a running hash.
/// 4: closed orders are emitted into the outbox (`engine::outbox`): a closings counter.
/// 5: closed orders left the engine (`engine::orders`): the orders not final and the order
///    counter; accounts no longer list their closed orders.
/// 6: the history fold is XXH3-128 over each record's fields.
/// 7: a book no longer keeps the time of the command being applied (its methods are given it).
/// 8: the history's running hash is 64 bits (`engine::outbox`: a `u64`, no longer 16 bytes).
/// 9: a closed order is folded in two lanes, its amounts left out when all are zero, its closing
///    number not folded (`engine::outbox`).
/// 10: trade records and ledger entries are folded in two lanes too (`engine::outbox`).
pub const VERSION: u32 = 10;
/// The directory under the data directory.
pub const DIR: &str = "checkpoints";

/// What a checkpoint says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The engine build that wrote it (`build.rs`: a fingerprint of `src/engine`).
    pub engine: String,
    /// SHA-256 of the markets (configuration) the state was built with.
    pub markets: String,
    /// The command log's generation (bumped when the whole log is replaced: reset, restore).
    pub epoch: u64,
    /// The last command-log record the state includes.
    pub seq: u64,
    /// SHA-256 of that record's bytes, so a different log with the same numbering is noticed.
    pub record_sha256: String,
    /// `Exchange::digest` of the state.
    pub digest: String,
    /// Unix seconds when it was written.
    pub created: u64,
    pub payload_bytes: u64,
}

/// The running build's engine fingerprint.
pub fn engine_fingerprint() -> &'static str {
    env!("CALAMARI_ENGINE_FINGERPRINT")
}

pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The file's checksum: CRC-32 (crc32fast, several GB/s) of the header line and the payload. It
/// is there to catch damage (a torn or flipped byte), not forgery; the data directory is trusted.
fn crc_hex(head: &[u8], payload: &[u8]) -> String {
    let mut h = crc32fast::Hasher::new();
    h.update(head);
    h.update(payload);
    format!("{:08x}", h.finalize())
}

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR)
}

fn file_name(epoch: u64, seq: u64) -> String {
    format!("checkpoint-{epoch}-{seq:020}.ckpt")
}

/// A checkpoint file found in the directory (by its name only; nothing read yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub epoch: u64,
    pub seq: u64,
    pub path: PathBuf,
}

/// The directory's checkpoint files, newest (highest seq) first within each epoch, the current
/// epoch's first.
pub fn list(dir: &Path, epoch: u64) -> Vec<Entry> {
    let mut out: Vec<Entry> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let rest = name.strip_prefix("checkpoint-")?.strip_suffix(".ckpt")?;
                    let (ep, seq) = rest.split_once('-')?;
                    Some(Entry { epoch: ep.parse().ok()?, seq: seq.parse().ok()?, path: e.path() })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|e| (e.epoch != epoch, std::cmp::Reverse(e.epoch), std::cmp::Reverse(e.seq)));
    out
}

/// Writes a checkpoint atomically (temporary file, fsync, rename, fsync of the directory) and
/// returns its path and size in bytes.
pub fn write(dir: &Path, header: &Header, payload: &[u8]) -> Result<(PathBuf, u64), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let head = serde_json::to_vec(header).map_err(|e| e.to_string())?;
    let sum = crc_hex(&head, payload);
    let path = dir.join(file_name(header.epoch, header.seq));
    let tmp = dir.join(format!(".tmp-{}", file_name(header.epoch, header.seq)));
    let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
    {
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).map_err(io)?);
        f.write_all(&head).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.write_all(sum.as_bytes()).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.write_all(payload).map_err(io)?;
        let f = f.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bytes = head.len() as u64 + 10 + payload.len() as u64;
    Ok((path, bytes))
}

/// Reads only the header line (listing, status): no checksum check.
pub fn read_header(path: &Path) -> Result<Header, String> {
    use std::io::{BufRead, Read};
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut line = Vec::new();
    std::io::BufReader::new(f).take(64 * 1024).read_until(b'\n', &mut line).map_err(|e| e.to_string())?;
    parse_header(line.strip_suffix(b"\n").ok_or("no header line")?)
}

fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    let h: Header = serde_json::from_slice(bytes).map_err(|e| format!("unreadable header: {e}"))?;
    if h.format != FORMAT {
        return Err(format!("not an engine checkpoint (format {:?})", h.format));
    }
    if h.version != VERSION {
        return Err(format!("format version {} (this build reads {VERSION})", h.version));
    }
    Ok(h)
}

/// Reads a checkpoint whole and checks its format version, length and checksum; returns the
/// header and the payload.
pub fn read(path: &Path) -> Result<(Header, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let nl = bytes.iter().position(|b| *b == b'\n').ok_or("truncated: no header line")?;
    let (head, rest) = (&bytes[..nl], &bytes[nl + 1..]);
    let header = parse_header(head)?;
    if rest.len() < 9 || rest[8] != b'\n' {
        return Err("truncated: no checksum line".into());
    }
    let (sum, payload) = (&rest[..8], &rest[9..]);
    if payload.len() as u64 != header.payload_bytes {
        return Err(format!("truncated: {} payload bytes of {}", payload.len(), header.payload_bytes));
    }
    if sum != crc_hex(head, payload).as_bytes() {
        return Err("checksum mismatch: the file is corrupt".into());
    }
    let payload = payload.to_vec();
    Ok((header, payload))
}

/// Removes every checkpoint but the newest `keep` of `epoch` (older epochs' files go too), and
/// leftover temporary files. Returns the paths removed.
pub fn retain(dir: &Path, epoch: u64, keep: usize) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut kept = 0;
    for e in list(dir, epoch) {
        if e.epoch == epoch && kept < keep {
            kept += 1;
            continue;
        }
        if std::fs::remove_file(&e.path).is_ok() {
            removed.push(e.path);
        }
    }
    if let Ok(d) = std::fs::read_dir(dir) {
        for e in d.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") && std::fs::remove_file(e.path()).is_ok() {
                removed.push(e.path());
            }
        }
    }
    removed
}

/// Serde for `Option<&'static str>` fields (a withdrawal's `status-prop`): written as text, read
/// back as the one static copy of that text (interned, so each distinct text is kept once).
/// Serde for an order's request (`NewOrder`), whose derive leaves fields out when they hold
/// their default (`skip_serializing_if`, for the JSON command log): a compact format without
/// field names cannot read that back, so here every field is written, in order (the rare ones
/// as the flat struct had them, absent ones at their defaults). The destructurings are
/// exhaustive: a field added to `NewOrder` or `RareParts` does not compile until it is added
/// here too.
pub mod new_order {
    use crate::engine::order::{self as o, NewOrder};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Ref<'a> {
        account: &'a crate::engine::order::AccountId,
        pair: &'a crate::engine::markets::PairIdx,
        side: &'a o::Side,
        kind: &'a o::OrderKind,
        price: &'a u64,
        volume: &'a i128,
        post_only: &'a bool,
        fee_in_base: &'a bool,
        time_in_force: &'a o::TimeInForce,
        self_trade: &'a o::SelfTrade,
        userref: &'a Option<i32>,
        cl_ord_id: &'a Option<String>,
        price2: &'a u64,
        trigger: &'a o::Trigger,
        price_offset: &'a Option<o::Offset>,
        price2_offset: &'a Option<o::Offset>,
        close: &'a Option<o::CloseOrder>,
        display_volume: &'a Option<i128>,
        quote_volume: &'a bool,
        expire_ns: &'a Option<u64>,
        start_ns: &'a Option<u64>,
    }

    #[derive(Deserialize)]
    struct Owned {
        account: crate::engine::order::AccountId,
        pair: crate::engine::markets::PairIdx,
        side: o::Side,
        kind: o::OrderKind,
        price: u64,
        volume: i128,
        post_only: bool,
        fee_in_base: bool,
        time_in_force: o::TimeInForce,
        self_trade: o::SelfTrade,
        userref: Option<i32>,
        cl_ord_id: Option<String>,
        price2: u64,
        trigger: o::Trigger,
        price_offset: Option<o::Offset>,
        price2_offset: Option<o::Offset>,
        close: Option<o::CloseOrder>,
        display_volume: Option<i128>,
        quote_volume: bool,
        expire_ns: Option<u64>,
        start_ns: Option<u64>,
    }

    pub fn serialize<S: Serializer>(v: &NewOrder, s: S) -> Result<S::Ok, S::Error> {
        let NewOrder {
            account,
            pair,
            side,
            kind,
            price,
            volume,
            post_only,
            fee_in_base,
            time_in_force,
            self_trade,
            userref,
            trigger,
            quote_volume,
            rare: _,
        } = v;
        let o::RareParts { cl_ord_id, price2, price_offset, price2_offset, close, display_volume, expire_ns, start_ns } = v.rare();
        Ref {
            account,
            pair,
            side,
            kind,
            price,
            volume,
            post_only,
            fee_in_base,
            time_in_force,
            self_trade,
            userref,
            cl_ord_id,
            price2,
            trigger,
            price_offset,
            price2_offset,
            close,
            display_volume,
            quote_volume,
            expire_ns,
            start_ns,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NewOrder, D::Error> {
        let Owned {
            account,
            pair,
            side,
            kind,
            price,
            volume,
            post_only,
            fee_in_base,
            time_in_force,
            self_trade,
            userref,
            cl_ord_id,
            price2,
            trigger,
            price_offset,
            price2_offset,
            close,
            display_volume,
            quote_volume,
            expire_ns,
            start_ns,
        } = Owned::deserialize(d)?;
        Ok(NewOrder {
            account,
            pair,
            side,
            kind,
            price,
            volume,
            post_only,
            fee_in_base,
            time_in_force,
            self_trade,
            userref,
            trigger,
            quote_volume,
            rare: o::RareParts { cl_ord_id, price2, price_offset, price2_offset, close, display_volume, expire_ns, start_ns }.boxed(),
        })
    }
}

/// `&'static str` under another name, so that serde's derive does not take the field for text
/// borrowed from the input (which would need a `'static` input).
pub type StaticStr = &'static str;

pub mod static_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    static INTERNED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

    pub fn serialize<S: Serializer>(v: &Option<&'static str>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_some(t),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(v.map(|t| {
            let mut set = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
            match set.get(t.as_str()) {
                Some(s) => *s,
                None => {
                    let s: &'static str = Box::leak(t.into_boxed_str());
                    set.insert(s);
                    s
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seq: u64, payload: &[u8]) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            engine: engine_fingerprint().into(),
            markets: "m".into(),
            epoch: 0,
            seq,
            record_sha256: "r".into(),
            digest: "d".into(),
            created: 1,
            payload_bytes: payload.len() as u64,
        }
    }

    #[test]
    fn written_files_read_back_and_any_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let payload = b"the state".to_vec();
        let (path, bytes) = write(dir.path(), &header(7, &payload), &payload).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), bytes);
        assert_eq!(read(&path).unwrap(), (header(7, &payload), payload.clone()));
        assert_eq!(read_header(&path).unwrap().seq, 7);
        let good = std::fs::read(&path).unwrap();
        for cut in [0, 10, good.len() - 10 - payload.len(), good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(read(&path).unwrap_err().contains("truncated") || cut < 20, "cut at {cut}");
        }
        for at in [5, good.len() - 14 - payload.len(), good.len() - 3] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            std::fs::write(&path, &bad).unwrap();
            assert!(read(&path).is_err(), "flipped byte {at} accepted");
        }
    }

    #[test]
    fn listing_is_newest_first_and_retain_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for (epoch, seq) in [(0, 5), (1, 3), (1, 10), (1, 7)] {
            let mut h = header(seq, b"x");
            h.epoch = epoch;
            write(dir.path(), &h, b"x").unwrap();
        }
        std::fs::write(dir.path().join(".tmp-checkpoint-1-00000000000000000011.ckpt"), b"half").unwrap();
        let seqs: Vec<(u64, u64)> = list(dir.path(), 1).iter().map(|e| (e.epoch, e.seq)).collect();
        assert_eq!(seqs, vec![(1, 10), (1, 7), (1, 3), (0, 5)]);
        assert_eq!(retain(dir.path(), 1, 2).len(), 3, "(1,3), (0,5) and the temporary file");
        let seqs: Vec<u64> = list(dir.path(), 1).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![10, 7]);
    }
}
