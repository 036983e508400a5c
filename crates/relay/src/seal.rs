//! Sealing a request's passwords to the agents' public keys with HPKE (RFC 9180: base
//! mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305), the request's
//! id, operation, identity and deadline bound as associated data; and the key files.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

type Kem = X25519HkdfSha256;

/// Context string bound into every seal: a message for another protocol or version
/// cannot be opened as this one.
const INFO: &[u8] = b"writeback relay v1";

/// Why a key file or a sealed message could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read the key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("cannot write the key file {path}: {reason}")]
    WriteKey { path: PathBuf, reason: String },
    #[error("the message is sealed to key id(s) {wanted}, and this agent holds {held}: give this agent the matching private key, or seal to its key at the edge")]
    UnknownKey { wanted: String, held: String },
    #[error("the sealed part failed to open with key {key_id}: the ciphertext or the request's id, operation, identity or deadline was changed after sealing, or it was sealed for another key with the same id")]
    Open { key_id: String },
    #[error("sealing failed: {0}")]
    Seal(String),
}

/// A key id: the first 16 hex digits of SHA-256 of the public key.
pub fn key_id(public: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An agent's public key, as the edge holds it.
#[derive(Clone)]
pub struct PublicKey {
    pub id: String,
    key: <Kem as hpke::Kem>::PublicKey,
}

/// An agent's private key. Zeroized on drop by the hpke crate.
#[derive(Clone)]
pub struct PrivateKey {
    pub id: String,
    key: <Kem as hpke::Kem>::PrivateKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicFile {
    kind: String,
    key_id: String,
    public_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateFile {
    kind: String,
    key_id: String,
    private_key: String,
}

const PUBLIC_KIND: &str = "writeback-relay-public-key-x25519";
const PRIVATE_KIND: &str = "writeback-relay-private-key-x25519";

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        let key = <Kem as hpke::Kem>::PublicKey::from_bytes(bytes)
            .map_err(|e| format!("not an X25519 public key: {e}"))?;
        Ok(PublicKey {
            id: key_id(bytes),
            key,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.key.to_bytes().to_vec()
    }

    /// Reads a `.pub` file written by `writeback keys generate`.
    pub fn load(path: &Path) -> Result<PublicKey, SealError> {
        let bad = |reason: String| SealError::KeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let file: PublicFile = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
        if file.kind != PUBLIC_KIND {
            return Err(bad(format!("`kind` must be \"{PUBLIC_KIND}\"")));
        }
        let bytes = B64
            .decode(file.public_key.trim())
            .map_err(|e| bad(format!("public_key is not base64: {e}")))?;
        let key = PublicKey::from_bytes(&bytes).map_err(bad)?;
        if key.id != file.key_id {
            return Err(bad(format!(
                "key_id {} does not match the key (its id is {}); the file was edited",
                file.key_id, key.id
            )));
        }
        Ok(key)
    }
}

impl PrivateKey {
    /// A new random key pair.
    pub fn generate() -> (PrivateKey, PublicKey) {
        let (sk, pk) = Kem::gen_keypair(&mut rand_core::OsRng);
        let id = key_id(&pk.to_bytes());
        (
            PrivateKey {
                id: id.clone(),
                key: sk,
            },
            PublicKey { id, key: pk },
        )
    }

    pub fn public(&self) -> PublicKey {
        let pk = <Kem as hpke::Kem>::sk_to_pk(&self.key);
        PublicKey {
            id: self.id.clone(),
            key: pk,
        }
    }

    /// Reads a `.key` file; refuses one that others can read.
    pub fn load(path: &Path) -> Result<PrivateKey, SealError> {
        let bad = |reason: String| SealError::KeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad(format!(
                "the private key file is readable by others (mode {:o}); run `chmod 600 {}`",
                meta.permissions().mode() & 0o777,
                path.display()
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        let raw: PrivateFile = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
        let file = Zeroizing::new(raw.private_key.clone());
        if raw.kind != PRIVATE_KIND {
            return Err(bad(format!("`kind` must be \"{PRIVATE_KIND}\"")));
        }
        let bytes = Zeroizing::new(
            B64.decode(file.trim())
                .map_err(|_| bad("private_key is not base64".into()))?,
        );
        let key = <Kem as hpke::Kem>::PrivateKey::from_bytes(&bytes)
            .map_err(|_| bad("private_key is not an X25519 private key".into()))?;
        let pk = <Kem as hpke::Kem>::sk_to_pk(&key);
        let id = key_id(&pk.to_bytes());
        if id != raw.key_id {
            return Err(bad(format!(
                "key_id {} does not match the key (its id is {id}); the file was edited",
                raw.key_id
            )));
        }
        Ok(PrivateKey { id, key })
    }

    /// Writes `NAME.key` (mode 0600, never overwritten) and `NAME.pub` into `dir`.
    pub fn write_pair(&self, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), SealError> {
        let key_path = dir.join(format!("{name}.key"));
        let pub_path = dir.join(format!("{name}.pub"));
        let fail = |path: &Path, reason: String| SealError::WriteKey {
            path: path.to_path_buf(),
            reason,
        };
        let private = Zeroizing::new(
            toml::to_string(&PrivateFile {
                kind: PRIVATE_KIND.into(),
                key_id: self.id.clone(),
                private_key: B64.encode(self.key.to_bytes()),
            })
            .map_err(|e| fail(&key_path, e.to_string()))?,
        );
        let public = toml::to_string(&PublicFile {
            kind: PUBLIC_KIND.into(),
            key_id: self.id.clone(),
            public_key: B64.encode(self.public().to_bytes()),
        })
        .map_err(|e| fail(&pub_path, e.to_string()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .map_err(|e| {
                fail(
                    &key_path,
                    format!("{e} (an existing key is never overwritten)"),
                )
            })?;
        f.write_all(private.as_bytes())
            .map_err(|e| fail(&key_path, e.to_string()))?;
        std::fs::write(&pub_path, public).map_err(|e| fail(&pub_path, e.to_string()))?;
        Ok((key_path, pub_path))
    }
}

/// One recipient's sealed copy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// The HPKE encapsulated key, base64.
    pub enc: String,
    /// The ciphertext with its tag, base64.
    pub ct: String,
}

/// Seals `plaintext` to every key, binding `aad`.
pub fn seal(keys: &[PublicKey], plaintext: &[u8], aad: &[u8]) -> Result<Vec<Sealed>, SealError> {
    keys.iter()
        .map(|k| {
            let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
                &OpModeS::Base,
                &k.key,
                INFO,
                plaintext,
                aad,
                &mut rand_core::OsRng,
            )
            .map_err(|e| SealError::Seal(e.to_string()))?;
            Ok(Sealed {
                key_id: k.id.clone(),
                enc: B64.encode(enc.to_bytes()),
                ct: B64.encode(ct),
            })
        })
        .collect()
}

/// [`open`] over only the copies whose key id `listed` names (the list bound in the
/// associated data): a copy added after sealing is never used.
pub fn open_listed(
    keys: &[PrivateKey],
    sealed: &[Sealed],
    listed: &[String],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let copies: Vec<Sealed> = sealed
        .iter()
        .filter(|s| listed.contains(&s.key_id))
        .cloned()
        .collect();
    open(keys, &copies, aad)
}

/// Opens the copy sealed to one of `keys`, checking `aad`.
pub fn open(
    keys: &[PrivateKey],
    sealed: &[Sealed],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let Some((key, copy)) = sealed
        .iter()
        .find_map(|s| keys.iter().find(|k| k.id == s.key_id).map(|k| (k, s)))
    else {
        return Err(SealError::UnknownKey {
            wanted: list(sealed.iter().map(|s| s.key_id.as_str())),
            held: list(keys.iter().map(|k| k.id.as_str())),
        });
    };
    let failed = || SealError::Open {
        key_id: key.id.clone(),
    };
    let enc = B64.decode(&copy.enc).map_err(|_| failed())?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc).map_err(|_| failed())?;
    let ct = B64.decode(&copy.ct).map_err(|_| failed())?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Base,
        &key.key,
        &enc,
        INFO,
        &ct,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| failed())
}

fn list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = ids.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_the_same_aad() {
        let (sk, pk) = PrivateKey::generate();
        let sealed = seal(&[pk], b"Marker-secret-1", b"id=1").unwrap_or_default();
        let opened = open(&[sk], &sealed, b"id=1").map(|p| p.to_vec());
        assert_eq!(opened.ok().as_deref(), Some(&b"Marker-secret-1"[..]));
        assert!(!sealed[0].ct.contains("Marker"));
    }

    #[test]
    fn changed_aad_or_ciphertext_or_enc_does_not_open() {
        let (sk, pk) = PrivateKey::generate();
        let sealed = seal(&[pk], b"secret", b"id=1").unwrap_or_default();
        assert!(matches!(
            open(std::slice::from_ref(&sk), &sealed, b"id=2"),
            Err(SealError::Open { .. })
        ));
        let mut ct = B64.decode(&sealed[0].ct).unwrap_or_default();
        ct[0] ^= 1;
        let tampered = vec![Sealed {
            ct: B64.encode(ct),
            ..sealed[0].clone()
        }];
        assert!(matches!(
            open(std::slice::from_ref(&sk), &tampered, b"id=1"),
            Err(SealError::Open { .. })
        ));
        let (_, other) = PrivateKey::generate();
        let wrong_enc = seal(&[other], b"x", b"id=1").unwrap_or_default();
        let swapped = vec![Sealed {
            enc: wrong_enc[0].enc.clone(),
            ..sealed[0].clone()
        }];
        assert!(matches!(
            open(&[sk], &swapped, b"id=1"),
            Err(SealError::Open { .. })
        ));
    }

    #[test]
    fn unknown_key_names_both_sides() {
        let (sk, _) = PrivateKey::generate();
        let (_, other) = PrivateKey::generate();
        let sealed = seal(std::slice::from_ref(&other), b"secret", b"a").unwrap_or_default();
        let err = open(&[sk], &sealed, b"a").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains(&other.id), "{text}");
    }

    #[test]
    fn either_key_of_a_rotation_opens() {
        let (old_sk, old_pk) = PrivateKey::generate();
        let (new_sk, new_pk) = PrivateKey::generate();
        let sealed = seal(&[old_pk, new_pk], b"secret", b"a").unwrap_or_default();
        assert!(open(&[old_sk], &sealed, b"a").is_ok());
        assert!(open(&[new_sk], &sealed, b"a").is_ok());
    }

    #[test]
    fn key_files_round_trip_and_private_is_0600() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (sk, pk) = PrivateKey::generate();
        let (key_path, pub_path) = sk
            .write_pair(dir.path(), "agent1")
            .unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&key_path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let loaded = PrivateKey::load(&key_path).unwrap_or_else(|e| panic!("{e}"));
        let loaded_pub = PublicKey::load(&pub_path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (loaded.id.as_str(), loaded_pub.id.as_str()),
            (pk.id.as_str(), pk.id.as_str())
        );
        assert!(
            sk.write_pair(dir.path(), "agent1").is_err(),
            "never overwrites"
        );
        let _ = std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644));
        assert!(
            PrivateKey::load(&key_path).is_err(),
            "refuses a readable private key"
        );
    }
}
