//! The keyslots file, kept beside the database and never inside it (D6:
//! keys apart from the data). Each account's slot seals, under a key
//! derived from its password, the database key and the account's two
//! private keys. The custodian slot wraps the database key to the
//! custodian's HPKE key, whose private half is the recovery code.
//!
//! The file is JSON, written atomically; each slot's AEAD binds it to the
//! vault id, the account id and its KDF parameters, so a slot moved,
//! edited or garbled fails to open. That is indistinguishable from a wrong
//! password and reported as one; a file that is not keyslots JSON at all
//! is reported as tampering.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::{self, kdf::KdfParams, Wrapped};
use crate::error::{Error, Result};
use crate::fsutil;

const FORMAT: &str = "kinko-keyslots";
const VERSION: u32 = 1;
const SLOT_AEAD: &str = "aes-256-gcm";

/// The secrets an account's slot holds. Wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SlotSecrets {
    pub db_key: [u8; 32],
    pub hpke_secret: [u8; 32],
    pub sign_secret: [u8; 32],
    /// What the slot's owner trusts: a hash of the vault's public keys,
    /// the root signing key among them (see `keyslots::anchor`). Someone
    /// who can write the database but not this slot cannot swap those
    /// keys unnoticed.
    pub anchor: [u8; 32],
}

impl SlotSecrets {
    pub(crate) const LEN: usize = 1 + 128;

    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(Self::LEN));
        v.push(1u8);
        v.extend_from_slice(&self.db_key);
        v.extend_from_slice(&self.hpke_secret);
        v.extend_from_slice(&self.sign_secret);
        v.extend_from_slice(&self.anchor);
        v
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN || b[0] != 1 {
            return Err(Error::tampered("a keyslot's contents have the wrong shape"));
        }
        let mut s = SlotSecrets {
            db_key: [0; 32],
            hpke_secret: [0; 32],
            sign_secret: [0; 32],
            anchor: [0; 32],
        };
        s.db_key.copy_from_slice(&b[1..33]);
        s.hpke_secret.copy_from_slice(&b[33..65]);
        s.sign_secret.copy_from_slice(&b[65..97]);
        s.anchor.copy_from_slice(&b[97..129]);
        Ok(s)
    }
}

/// One account's password-sealed slot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Slot {
    pub kdf: KdfParams,
    pub aead: String,
    pub sealed: String,
    /// The token this slot also needs (`possession.rs`): none for a slot
    /// the password alone opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<crate::possession::TokenBinding>,
}

/// A possession factor as a slot is sealed with it: the token's binding
/// and the secret only that token derives.
#[derive(Clone)]
pub struct Factor {
    pub binding: crate::possession::TokenBinding,
    pub secret: crypto::Key32,
}

/// An HPKE wrap in JSON form.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WrapJson {
    pub enc: String,
    pub ciphertext: String,
}

impl WrapJson {
    pub fn from_wrapped(w: &Wrapped) -> Self {
        WrapJson {
            enc: crypto::b64(&w.enc),
            ciphertext: crypto::b64(&w.ciphertext),
        }
    }
    pub fn to_wrapped(&self) -> Result<Wrapped> {
        Ok(Wrapped {
            enc: crypto::unb64(&self.enc, "custodian slot")?,
            ciphertext: crypto::unb64(&self.ciphertext, "custodian slot")?,
        })
    }
}

/// The whole keyslots file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeySlots {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    /// HPKE key that sign-in failures are sealed to before the database is
    /// open (the inbox; see `audit`).
    pub inbox_public: String,
    pub custodian_public: String,
    pub custodian_slot: WrapJson,
    /// Slots by [`KeySlots::slot_name`] of the account ID, so the file
    /// does not list who has access.
    pub slots: BTreeMap<String, Slot>,
    /// After `rekey`: the new database key wrapped with HPKE to each
    /// account's key, by slot name, until the account's slot is sealed
    /// again (its next password change). `rekey` cannot reseal the slots
    /// itself: it does not know the passwords.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub db_keys: BTreeMap<String, PendingKey>,
}

/// A database key waiting for its account's slot (see `KeySlots::db_keys`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PendingKey {
    pub epoch: u32,
    pub wrap: WrapJson,
    /// The key the database was under when this one was written, kept
    /// until the slot holds a newer key: a `rekey` killed after writing
    /// the new keys but before the database took them leaves the
    /// database under this one, which the slot may no longer hold (an
    /// earlier `rekey` finished since the slot was sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<WrapJson>,
}

/// HPKE context of a pending database key: bound to the vault, the
/// account and the key epoch.
pub(crate) fn pending_context(vault_id: &str, account: &str, epoch: u32) -> Vec<u8> {
    format!("kinko db-key v1\0{vault_id}\0{account}\0{epoch}").into_bytes()
}

impl KeySlots {
    pub fn new(
        vault_id: &str,
        inbox_public: &[u8],
        custodian_public: &[u8],
        custodian_slot: &Wrapped,
    ) -> Self {
        KeySlots {
            format: FORMAT.into(),
            version: VERSION,
            vault_id: vault_id.into(),
            inbox_public: crypto::b64(inbox_public),
            custodian_public: crypto::b64(custodian_public),
            custodian_slot: WrapJson::from_wrapped(custodian_slot),
            slots: BTreeMap::new(),
            db_keys: BTreeMap::new(),
        }
    }

