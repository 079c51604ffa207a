//! Secrets at rest and fresh credentials. API secrets must be recoverable (the server recomputes
//! every request's HMAC with them), so they cannot be hashed; they are sealed with
//! ChaCha20-Poly1305 under a master key that lives in its own owner-only file (`master.key`)
//! next to the database, never inside it: a copied database alone does not reveal any secret.
//! Also here: the random generators for public keys, secrets and the admin token.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::rngs::OsRng;
use rand::RngCore;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

/// The master key's file name in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Seals and opens small secrets with the data directory's master key.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox { .. }")
    }
}

impl SecretBox {
    /// Reads `master.key` from `data_dir`, or creates it (32 random bytes, mode 0600, synced)
    /// when it does not exist yet. A file of the wrong length is an error, never replaced.
    pub fn load_or_create(data_dir: &Path) -> io::Result<SecretBox> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(MASTER_KEY_FILE);
        let mut key = [0u8; KEY_LEN];
        match create_private(&path) {
            Ok(mut f) => {
                OsRng.fill_bytes(&mut key);
                f.write_all(&key)?;
                f.sync_all()?;
                // Make the new directory entry durable too (best effort where unsupported).
                if let Ok(dir) = std::fs::File::open(data_dir) {
                    let _ = dir.sync_all();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut bytes = Vec::with_capacity(KEY_LEN);
                std::fs::File::open(&path)?.read_to_end(&mut bytes)?;
                if bytes.len() != KEY_LEN {
                    let msg = format!("{}: expected {KEY_LEN} bytes, found {}", path.display(), bytes.len());
                    return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
                }
                key.copy_from_slice(&bytes);
                bytes.iter_mut().for_each(|b| *b = 0);
            }
            Err(e) => return Err(e),
        }
        let sbox = SecretBox::from_key(&key);
        key.iter_mut().for_each(|b| *b = 0);
        Ok(sbox)
    }

    /// A box over a given key (tests, tools).
    pub fn from_key(key: &[u8; KEY_LEN]) -> SecretBox {
        SecretBox { cipher: ChaCha20Poly1305::new(Key::from_slice(key)) }
    }

    /// Seals `plain`: a fresh random 12-byte nonce followed by ciphertext and 16-byte tag.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(Nonce::from_slice(&nonce), plain).expect("ChaCha20-Poly1305 seals any small message");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a blob made by [`SecretBox::encrypt`]; `None` if it is truncated, altered, or was
    /// sealed under another master key.
    pub fn decrypt(&self, blob: &[u8]) -> Option<Vec<u8>> {
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), sealed).ok()
    }
}

fn create_private(path: &Path) -> io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// A public API key: 42 random bytes in standard base64 (56 characters), shaped like Kraken's.
pub fn random_api_key() -> String {
    let mut b = [0u8; 42];
    OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An API secret: 64 random bytes (users see them as standard base64, 88 characters).
pub fn random_api_secret() -> Vec<u8> {
    let mut b = vec![0u8; 64];
    OsRng.fill_bytes(&mut b);
    b
}

/// The admin token: 32 random bytes as lowercase hex (64 characters).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let dir = tempfile::tempdir().unwrap();
        let sbox = SecretBox::load_or_create(dir.path()).unwrap();
        let a = sbox.encrypt(b"top secret");
        let b = sbox.encrypt(b"top secret");
        assert_ne!(a, b, "each seal uses a new nonce");
        assert_eq!(a.len(), 12 + 10 + 16);
        assert_eq!(sbox.decrypt(&a).unwrap(), b"top secret");
        assert_eq!(sbox.decrypt(&b).unwrap(), b"top secret");
        assert_eq!(sbox.decrypt(&sbox.encrypt(b"")).unwrap(), b"");
    }

    #[test]
    fn tampered_or_short_blobs_do_not_open() {
        let sbox = SecretBox::from_key(&[7u8; 32]);
        let mut blob = sbox.encrypt(b"secret");
        for i in [0, 12, blob.len() - 1] {
            blob[i] ^= 1;
            assert!(sbox.decrypt(&blob).is_none(), "flipped byte {i}");
            blob[i] ^= 1;
        }
        assert!(sbox.decrypt(&blob).is_some());
        assert!(sbox.decrypt(&blob[..11]).is_none());
        assert!(sbox.decrypt(&blob[..20]).is_none());
        assert!(sbox.decrypt(&[]).is_none());
    }

    #[test]
    fn master_key_persists_and_another_key_fails() {
        let dir = tempfile::tempdir().unwrap();
        let blob = SecretBox::load_or_create(dir.path()).unwrap().encrypt(b"abc");
        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(again.decrypt(&blob).unwrap(), b"abc");
        let other = tempfile::tempdir().unwrap();
        assert!(SecretBox::load_or_create(other.path()).unwrap().decrypt(&blob).is_none());
        let key = std::fs::read(dir.path().join(MASTER_KEY_FILE)).unwrap();
        assert_eq!(key.len(), 32);
    }

    #[cfg(unix)]
    #[test]
    fn master_key_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        SecretBox::load_or_create(&dir.path().join("sub")).unwrap();
        let mode = std::fs::metadata(dir.path().join("sub").join(MASTER_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn wrong_length_master_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MASTER_KEY_FILE), b"short").unwrap();
        let err = SecretBox::load_or_create(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read(dir.path().join(MASTER_KEY_FILE)).unwrap(), b"short", "never overwritten");
    }

    #[test]
    fn generated_credentials_have_kraken_shapes() {
        let k = random_api_key();
        assert_eq!(k.len(), 56);
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(&k).unwrap().len(), 42);
        assert_ne!(k, random_api_key());
        let s = random_api_secret();
        assert_eq!(s.len(), 64);
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(&s).len(), 88);
        assert_ne!(s, random_api_secret());
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(t, random_token());
    }

    #[test]
    fn debug_does_not_print_key_material() {
        let sbox = SecretBox::from_key(&[0xAB; 32]);
        assert_eq!(format!("{sbox:?}"), "SecretBox { .. }");
    }
}
