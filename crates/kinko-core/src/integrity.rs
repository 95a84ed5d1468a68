//! The on-demand integrity check of the whole vault (D7, `kinko verify`):
//! the database's page HMACs, the audit chain, and every object file
//! against the SHA-256 of its ciphertext recorded at import. None of this
//! needs a document key, so the system administrator can run it; with
//! `deep`, documents the person holds are also decrypted end to end.

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;

use crate::crypto::{self, stream};
use crate::error::{Error, Result};
use crate::fsutil;

/// One damaged item.
#[derive(Debug, Clone, Serialize)]
pub struct Damage {
    pub item: String,
    pub problem: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub documents_checked: u64,
    pub documents_decrypted: u64,
    pub audit_events_checked: u64,
    pub damaged: Vec<Damage>,
    /// Files no record refers to: left by an import or session that was
    /// interrupted. No stored key opens them; they are not damage.
    pub leftovers: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// Check an object file without its key: its SHA-256 and its header.
pub(crate) fn check_object_file(
    path: &std::path::Path,
    expected_sha: &str,
    uid: &[u8; 16],
    version: u32,
) -> std::result::Result<(), String> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("its object file is missing".into())
        }
        Err(e) => return Err(format!("its object file cannot be read: {e}")),
    };
    let mut hasher = <crypto::Sha256 as crypto::Digest>::new();
    let mut header = Vec::with_capacity(stream::HEADER_LEN);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("its object file cannot be read: {e}"))?;
        if n == 0 {
            break;
        }
        if header.len() < stream::HEADER_LEN {
            let take = (stream::HEADER_LEN - header.len()).min(n);
            header.extend_from_slice(&buf[..take]);
        }
        crypto::Digest::update(&mut hasher, &buf[..n]);
    }
    let header: [u8; stream::HEADER_LEN] = header
        .try_into()
        .map_err(|_| "its object file is truncated inside the header".to_string())?;
    let h = stream::parse_header(&header).map_err(|e| e.to_string())?;
    if h.uid != *uid || h.version != version {
        return Err("its object file belongs to another document".into());
    }
    if crypto::hex(&crypto::Digest::finalize(hasher)) != expected_sha {
        return Err(
            "its object file was changed (SHA-256 differs from the one recorded at import)".into(),
        );
    }
    Ok(())
}

/// Remove every file in `objects/` that no live document names: objects
/// of an import, a re-encryption or a disposal that was killed midway.
/// Only safe while no other process can be writing one (the vault held
/// alone by `rekey`, or a whole-vault disposal).
pub(crate) fn remove_leftovers(
    conn: &rusqlite::Connection,
    objects: &std::path::Path,
) -> Result<usize> {
    let known: HashSet<String> = conn
        .prepare("SELECT object_name FROM documents WHERE erased_at IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let gone = leftovers(objects, &known)?;
    for name in &gone {
        fsutil::remove_overwritten(&objects.join(name))?;
    }
    Ok(gone.len())
}

/// The new database a `rekey` killed before its rename left beside the
/// live one (`Session::replace_database`), and its journal: whole pages
/// under a key some copy of the keyslots file may still hold.
pub(crate) fn remove_rekey_leftover(vault: &std::path::Path) -> Result<()> {
    use crate::layout::DB_REKEY_FILE;
    fsutil::remove_overwritten(&vault.join(DB_REKEY_FILE))?;
    fsutil::remove_overwritten(&vault.join(format!("{DB_REKEY_FILE}-journal")))
}

pub(crate) fn leftovers(dir: &std::path::Path, known: &HashSet<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !known.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
