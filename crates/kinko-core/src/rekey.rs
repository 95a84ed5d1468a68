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
//! database   new key wrapped to every account in the keyslots file
//!            → PRAGMA rekey → custodian copy → sessions ended → epoch finished
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
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::crypto::{self, stream};
use crate::document::{DocRow, Sealing};
use crate::error::{Error, Result};
use crate::fsutil;

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
/// Returns the new file's name and SHA-256.
pub(crate) fn reseal_object(
    objects: &Path,
    doc: &DocRow,
    old_dek: &[u8; 32],
    new: Sealing<'_>,
) -> Result<(String, String)> {
    let old_path = objects.join(&doc.object_name);
    let mut src = BufReader::new(File::open(&old_path).map_err(|e| Error::io(&old_path, e))?);
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(objects)
        .map_err(|e| Error::io(objects, e))?;
    let mut out = fsutil::HashingWriter::new(BufWriter::with_capacity(256 * 1024, tmp.as_file()));
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| Error::io(&old_path, e))?;
    let (opened, sealed) = std::thread::scope(|s| {
        let opener = s.spawn(move || {
            let r = stream::decrypt(old_dek, doc.uid, doc.version, &mut src, &mut writer);
            drop(writer);
            r
        });
        let sealed = stream::encrypt_with(
            new.suite,
            new.dek,
            new.uid,
            doc.version,
            &mut reader,
            &mut out,
        );
        drop(reader);
        (opener.join(), sealed)
    });
    let opened = opened
        .map_err(|_| Error::Crypto("the re-encryption reader stopped".into()))?
        .map_err(|e| e.into_error(&old_path))?;
    let sealed = sealed.map_err(|e| e.into_error(tmp.path()))?;
    for d in [opened, sealed] {
        if crypto::hex(&d.sha256) != doc.sha256 {
            return Err(Error::tampered(format!(
                "document {} does not match its recorded SHA-256",
                doc.id
            )));
        }
    }
    out.flush().map_err(|e| Error::io(tmp.path(), e))?;
    let (object_sha, _) = out.finish();
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    let name = crypto::hex(&new.uid);
    let path = objects.join(&name);
    tmp.persist_noclobber(&path)
        .map_err(|e| Error::io(&path, e.error))?;
    fsutil::sync_dir(objects)?;
    Ok((name, crypto::hex(&object_sha)))
}
