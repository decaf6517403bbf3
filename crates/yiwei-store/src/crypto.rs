//! Field-level encryption and keyed-hash lookup for identity and phone numbers.
//!
//! - **Encryption**: AES-256-GCM with a fresh 96-bit random nonce per value. The stored
//!   blob is `version (1 byte) ‖ nonce (12) ‖ ciphertext+tag`. The field kind (`id_card`,
//!   `phone`) is bound as associated data, so a phone ciphertext pasted into an ID-card
//!   column fails to decrypt instead of showing the wrong number.
//! - **Lookup**: HMAC-SHA256 of the normalised value under a separate key, so an exact
//!   search ("find the resident with this ID card") is an index lookup without decrypting,
//!   and the database alone does not reveal numbers by dictionary attack.
//!
//! All subkeys derive from one 32-byte master key, read from `YIWEI_MASTER_KEY` (64 hex
//! characters) or from `keys/master.key` in the data folder, created with mode 0600 on
//! first start. The key never goes into the database; back it up separately (without it
//! encrypted fields are lost). See docs/security.md.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Result, StoreError};

type HmacSha256 = Hmac<Sha256>;

const BLOB_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Kinds of encrypted field; the name is bound into both ciphertext and lookup hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    IdCard,
    Phone,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::IdCard => b"id_card",
            Field::Phone => b"phone",
        }
    }

    /// The canonical form that is hashed: ID cards upper-case without spaces, phones digits
    /// only with a leading `86` country code dropped from 13-digit numbers.
    pub fn normalise(self, value: &str) -> String {
        match self {
            Field::IdCard => value.trim().to_ascii_uppercase().replace(' ', ""),
            Field::Phone => {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                match digits.strip_prefix("86") {
                    Some(rest) if digits.len() == 13 => rest.to_owned(),
                    _ => digits,
                }
            }
        }
    }
}

/// The derived keys. `Debug` never prints key material.
#[derive(Clone)]
pub struct Keys {
    encryption: [u8; 32],
    lookup: [u8; 32],
    audit: [u8; 32],
    token: [u8; 32],
    fingerprint: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys(fingerprint {})", self.fingerprint)
    }
}

/// The environment variable that may carry the master key.
pub const MASTER_KEY_ENV: &str = "YIWEI_MASTER_KEY";

impl Keys {
    /// Derive the keys from a 32-byte master key.
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = HmacSha256::new_from_slice(master).expect("HMAC takes any key length");
            mac.update(b"yiwei/v1/");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let fingerprint = hex::encode(&derive(b"fingerprint")[..8]);
        Keys {
            encryption: derive(b"field-encryption"),
            lookup: derive(b"field-lookup"),
            audit: derive(b"audit-chain"),
            token: derive(b"tokens"),
            fingerprint,
        }
    }

    /// Parse a master key written as 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Keys> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| StoreError::Invalid("the master key must be 64 hex characters".into()))?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::Invalid("the master key must be 32 bytes (64 hex characters)".into())
        })?;
        Ok(Keys::from_master(&master))
    }

    /// Load the master key from the environment, or from `<data_dir>/keys/master.key`,
    /// creating that file (mode 0600, directory 0700) if it does not exist.
    pub fn load_or_create(data_dir: &Path) -> Result<Keys> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Keys::from_hex(&text);
        }
        let path = key_path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => Keys::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut master = [0u8; 32];
                fill_random(&mut master);
                write_key_file(&path, &hex::encode(master))?;
                Ok(Keys::from_master(&master))
            }
            Err(e) => Err(StoreError::Unavailable(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// A short, non-secret identifier of the master key; backups record it so that a
    /// restore with another key is refused before anything is written.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Encrypt a value of `field`.
    pub fn encrypt(&self, field: Field, plaintext: &str) -> Vec<u8> {
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.encryption));
        let mut nonce_bytes = [0u8; NONCE_LEN];
        fill_random(&mut nonce_bytes);
        let nonce = Nonce::from(nonce_bytes);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: field.label(),
                },
            )
            .expect("AES-GCM encryption of a short field cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(BLOB_VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypt a blob written by [`Keys::encrypt`] for the same `field`.
    pub fn decrypt(&self, field: Field, blob: &[u8]) -> Result<String> {
        if blob.len() < 1 + NONCE_LEN + 16 || blob[0] != BLOB_VERSION {
            return Err(StoreError::Crypto("unknown ciphertext format"));
        }
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.encryption));
        let nonce_bytes: [u8; NONCE_LEN] = blob[1..1 + NONCE_LEN]
            .try_into()
            .map_err(|_| StoreError::Crypto("short nonce"))?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: &blob[1 + NONCE_LEN..],
                    aad: field.label(),
                },
            )
            .map_err(|_| StoreError::Crypto("wrong key or altered data"))?;
        String::from_utf8(plain).map_err(|_| StoreError::Crypto("not UTF-8"))
    }

    /// The keyed lookup hash of a value of `field` (normalised first).
    pub fn lookup_hash(&self, field: Field, value: &str) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.lookup).expect("HMAC takes any key length");
        mac.update(field.label());
        mac.update(&[0]);
        mac.update(field.normalise(value).as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The key of the audit hash chain.
    pub(crate) fn audit_key(&self) -> &[u8; 32] {
        &self.audit
    }

    /// Hash a bearer or session token for storage: the database holds only this.
    pub fn token_hash(&self, token: &str) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.token).expect("HMAC takes any key length");
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A MAC over `data` with the token key, hex-encoded (used for CSRF tokens of
    /// anonymous forms).
    pub fn sign(&self, data: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.token).expect("HMAC takes any key length");
        mac.update(b"sign\0");
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// `<data_dir>/keys/master.key`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("master.key")
}

