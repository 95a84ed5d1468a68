//! Signed checkpoints of the audit tree (A2): the size and root of the
//! tree at a moment, signed by the person who asked for it (the officer or
//! the auditor) with the key their certificate names. They are kept in
//! the database, and `audit checkpoint --out FILE` writes one as a small
//! JSON file for a person to keep apart from the vault: given that file
//! later, `audit verify` proves the trail still begins with exactly the
//! events it vouched for, and that the vault was not rolled back to a copy
//! older than it. Checkpoints made before schema 3 (version 1) were signed
//! with the vault's audit key, whose public half the anchor names.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::tree::{self, Hash};
use crate::crypto;
use crate::db::meta;
use crate::error::{Error, Result};
use crate::grant::Signer;

pub const FORMAT: &str = "kinko-audit-checkpoint";
/// Version 2: signed by a certified person; version 1: the audit key.
pub const VERSION: u32 = 2;

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
    /// Who asked for it and signed it (an account ID).
    pub made_by: String,
    /// The serial of the signer's certificate (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<i64>,
    /// Base64 of the signing key's public half (SEC1): the signer's, or
    /// for version 1 the vault's audit key.
    pub public_key: String,
    /// Base64 of the ECDSA P-256 / SHA-256 signature (r || s).
    pub signature: String,
}

fn message(
    vault_id: &str,
    size: u64,
    root: &Hash,
    at: &str,
    made_by: &str,
    serial: Option<i64>,
) -> Vec<u8> {
    let v = if serial.is_some() { 2 } else { 1 };
    let mut m = format!("kinko audit checkpoint v{v}\0{vault_id}\0").into_bytes();
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(root);
    m.extend_from_slice(format!("{at}\0{made_by}").as_bytes());
    if let Some(serial) = serial {
        m.push(0);
        m.extend_from_slice(&serial.to_be_bytes());
    }
    m
}

/// One stored checkpoint row: root, at, made_by, signature, serial, key.
type Row = (
    Vec<u8>,
    String,
    String,
    Vec<u8>,
    Option<i64>,
    Option<Vec<u8>>,
);

impl Checkpoint {
    /// Sign the tree as it is now and keep the checkpoint in the database.
    pub fn make(conn: &Connection, signer: &Signer) -> Result<Checkpoint> {
        let size = super::size(conn)?;
        Self::make_at(conn, signer, size)
    }

    /// Sign the tree of the first `size` events (archiving signs the part
    /// it archives). One already stored for that size is kept.
    pub(crate) fn make_at(conn: &Connection, signer: &Signer, size: u64) -> Result<Checkpoint> {
        if let Some(existing) = Self::stored(conn, signer.vault_id, size)? {
            return Ok(existing);
        }
        let root = tree::root(&tree::Stored(conn), size)?;
        let at = super::now();
        let (made_by, serial) = (signer.account, Some(signer.serial));
        let signature = crypto::ecdsa_sign(
            signer.secret,
            &message(signer.vault_id, size, &root, &at, made_by, serial),
        )?;
        let public = crypto::SigningKeyPair::public_of(signer.secret)?;
        conn.execute(
            "INSERT INTO audit_checkpoints (size, root, at, made_by, signature, serial, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![size as i64, root.to_vec(), at, made_by, signature, serial, public],
        )?;
        Ok(Checkpoint::assemble(
            signer.vault_id,
            size,
            &root,
            (at, made_by.into(), serial),
            &public,
            &signature,
        ))
    }

    fn assemble(
        vault_id: &str,
        size: u64,
        root: &Hash,
        (at, made_by, serial): (String, String, Option<i64>),
        public: &[u8],
        signature: &[u8],
    ) -> Checkpoint {
        Checkpoint {
            format: FORMAT.into(),
            version: if serial.is_some() { VERSION } else { 1 },
            vault_id: vault_id.into(),
            size,
            root: crypto::hex(root),
            at,
            made_by,
            serial,
            public_key: crypto::b64(public),
            signature: crypto::b64(signature),
        }
    }

    /// The stored checkpoint of `size` events, if there is one.
    pub fn stored(conn: &Connection, vault_id: &str, size: u64) -> Result<Option<Checkpoint>> {
        let row: Option<Row> = conn
            .query_row(
                "SELECT root, at, made_by, signature, serial, public_key FROM audit_checkpoints WHERE size = ?1",
                [size as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        row.map(|(root, at, made_by, sig, serial, public)| {
            let public = match public {
                Some(p) => p,
                None => meta(conn, "audit_public")?,
            };
            Ok(Checkpoint::assemble(
                vault_id,
                size,
                &tree::to_hash(root)?,
                (at, made_by, serial),
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
        if c.version != VERSION && c.version != 1 {
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

    /// The bytes its signature covers (`docs/audit.md`).
    pub fn signed_bytes(&self) -> Result<Vec<u8>> {
        Ok(message(
            &self.vault_id,
            self.size,
            &self.root_hash()?,
            &self.at,
            &self.made_by,
            self.serial,
        ))
    }

    /// Does the signature hold under the key the checkpoint names?
    pub fn check_signature(&self) -> Result<()> {
        let sig = crypto::unb64(&self.signature, "the checkpoint's signature")?;
        let m = self.signed_bytes()?;
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

/// The actions that sign a checkpoint of the tree as it stands (the
/// verifications, reports, archives and the disposal's confirmation): a
/// checkpoint is accepted from someone whose roles allow one of them.
const MAKE_CHECKPOINTS: [crate::permission::Action; 8] = {
    use crate::permission::Action::*;
    [
        AuditRead,
        AuditCheckpoint,
        AuditVerify,
        AuditArchive,
        AuditReport,
        DisposalConfirm,
        DisposalReport,
        StatusReport,
    ]
};

impl Checkpoint {
    /// Was it signed by someone entitled to, in this vault? A version 2
    /// checkpoint must name a valid certificate of the person it says made
    /// it, whose key signed it and whose roles may make checkpoints; a
    /// version 1 one must carry the vault's audit key (the anchor names
    /// it). The signature itself is [`Checkpoint::check_signature`].
    pub(crate) fn check_signer(
        &self,
        conn: &Connection,
        vault_id: &str,
        root: &[u8],
    ) -> Result<()> {
        let forged = || {
            Error::tampered(format!(
                "the checkpoint of {} events made {} was not signed by someone entitled to (it names {})",
                self.size, self.at, self.made_by
            ))
        };
        let public = self.public_key_bytes()?;
        match self.serial {
            Some(serial) => {
                // The signature itself is checked by `check_signature`
                // with the key the checkpoint names, which must be this
                // certificate's.
                let cert = crate::cert::by_serial(conn, vault_id, root, serial)?;
                let entitled = cert.body.account == self.made_by
                    && MAKE_CHECKPOINTS.iter().any(|a| cert.roles.allow(*a));
                if cert.sign_public != public || !entitled {
                    return Err(forged());
                }
                // Made with a key kept past its certificate's revocation:
                // the trail it vouches for already held the revocation.
                let size = i64::try_from(self.size).unwrap_or(i64::MAX);
                if let Some(r) =
                    crate::revocation::revoked_before(conn, serial, &self.made_by, size + 1)?
                {
                    return Err(Error::tampered(format!(
                        "the checkpoint of {} events made {} is signed with certificate {serial} of {}, which audit event {r} had revoked",
                        self.size, self.at, self.made_by
                    )));
                }
            }
            None => {
                if public != meta(conn, "audit_public")? {
                    return Err(Error::tampered(
                        "the checkpoint was signed with a different audit key than this vault's (the key was replaced)",
                    ));
                }
            }
        }
        Ok(())
    }
}