    /// Read and check the shape of the keyslots file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// Parse keyslots JSON from outside bytes (a file, a backup).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let ks: KeySlots = serde_json::from_slice(bytes).map_err(|_| {
            Error::tampered("the keyslots file is damaged (not valid keyslots JSON)")
        })?;
        if ks.format != FORMAT {
            return Err(Error::tampered(
                "the keyslots file is not a Kinko keyslots file",
            ));
        }
        if ks.version != VERSION {
            return Err(Error::Unsupported(format!(
                "keyslots version {}",
                ks.version
            )));
        }
        // The vault id names files on this terminal (its memory of the
        // trail, its lockout counts): only the form Kinko makes, 32 hex
        // digits, so it can never name a path elsewhere.
        let plain = ks.vault_id.len() == 32
            && ks
                .vault_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !plain {
            return Err(Error::tampered(
                "the keyslots file names a vault id that Kinko never makes",
            ));
        }
        Ok(ks)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        fsutil::write_atomic(path, &self.file_bytes())
    }

    /// The bytes of the keyslots file.
    pub(crate) fn file_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("keyslots serialise")
    }

    /// The name an account's slot is stored under: a hash of the vault id
    /// and the account ID.
    pub fn slot_name(&self, account: &str) -> String {
        let h =
            crypto::sha256(format!("kinko slot name v1\0{}\0{account}", self.vault_id).as_bytes());
        crypto::hex(&h[..16])
    }

    /// The slot of `account`, if it has one.
    pub fn slot(&self, account: &str) -> Option<&Slot> {
        self.slots.get(&self.slot_name(account))
    }

    fn aad(
        &self,
        account: &str,
        kdf: &KdfParams,
        token: Option<&crate::possession::TokenBinding>,
    ) -> Vec<u8> {
        let kdf = serde_json::to_string(kdf).expect("KDF params serialise");
        let mut aad = format!("kinko keyslot v1\0{}\0{}\0{}", self.vault_id, account, kdf);
        if let Some(t) = token {
            aad.push('\0');
            aad.push_str(&t.aad_part());
        }
        aad.into_bytes()
    }

    /// The key-encryption key: the password's KDF output, combined with
    /// the token's secret when the slot has one.
    fn kek(
        &self,
        account: &str,
        from_password: crypto::Key32,
        token: Option<&crypto::Key32>,
    ) -> crypto::Key32 {
        match token {
            None => from_password,
            Some(z) => crypto::hkdf(
                &[from_password.as_slice(), z.as_slice()].concat(),
                b"kinko keyslot token v1",
                &[self.vault_id.as_bytes(), b"\0", account.as_bytes()],
            ),
        }
    }

    /// Seal `secrets` for `account` under `password` (replacing any slot).
    pub fn set(
        &mut self,
        account: &str,
        password: &[u8],
        kdf: KdfParams,
        secrets: &SlotSecrets,
        factor: Option<&Factor>,
    ) -> Result<()> {
        let kek = self.kek(account, kdf.derive(password)?, factor.map(|f| &f.secret));
        let token = factor.map(|f| f.binding.clone());
        let sealed = crypto::seal(
            &kek,
            &self.aad(account, &kdf, token.as_ref()),
            &secrets.to_bytes(),
        );
        // The slot now holds the current database key itself.
        self.db_keys.remove(&self.slot_name(account));
        self.slots.insert(
            self.slot_name(account),
            Slot {
                kdf,
                aead: SLOT_AEAD.into(),
                sealed: crypto::b64(&sealed),
                token,
            },
        );
        Ok(())
    }

    /// The token `account`'s slot needs, if any.
    pub fn token_of(&self, account: &str) -> Option<&crate::possession::TokenBinding> {
        self.slot(account).and_then(|s| s.token.as_ref())
    }

    /// Open `account`'s slot. A missing slot and a wrong password are the
    /// same error, so the file cannot be used to probe for IDs.
    ///
    /// A slot bound to a token needs it (`token`): without it the password
    /// is not even tried, and the error says a token is needed.
    pub fn unlock(
        &self,
        account: &str,
        password: &[u8],
        token: Option<&crate::possession::TokenAccess>,
    ) -> Result<(SlotSecrets, Option<Factor>)> {
        let Some(slot) = self.slot(account) else {
            // Spend the same time as a real attempt, with the vault's own
            // KDF profile, so timing does not tell which IDs exist.
            let profile = self
                .slots
                .values()
                .next()
                .map(|s| s.kdf.profile())
                .unwrap_or(crate::crypto::kdf::KdfProfile::Argon2id);
            let _ = KdfParams::new(profile).derive(password);
            return Err(Error::BadCredentials);
        };
        if slot.aead != SLOT_AEAD {
            return Err(Error::Unsupported(format!("keyslot AEAD {}", slot.aead)));
        }
        let sealed = crypto::unb64(&slot.sealed, "keyslot")?;
        let factor = match (&slot.token, token) {
            (None, _) => None,
            (Some(binding), Some(access)) => Some(Factor {
                binding: binding.clone(),
                secret: crate::possession::secret(access, binding)?,
            }),
            (Some(binding), None) => {
                return Err(Error::TokenNeeded(format!(
                    "this account signs in with its token '{}' as well as its password: insert it and give its module ($KINKO_PKCS11_MODULE) and PIN ($KINKO_TOKEN_PIN)",
                    binding.label()
                )))
            }
        };
        let kek = self.kek(
            account,
            slot.kdf.derive(password)?,
            factor.as_ref().map(|f| &f.secret),
        );
        let plain = crypto::open(
            &kek,
            &self.aad(account, &slot.kdf, slot.token.as_ref()),
            &sealed,
        )
        .ok_or(Error::BadCredentials)?;
        Ok((SlotSecrets::from_bytes(&plain)?, factor))
    }

    /// The database keys waiting for `account` after a `rekey`, newest
    /// first (the new key, then the one the database was under before),
    /// opened with the account's own HPKE key; none if there are none.
    pub fn pending_db_keys(
        &self,
        account: &str,
        secrets: &SlotSecrets,
    ) -> Result<Vec<Zeroizing<[u8; 32]>>> {
        let Some(p) = self.db_keys.get(&self.slot_name(account)) else {
            return Ok(Vec::new());
        };
        let ctx = pending_context(&self.vault_id, account, p.epoch);
        let open = |w: &WrapJson| -> Result<Zeroizing<[u8; 32]>> {
            let key = crypto::hpke_unwrap(&secrets.hpke_secret, &ctx, &w.to_wrapped()?)
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    Error::tampered("the keyslots file's new database key does not open")
                })?;
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(&key);
            Ok(out)
        };
        std::iter::once(&p.wrap)
            .chain(p.previous.as_ref())
            .map(open)
            .collect()
    }

    pub fn inbox_public(&self) -> Result<Vec<u8>> {
        crypto::unb64(&self.inbox_public, "inbox public key")
    }

    pub fn custodian_public(&self) -> Result<Vec<u8>> {
        crypto::unb64(&self.custodian_public, "custodian public key")
    }
}

