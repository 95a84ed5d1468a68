//! Key rotation and crypto agility (D6, 仕様 6.8.1 (7), 6.8.3): `rekey`
//! starts a new key epoch in which every document gets a new data key and
//! a new object file (under the same or another content suite), every
//! holder's wrap is replaced, and the database gets a new key.
//!
//! ```text
//! begin      key_epochs row N (suite), finished_at empty   -- resumable from here
//! documents  per document, oldest epoch first:
//!              old DEK (custodian wrap, recovery code) → decrypt old object
//!              → encrypt under a new DEK and uid into a new object file
//!              → one transaction: row points at the new file, every wrap
//!                replaced, event → old file overwritten and unlinked
//! database   new key (and the current one) wrapped to every account in
//!            the keyslots file → the database exported under the new key
//!            to a new file, renamed over the old → custodian copy →
//!            sessions ended → epoch finished
//! ```
//!
//! The whole run holds the vault alone (rollback journal, exclusive lock):
//! no other process reads a file being replaced or writes under a key
//! being retired; a vault open elsewhere is refused.
//!
//! A kill at any point leaves the vault consistent: a new object file not
//! yet committed is a leftover no record names (`verify` lists it, nothing
//! opens it); an old one not yet removed likewise; running `rekey` again
//! resumes the unfinished epoch. Sign-in tries the new database key first,
//! then the slot's, so a stop between the keyslots file and the database
//! locks nobody out.
//!
//! It needs the recovery code: only the custodian holds every data key.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::crypto::{self, stream};
use crate::document::DocRow;
use crate::error::{Error, Result};
use crate::object::{seal_new, Sealed, Sealing};

/// The newest key epoch and its content suite: new documents are sealed
/// under it.
pub(crate) fn current_epoch(conn: &Connection) -> Result<(u32, u16)> {
    Ok(conn.query_row(
        "SELECT epoch, suite FROM key_epochs ORDER BY epoch DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Whether a `rekey` stopped before it finished.
pub(crate) fn unfinished(conn: &Connection) -> Result<Option<(u32, u16)>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT epoch, suite FROM key_epochs WHERE finished_at IS NULL ORDER BY epoch DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The `meta` row that says a new database key is owed: the account whose
/// disabling asked for it.
const KEY_OWED: &str = "key_owed";

/// Record, in the transaction that disables `account`, that the database
/// needs a new key (given right after it, in its own steps: a run stopped
/// in between leaves this row, and the key is given later).
pub(crate) fn owe_database_key(conn: &Connection, account: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![KEY_OWED, account.as_bytes()],
    )?;
    Ok(())
}

/// The account whose disabling still waits for its new database key.
pub(crate) fn owed_database_key(conn: &Connection) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    let owed: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [KEY_OWED], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(owed.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// The database has its new key: nothing is owed any more.
pub(crate) fn key_given(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [KEY_OWED])?;
    Ok(())
}

/// What `rekey` reports.
#[derive(Debug, Clone, Serialize)]
pub struct RekeyReport {
    pub epoch: u32,
    pub suite: u16,
    pub suite_name: &'static str,
    /// An earlier run had stopped; this one finished it.
    pub resumed: bool,
    /// Documents re-encrypted by this run.
    pub documents: usize,
    /// Backups on record made under earlier epochs and not destroyed:
    /// they still open with the old keys and passwords.
    pub older_backups: Vec<i64>,
}

/// Decrypt `doc`'s object and encrypt it again under `new`, into a new
/// object file; the plaintext passes through memory only (a pipe between
/// two threads) and must match the receipt's SHA-256 on both sides.
pub(crate) fn reseal_object(
    objects: &Path,
    doc: &DocRow,
    old_dek: &[u8; 32],
    new: Sealing<'_>,
) -> Result<Sealed> {
    let old_path = doc.object_name.path(objects);
    let mut src = BufReader::new(File::open(&old_path).map_err(|e| Error::io(&old_path, e))?);
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| Error::io(&old_path, e))?;
    let matches_receipt = |d: &stream::Digest256| {
        if crypto::hex(&d.sha256) != doc.sha256 {
            return Err(Error::tampered(format!(
                "document {} does not match its recorded SHA-256",
                doc.id
            )));
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let opener = s.spawn(move || {
            let r = stream::decrypt(old_dek, doc.uid, doc.version, &mut src, &mut writer);
            drop(writer);
            r
        });
        let sealed = seal_new(
            objects,
            new,
            doc.version,
            &mut reader,
            |e, tmp| e.into_error(tmp),
            // The reader saw the end, so the opener is done: its verdict
            // (tampering, truncation) is the true cause when both fail.
            move |sealed| {
                let opened = opener
                    .join()
                    .map_err(|_| Error::Crypto("the re-encryption reader stopped".into()))?
                    .map_err(|e| e.into_error(&old_path))?;
                matches_receipt(&opened)?;
                matches_receipt(sealed)
            },
        );
        // A failed write leaves the opener blocked on the pipe until its
        // reading end goes.
        drop(reader);
        sealed
    })
}
