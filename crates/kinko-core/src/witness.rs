//! What each person's terminal remembers of the audit trail: the tree
//! head (size and root) they last saw, and the one up to which they last
//! checked every event's signature.
//!
//! Someone who can write every file of the vault can put back an earlier
//! copy of it (the whole directory, keyslots and all). Nothing inside the
//! vault can tell: only what a person saw before, kept where the vault is
//! not, can. So each person's terminal keeps, outside the vault (the
//! command's state directory, the app's data directory), a small file per
//! vault and person: the last tree head they saw, authenticated with a key
//! derived from their own signing key, which only they hold. At every
//! sign-in the trail must still hold that head (the tree's root over its
//! first `size` events must be the remembered one, the RFC 6962
//! consistency of a Merkle tree); a shorter or different history is
//! tampering, unless the officer or the system administrator restored the
//! vault from a backup since (their signed `vault.restore` event), which
//! the person is told of.
//!
//! Someone who can also write the person's own terminal files can delete
//! that memory (the next sign-in then starts afresh), never forge it.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::tree;
use crate::crypto;
use crate::error::{Error, Result};

const FORMAT: &str = "kinko-witness v1";

pub use crate::audit::tree::Head;

/// What one person's terminal remembers of one vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub format: String,
    pub vault_id: String,
    pub account: String,
    /// The newest head this person saw (at their last sign-in or action).
    pub seen: Head,
    /// When they saw it (UTC).
    pub at: String,
    /// The head up to which they checked every event's signature
    /// (`audit verify`, `verify`); events up to it need no second check
    /// while the trail still holds it.
    pub verified: Option<Head>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    memory: Memory,
    /// Hex of HMAC-SHA-256 over the compact JSON of `memory`.
    mac: String,
}

/// Where one person's memory of one vault lives on this terminal: a file
/// per vault directory and account, under the shell's state directory.
pub(crate) struct Place {
    path: PathBuf,
    vault_id: String,
    account: String,
}

impl Place {
    pub(crate) fn new(state_dir: &Path, vault_dir: &Path, vault_id: &str, account: &str) -> Self {
        // The same vault restored into another directory (a drill) is
        // another place: each copy is remembered on its own.
        let where_ = std::fs::canonicalize(vault_dir).unwrap_or_else(|_| vault_dir.to_path_buf());
        let name = crypto::hex(&crypto::sha256(
            format!("{}\0{}", where_.display(), account).as_bytes(),
        ));
        Place {
            path: state_dir.join("witness").join(vault_id).join(&name[..32]),
            vault_id: vault_id.to_string(),
            account: account.to_string(),
        }
    }

    /// The memory kept here, if any authenticates under `sign_secret`. A
    /// file that does not (keys changed at a password change or a reset,
    /// or it was written by someone else) counts as none.
    pub(crate) fn load(&self, sign_secret: &[u8; 32]) -> Result<Option<Memory>> {
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        if !meta.is_file() {
            return Err(Error::tampered(format!(
                "{} is not a file Kinko wrote (a link or a directory)",
                self.path.display()
            )));
        }
        let bytes = std::fs::read(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let Ok(file) = serde_json::from_slice::<File>(&bytes) else {
            return Ok(None);
        };
        let body = serde_json::to_vec(&file.memory).expect("memory serialises");
        let tag = crypto::unhex(&file.mac).unwrap_or_default();
        let m = &file.memory;
        let ours = m.format == FORMAT && m.vault_id == self.vault_id && m.account == self.account;
        Ok(
            (ours && crypto::hmac_sha256_verify(&*self.key(sign_secret), &body, &tag))
                .then_some(file.memory),
        )
    }

    pub(crate) fn save(&self, sign_secret: &[u8; 32], memory: &Memory) -> Result<()> {
        let body = serde_json::to_vec(memory).expect("memory serialises");
        let file = File {
            memory: memory.clone(),
            mac: crypto::hex(&crypto::hmac_sha256(&*self.key(sign_secret), &body)),
        };
        let dir = self.path.parent().expect("a place has a directory");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        crate::fsutil::write_atomic(&self.path, &serde_json::to_vec(&file).expect("serialises"))
    }

    fn key(&self, sign_secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*crypto::hkdf(
            sign_secret,
            FORMAT.as_bytes(),
            &[self.vault_id.as_bytes(), self.account.as_bytes()],
        ))
    }

    pub(crate) fn memory(&self, seen: Head, verified: Option<Head>) -> Memory {
        Memory {
            format: FORMAT.into(),
            vault_id: self.vault_id.clone(),
            account: self.account.clone(),
            seen,
            at: crate::time::now(),
            verified,
        }
    }
}

/// The trail's head now, from the stored tree.
pub(crate) fn head_now(conn: &Connection) -> Result<Head> {
    let size = crate::audit::size(conn)?;
    Ok(Head {
        size,
        root: crypto::hex(&tree::root(&tree::Stored(conn), size)?),
    })
}

/// Does the trail still hold `head` (same root over its first events)?
pub(crate) fn holds(conn: &Connection, head: &Head) -> Result<bool> {
    if crate::audit::size(conn)? < head.size {
        return Ok(false);
    }
    let root = tree::root(&tree::Stored(conn), head.size)?;
    Ok(crypto::hex(&root) == head.root)
}

/// How the trail now stands against what this person saw last.
pub(crate) enum Against {
    /// The trail extends what they saw (or they saw nothing here yet).
    Extends,
    /// Shorter or different, but restored from a backup since, by the
    /// person named in the signed event (seq, who, when).
    Restored { seq: i64, by: String, at: String },
}

/// Check the trail against `memory`: it must hold the head seen last,
/// or carry a restore from a backup made after it was seen.
pub(crate) fn check(
    conn: &Connection,
    root_key: &[u8],
    memory: Option<&Memory>,
) -> Result<Against> {
    let Some(m) = memory else {
        return Ok(Against::Extends);
    };
    if holds(conn, &m.seen)? {
        return Ok(Against::Extends);
    }
    // A restore is signed by whoever restored (verify checks the
    // signature; the action needs the officer or the system administrator).
    let restore: Option<(i64, String, String)> = rusqlite::OptionalExtension::optional(
        conn.query_row(
            "SELECT seq, actor, at FROM audit_events WHERE event = ?2 AND outcome = 'ok' AND at > ?1
             ORDER BY seq DESC LIMIT 1",
            [m.at.as_str(), crate::permission::Action::Restore.event()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        ),
    )?;
    let now = crate::audit::size(conn)?;
    match restore {
        Some((seq, by, at)) => {
            crate::audit::verify::entitled_event(
                conn,
                &m.vault_id,
                root_key,
                seq,
                crate::permission::Action::Restore,
            )?;
            Ok(Against::Restored { seq, by, at })
        }
        None => Err(Error::tampered(format!(
            "the audit trail is not the one you saw when you last used this vault here \
             ({} events then, {now} now, at {}): the vault was put back to an earlier copy \
             or events were removed or changed",
            m.seen.size, m.at
        ))),
    }
}