/// The vault's public keys, which a keyslot's owner trusts: hashed into
/// the anchor sealed in their slot.
#[derive(Clone)]
pub(crate) struct VaultFacts {
    pub vault_id: String,
    pub custodian_public: Vec<u8>,
    pub inbox_public: Vec<u8>,
    pub audit_public: Vec<u8>,
    /// The root signing key (schema 3); certificates chain to it.
    pub root_public: Vec<u8>,
}

impl VaultFacts {
    /// What the database says now (to be compared with a slot's anchor).
    pub fn read(conn: &rusqlite::Connection, vault_id: &str) -> Result<Self> {
        Ok(VaultFacts {
            vault_id: vault_id.to_string(),
            custodian_public: crate::db::meta(conn, "custodian_public")?,
            inbox_public: crate::db::meta(conn, "inbox_public")?,
            audit_public: crate::db::meta(conn, "audit_public")?,
            root_public: crate::db::meta(conn, "root_public")?,
        })
    }
}

fn hash_parts(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut buf = label.to_vec();
    for part in parts {
        buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
        buf.extend_from_slice(part);
    }
    crypto::sha256(&buf)
}

/// The anchor of a slot (v3): SHA-256 over the vault's public keys, each
/// length-prefixed. Who the person is and what they may do is in their
/// certificate, checked against the root named here.
pub(crate) fn anchor(f: &VaultFacts) -> [u8; 32] {
    hash_parts(
        b"kinko anchor v3",
        &[
            f.vault_id.as_bytes(),
            &f.custodian_public,
            &f.inbox_public,
            &f.audit_public,
            &f.root_public,
        ],
    )
}

/// The account record a schema-2 slot's anchor also covered.
pub(crate) struct AccountFacts<'a> {
    pub account: &'a str,
    pub roles: &'a str,
    pub hpke_public: &'a [u8],
    pub sign_public: &'a [u8],
}

/// The anchor a slot sealed before schema 3 (no root; the account's own
/// record instead), accepted until its owner's next password sign-in
/// seals the slot again with [`anchor`].
pub(crate) fn anchor_v2(f: &VaultFacts, a: &AccountFacts) -> [u8; 32] {
    hash_parts(
        b"kinko anchor v2",
        &[
            f.vault_id.as_bytes(),
            &f.custodian_public,
            &f.inbox_public,
            &f.audit_public,
            a.account.as_bytes(),
            a.roles.as_bytes(),
            a.hpke_public,
            a.sign_public,
        ],
    )
}

/// Write the new keyslots file, then commit; if the commit fails, put the
/// old file back so the password and the trail stay in step.
pub(crate) fn commit_with(
    tx: rusqlite::Transaction,
    path: &std::path::Path,
    new: &KeySlots,
) -> Result<()> {
    let old = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    new.save(path)?;
    if let Err(e) = tx.commit() {
        let _ = fsutil::write_atomic(path, &old);
        return Err(e.into());
    }
    Ok(())
}
