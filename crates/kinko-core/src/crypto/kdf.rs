//! Password-based key derivation for keyslots. The algorithm id and its
//! parameters are stored with every slot (D6), so a slot made under one
//! profile keeps opening after the vault's default changes.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Key32;
use crate::error::{Error, Result};

/// Which KDF profile a new vault uses for its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KdfProfile {
    /// Argon2id, m = 64 MiB, t = 3, p = 4 (RFC 9106's second recommendation).
    Argon2id,
    /// PBKDF2-HMAC-SHA-256, 600,000 iterations (the all-CRYPTREC profile).
    Pbkdf2,
}

impl std::str::FromStr for KdfProfile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "argon2id" | "argon2" => Ok(KdfProfile::Argon2id),
            "pbkdf2" | "pbkdf2-sha256" => Ok(KdfProfile::Pbkdf2),
            other => Err(Error::invalid(format!(
                "unknown KDF '{other}': use argon2id or pbkdf2"
            ))),
        }
    }
}

/// A KDF with its parameters and salt, as stored in a keyslot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "id", rename_all = "kebab-case")]
pub enum KdfParams {
    Argon2id {
        m_kib: u32,
        t: u32,
        p: u32,
        salt: String,
    },
    Pbkdf2Sha256 {
        iterations: u32,
        salt: String,
    },
}

/// Bounds that stop a damaged or hostile keyslot from asking for absurd
/// work or memory before the AEAD check can reject it.
const MAX_ARGON2_M_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_T: u32 = 16;
const MAX_ARGON2_P: u32 = 16;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
const MIN_SALT: usize = 16;

impl KdfParams {
    /// Fresh parameters with a new random salt.
    pub fn new(profile: KdfProfile) -> Self {
        let salt = super::b64(&super::random::<16>());
        match profile {
            KdfProfile::Argon2id => KdfParams::Argon2id {
                m_kib: 64 * 1024,
                t: 3,
                p: 4,
                salt,
            },
            KdfProfile::Pbkdf2 => KdfParams::Pbkdf2Sha256 {
                iterations: 600_000,
                salt,
            },
        }
    }

    pub fn profile(&self) -> KdfProfile {
        match self {
            KdfParams::Argon2id { .. } => KdfProfile::Argon2id,
            KdfParams::Pbkdf2Sha256 { .. } => KdfProfile::Pbkdf2,
        }
    }

    /// Refuse stored parameters that are absurd or malformed before any
    /// work is spent on them (they come from files someone could edit).
    pub fn check(&self) -> Result<()> {
        match self {
            KdfParams::Argon2id { m_kib, t, p, salt } => {
                salt_bytes(salt)?;
                if *m_kib > MAX_ARGON2_M_KIB || *t > MAX_ARGON2_T || *p > MAX_ARGON2_P {
                    return Err(Error::tampered("keyslot KDF parameters are out of range"));
                }
                argon2::Params::new(*m_kib, *t, *p, Some(32))
                    .map_err(|_| Error::tampered("keyslot KDF parameters are invalid"))?;
            }
            KdfParams::Pbkdf2Sha256 { iterations, salt } => {
                salt_bytes(salt)?;
                if *iterations == 0 || *iterations > MAX_PBKDF2_ITERATIONS {
                    return Err(Error::tampered("keyslot KDF parameters are out of range"));
                }
            }
        }
        Ok(())
    }

    /// Derive the 256-bit key-encryption key from a password.
    pub fn derive(&self, password: &[u8]) -> Result<Key32> {
        self.check()?;
        let mut out = Zeroizing::new([0u8; 32]);
        match self {
            KdfParams::Argon2id { m_kib, t, p, salt } => {
                let params = argon2::Params::new(*m_kib, *t, *p, Some(32))
                    .map_err(|_| Error::tampered("keyslot KDF parameters are invalid"))?;
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                    .hash_password_into(password, &salt_bytes(salt)?, out.as_mut())
                    .map_err(|e| Error::Crypto(format!("Argon2id: {e}")))?;
            }
            KdfParams::Pbkdf2Sha256 { iterations, salt } => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                    password,
                    &salt_bytes(salt)?,
                    *iterations,
                    out.as_mut(),
                );
            }
        }
        Ok(out)
    }
}

fn salt_bytes(salt: &str) -> Result<Vec<u8>> {
    let salt = super::unb64(salt, "keyslot salt")?;
    if salt.len() < MIN_SALT {
        return Err(Error::tampered("keyslot salt is too short"));
    }
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_profiles_are_deterministic_per_salt() {
        for profile in [KdfProfile::Argon2id, KdfProfile::Pbkdf2] {
            let p = KdfParams::new(profile);
            assert_eq!(*p.derive(b"pw").unwrap(), *p.derive(b"pw").unwrap());
            assert_ne!(*p.derive(b"pw").unwrap(), *p.derive(b"pX").unwrap());
            assert_ne!(
                *p.derive(b"pw").unwrap(),
                *KdfParams::new(profile).derive(b"pw").unwrap()
            );
        }
    }

    #[test]
    fn absurd_parameters_are_refused_before_any_work() {
        let p = KdfParams::Argon2id {
            m_kib: u32::MAX,
            t: 3,
            p: 4,
            salt: crate::crypto::b64(b"0123456789abcdef"),
        };
        assert!(matches!(p.derive(b"pw"), Err(Error::Tampered(_))));
    }
}