fn write_key_file(path: &Path, hex_key: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        StoreError::Unavailable(format!("cannot create key file {}: {e}", path.display()))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(hex_key.as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)?;
    Ok(())
}

/// Fill `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random source is available");
}

/// A fresh random token of 32 bytes, hex-encoded (for sessions, CSRF and API tokens).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_master(&[7u8; 32])
    }

    #[test]
    fn encryption_round_trips_and_is_randomised() {
        let k = keys();
        let a = k.encrypt(Field::IdCard, "11010519491231002X");
        let b = k.encrypt(Field::IdCard, "11010519491231002X");
        assert_ne!(a, b);
        assert_eq!(k.decrypt(Field::IdCard, &a).unwrap(), "11010519491231002X");
    }

    #[test]
    fn a_blob_of_another_field_or_key_or_altered_does_not_decrypt() {
        let k = keys();
        let blob = k.encrypt(Field::Phone, "13812345678");
        assert!(k.decrypt(Field::IdCard, &blob).is_err());
        assert!(
            Keys::from_master(&[8u8; 32])
                .decrypt(Field::Phone, &blob)
                .is_err()
        );
        let mut altered = blob.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(k.decrypt(Field::Phone, &altered).is_err());
        assert!(k.decrypt(Field::Phone, &[1, 2, 3]).is_err());
    }

    #[test]
    fn lookup_hash_is_stable_normalised_and_keyed() {
        let k = keys();
        assert_eq!(
            k.lookup_hash(Field::IdCard, "11010519491231002x"),
            k.lookup_hash(Field::IdCard, " 11010519491231002X")
        );
        assert_eq!(
            k.lookup_hash(Field::Phone, "+86 138-1234-5678"),
            k.lookup_hash(Field::Phone, "13812345678")
        );
        assert_ne!(
            k.lookup_hash(Field::Phone, "13812345678"),
            Keys::from_master(&[9u8; 32]).lookup_hash(Field::Phone, "13812345678")
        );
        assert_ne!(
            k.lookup_hash(Field::Phone, "123"),
            k.lookup_hash(Field::IdCard, "123")
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY of the test: this test does not set the env var; make sure it is absent.
        if std::env::var(MASTER_KEY_ENV).is_ok() {
            return;
        }
        let first = Keys::load_or_create(dir.path()).unwrap();
        let again = Keys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&hex::encode(first.encryption)));
    }
}
