//! Signed checkpoints of the audit tree (A2): the size and root of the
//! tree at a moment, signed with the vault's ECDSA P-256 audit key. They
//! are kept in the database, and `audit checkpoint --out FILE` writes one
//! as a small JSON file for a person to keep apart from the vault: given
//! that file later, `audit verify` proves the trail still begins with
//! exactly the events it vouched for, and that the vault was not rolled
//! back to a copy older than it.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::tree::{self, Hash};
use crate::crypto;
use crate::db::meta;
use crate::error::{Error, Result};

pub const FORMAT: &str = "kinko-audit-checkpoint";
pub const VERSION: u32 = 1;

/// A signed tree head, as stored and as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    /// Number of events in the tree.
    pub size: u64,
    /// Hex of the RFC 6962 root.
    pub root: String,
    /// When it was signed (UTC).
    pub at: String,
    /// Who asked for it (an account ID, or `kinko`).
    pub made_by: String,
    /// Base64 of the audit key's public half (SEC1).
    pub public_key: String,
    /// Base64 of the ECDSA P-256 / SHA-256 signature (r || s).
    pub signature: String,
}

fn message(vault_id: &str, size: u64, root: &Hash, at: &str, made_by: &str) -> Vec<u8> {
    let mut m = format!("kinko audit checkpoint v1\0{vault_id}\0").into_bytes();
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(root);
    m.extend_from_slice(format!("{at}\0{made_by}").as_bytes());
    m
}

impl Checkpoint {
    /// Sign the tree as it is now and keep the checkpoint in the database.
    pub fn make(conn: &Connection, vault_id: &str, made_by: &str) -> Result<Checkpoint> {
        let size = super::size(conn)?;
        Self::make_at(conn, vault_id, made_by, size)
    }

    /// Sign the tree of the first `size` events (archiving signs the part
    /// it archives).
    pub(crate) fn make_at(
        conn: &Connection,
        vault_id: &str,
        made_by: &str,
        size: u64,
    ) -> Result<Checkpoint> {
        if let Some(existing) = Self::stored(conn, vault_id, size)? {
            return Ok(existing);
        }
        let root = tree::root(&tree::Stored(conn), size)?;
        let at = super::now();
        let key = crate::signed::AuditKey::load(conn)?;
        let signature =
            crypto::ecdsa_sign(&key.secret, &message(vault_id, size, &root, &at, made_by))?;
        conn.execute(
            "INSERT INTO audit_checkpoints (size, root, at, made_by, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![size as i64, root.to_vec(), at, made_by, signature],
        )?;
        Ok(Checkpoint::assemble(
            vault_id,
            size,
            &root,
            at,
            made_by.into(),
            &meta(conn, "audit_public")?,
            &signature,
        ))
    }

    fn assemble(
        vault_id: &str,
        size: u64,
        root: &Hash,
        at: String,
        made_by: String,
        public: &[u8],
        signature: &[u8],
    ) -> Checkpoint {
        Checkpoint {
            format: FORMAT.into(),
            version: VERSION,
            vault_id: vault_id.into(),
            size,
            root: crypto::hex(root),
            at,
            made_by,
            public_key: crypto::b64(public),
            signature: crypto::b64(signature),
        }
    }

    /// The stored checkpoint of `size` events, if there is one.
    pub fn stored(conn: &Connection, vault_id: &str, size: u64) -> Result<Option<Checkpoint>> {
        let row: Option<(Vec<u8>, String, String, Vec<u8>)> = conn
            .query_row(
                "SELECT root, at, made_by, signature FROM audit_checkpoints WHERE size = ?1",
                [size as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let public = meta(conn, "audit_public")?;
        row.map(|(root, at, made_by, sig)| {
            Ok(Checkpoint::assemble(
                vault_id,
                size,
                &tree::to_hash(root)?,
                at,
                made_by,
                &public,
                &sig,
            ))
        })
        .transpose()
    }

    /// Every stored checkpoint, oldest first.
    pub fn all_stored(conn: &Connection, vault_id: &str) -> Result<Vec<Checkpoint>> {
        let sizes: Vec<i64> = conn
            .prepare("SELECT size FROM audit_checkpoints ORDER BY size")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(sizes.len());
        for s in sizes {
            out.extend(Self::stored(conn, vault_id, s as u64)?);
        }
        Ok(out)
    }

    /// Read a checkpoint file. A file that is not one is bad input; its
    /// signature is checked where it is used ([`Checkpoint::check_signature`]),
    /// inside the action, so a forged one is logged as tampering.
    pub fn from_json(bytes: &[u8]) -> Result<Checkpoint> {
        let c: Checkpoint = serde_json::from_slice(bytes)
            .map_err(|_| Error::invalid("the file is not a Kinko audit checkpoint"))?;
        if c.format != FORMAT {
            return Err(Error::invalid("the file is not a Kinko audit checkpoint"));
        }
        if c.version != VERSION {
            return Err(Error::Unsupported(format!(
                "audit checkpoint version {}",
                c.version
            )));
        }
        Ok(c)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a checkpoint serialises");
        v.push(b'\n');
        v
    }

    pub fn root_hash(&self) -> Result<Hash> {
        let bytes = data_encoding::HEXLOWER
            .decode(self.root.as_bytes())
            .map_err(|_| Error::tampered("the checkpoint's root is not hex"))?;
        tree::to_hash(bytes)
    }

    pub fn public_key_bytes(&self) -> Result<Vec<u8>> {
        crypto::unb64(&self.public_key, "the checkpoint's public key")
    }

    /// Does the signature hold under the key the checkpoint names?
    pub fn check_signature(&self) -> Result<()> {
        let sig = crypto::unb64(&self.signature, "the checkpoint's signature")?;
        let m = message(
            &self.vault_id,
            self.size,
            &self.root_hash()?,
            &self.at,
            &self.made_by,
        );
        if crypto::ecdsa_verify(&self.public_key_bytes()?, &m, &sig) {
            Ok(())
        } else {
            Err(Error::tampered(format!(
                "the signature of the checkpoint of {} events made {} does not verify",
                self.size, self.at
            )))
        }
    }
}
