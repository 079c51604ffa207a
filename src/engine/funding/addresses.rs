//! Deposit addresses in each network's real format (bech32 `bc1q…`, `0x…`, Base58Check `D…`/`T…`/
//! `t1…`, Solana Base58, Cardano `addr1…`, a Ripple address with a destination tag), derived
//! without randomness or a lookup table: the first 8 bytes of an address's body are a keyed,
//! invertible scramble of (account, asset, method, index) and the rest is a hash of them under the
//! data directory's seed. So an address names its owner (a deposit "from the chain" is credited by
//! decoding it) and a string the exchange never issued is refused because it does not re-derive.

use super::methods::{AddressFormat, Method};
use crate::engine::ids::IdCodec;
use bech32::{primitives::hrp::Hrp, segwit, Bech32};
use sha2::{Digest, Sha256};

/// Who an address (or a Ripple tag) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct AddressOwner {
    pub account: u32,
    pub asset: u16,
    pub method: u8,
    /// 0 for the account's first address of the method, then one more per `new=true`.
    pub index: u16,
}

impl AddressOwner {
    fn pack(&self) -> u64 {
        (self.account as u64) << 32 | ((self.asset as u64) & 0xfff) << 20 | ((self.method as u64) & 0xf) << 16 | self.index as u64
    }
    fn unpack(v: u64) -> AddressOwner {
        AddressOwner { account: (v >> 32) as u32, asset: ((v >> 20) & 0xfff) as u16, method: ((v >> 16) & 0xf) as u8, index: v as u16 }
    }
}

const SALT: u64 = 0x6164_6472_6573_7305;
const TAG_MUL: u32 = 0x9e37_79b1;

fn filler(codec: &IdCodec, head: u64, len: usize) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(codec.scramble(SALT, 0).to_be_bytes());
    h.update(head.to_be_bytes());
    let digest = h.finalize();
    let mut out = head.to_be_bytes().to_vec();
    out.extend_from_slice(&digest[..len - 8]);
    out
}

/// The shared Ripple deposit address of this exchange (accounts differ by tag).
pub fn ripple_address(codec: &IdCodec) -> String {
    let body = filler(codec, codec.scramble(SALT, u64::MAX), 20);
    bs58::encode(body).with_alphabet(bs58::Alphabet::RIPPLE).with_check_version(0).into_string()
}

fn tag_of(codec: &IdCodec, owner: &AddressOwner) -> u32 {
    let key = codec.scramble(SALT, 1) as u32;
    let x = (owner.account << 8 | owner.index as u32 & 0xff) ^ key;
    let x = x.wrapping_mul(TAG_MUL);
    x ^ (x >> 16)
}

fn owner_of_tag(codec: &IdCodec, tag: u32) -> (u32, u16) {
    let key = codec.scramble(SALT, 1) as u32;
    let mut inv = TAG_MUL;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(TAG_MUL.wrapping_mul(inv)));
    }
    let x = (tag ^ (tag >> 16)).wrapping_mul(inv) ^ key;
    (x >> 8, (x & 0xff) as u16)
}

/// The address (and tag, for tagged methods) of `owner` under `method`.
pub fn address_of(codec: &IdCodec, method: &Method, owner: &AddressOwner) -> (String, Option<String>) {
    let head = codec.scramble(SALT, owner.pack());
    let text = match method.format {
        AddressFormat::SegwitBech32 => segwit::encode_v0(bech32::hrp::BC, &filler(codec, head, 20)).unwrap_or_default(),
        AddressFormat::Hex20 => {
            let hex: String = filler(codec, head, 20).iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        }
        AddressFormat::Base58Check(version) => {
            let mut bytes = version.to_vec();
            bytes.extend(filler(codec, head, 20));
            bs58::encode(bytes).with_check().into_string()
        }
        AddressFormat::Base58Raw32 => bs58::encode(filler(codec, head, 32)).into_string(),
        AddressFormat::CardanoBech32 => {
            let mut bytes = vec![0x61];
            bytes.extend(filler(codec, head, 28));
            Hrp::parse("addr").ok().and_then(|hrp| bech32::encode::<Bech32>(hrp, &bytes).ok()).unwrap_or_default()
        }
        AddressFormat::RippleTag => return (ripple_address(codec), Some(tag_of(codec, owner).to_string())),
    };
    (text, None)
}

/// The body bytes an address string carries in any of the formats (not yet verified).
fn body_of(text: &str) -> Option<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.len() != 40 {
            return None;
        }
        return (0..20).map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect();
    }
    if text.starts_with("bc1") {
        return segwit::decode(text).ok().map(|(_, _, program)| program);
    }
    if text.starts_with("addr1") {
        return bech32::decode(text).ok().and_then(|(_, data)| data.get(1..).map(<[u8]>::to_vec));
    }
    let raw = bs58::decode(text).into_vec().ok()?;
    if raw.len() == 32 {
        return Some(raw);
    }
    let checked = bs58::decode(text).with_check(None).into_vec().ok()?;
    checked.len().checked_sub(20).map(|v| checked[v..].to_vec())
}

/// Whose address `text` is (with the tag, for tagged methods), if this exchange issued it. The
/// caller still checks that the owner's asset and method exist and the index was issued.
pub fn owner_of(codec: &IdCodec, text: &str, tag: Option<&str>, method_of: impl Fn(u16, u8) -> Option<Method>) -> Option<AddressOwner> {
    let text = text.trim();
    if text == ripple_address(codec) {
        let (account, index) = owner_of_tag(codec, tag?.trim().parse().ok()?);
        return Some(AddressOwner { account, asset: u16::MAX, method: 0, index });
    }
    let body = body_of(text)?;
    let head = u64::from_be_bytes(body.get(..8)?.try_into().ok()?);
    let owner = AddressOwner::unpack(codec.unscramble(SALT, head));
    let method = method_of(owner.asset, owner.method)?;
    (address_of(codec, &method, &owner).0 == text).then_some(owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::funding::methods::methods;

    #[test]
    fn addresses_look_real_and_decode_to_their_owner() {
        let codec = IdCodec::new(99);
        for (asset, id, prefix) in
            [(1u16, "XXBT", "bc1q"), (2, "XETH", "0x"), (9, "XXDG", "D"), (8, "TRX", "T"), (10, "ADA", "addr1v"), (15, "XZEC", "t1")]
        {
            let method = methods(id)[0];
            let owner = AddressOwner { account: 7, asset, method: 0, index: 3 };
            let (text, tag) = address_of(&codec, &method, &owner);
            assert!(text.starts_with(prefix) && tag.is_none(), "{id}: {text}");
            assert_eq!(owner_of(&codec, &text, None, |_, _| Some(method)), Some(owner), "{id}: {text}");
            let other = AddressOwner { index: 4, ..owner };
            assert_ne!(address_of(&codec, &method, &other).0, text);
            assert_eq!(owner_of(&IdCodec::new(98), &text, None, |_, _| Some(method)), None, "another exchange's seed");
        }
        let xrp = methods("XXRP")[0];
        let (text, tag) = address_of(&codec, &xrp, &AddressOwner { account: 12345, asset: 4, method: 0, index: 2 });
        assert!(text.starts_with('r'));
        let owner = owner_of(&codec, &text, tag.as_deref(), |_, _| Some(xrp)).unwrap();
        assert_eq!((owner.account, owner.index), (12345, 2));
        assert_eq!(owner_of(&codec, "0x0000000000000000000000000000000000000000", None, |_, _| Some(xrp)), None);
    }
}
