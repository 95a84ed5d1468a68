//! Object files: the ciphertext of one document version each, in
//! `objects/`, named by the STREAM uid of the ciphertext (32 lower-case hex
//! digits). The one place that names an object file and writes a new one.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::crypto::{self, stream};
use crate::error::{Error, Result};
use crate::fsutil;

/// The name of an object file, checked once where it enters: a name read
/// from the database must be what Kinko writes, so someone who edits the
/// database cannot point Kinko at a file outside `objects/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName(String);

impl ObjectName {
    /// The name of the object whose ciphertext has this uid.
    pub(crate) fn of_uid(uid: &[u8; 16]) -> Self {
        ObjectName(crypto::hex(uid))
    }

    /// A name read from the database (outside bytes, for an insider).
    pub(crate) fn parse(name: &str) -> Result<Self> {
        let ours = name.len() == 32
            && name
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if !ours {
            return Err(Error::tampered(format!(
                "a document record names an object file outside the vault ({:?})",
                name.chars().take(80).collect::<String>()
            )));
        }
        Ok(ObjectName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its path in the vault's `objects/` directory.
    pub(crate) fn path(&self, objects: &Path) -> PathBuf {
        objects.join(&self.0)
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl rusqlite::ToSql for ObjectName {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

/// How a new object is sealed: the uid its ciphertext is bound to (and
/// named by), the DEK and the content suite.
pub(crate) struct Sealing<'a> {
    pub uid: [u8; 16],
    pub dek: &'a [u8; 32],
    pub suite: u16,
}

/// A new object file, complete and durable.
pub(crate) struct Sealed {
    pub name: ObjectName,
    /// Length and SHA-256 of the plaintext that went in.
    pub digest: stream::Digest256,
    /// Hex SHA-256 of the ciphertext, so `verify` checks objects without keys.
    pub object_sha256: String,
}

/// Encrypt `plaintext` into a new object file in `objects`: written under
/// a temporary name, hashed on the way, checked by `accept` (which sees the
/// plaintext's digest), made durable, then linked to its own name, never
/// over an existing file. On any failure nothing is left. `on_error` turns
/// a stream failure into the error to report (it is given the temporary
/// path, the side being written).
pub(crate) fn seal_new(
    objects: &Path,
    sealing: Sealing<'_>,
    version: u32,
    plaintext: &mut impl Read,
    on_error: impl FnOnce(stream::StreamError, &Path) -> Error,
    accept: impl FnOnce(&stream::Digest256) -> Result<()>,
) -> Result<Sealed> {
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(objects)
        .map_err(|e| Error::io(objects, e))?;
    let mut out = fsutil::HashingWriter::new(BufWriter::with_capacity(256 * 1024, tmp.as_file()));
    // On any failure `tmp` is dropped, which removes the partial object.
    let digest = stream::encrypt_with(
        sealing.suite,
        sealing.dek,
        sealing.uid,
        version,
        plaintext,
        &mut out,
    )
    .map_err(|e| on_error(e, tmp.path()))?;
    out.flush().map_err(|e| Error::io(tmp.path(), e))?;
    let (object_sha, _) = out.finish();
    accept(&digest)?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    let name = ObjectName::of_uid(&sealing.uid);
    let path = name.path(objects);
    tmp.persist_noclobber(&path)
        .map_err(|e| Error::io(&path, e.error))?;
    fsutil::sync_dir(objects)?;
    Ok(Sealed {
        name,
        digest,
        object_sha256: crypto::hex(&object_sha),
    })
}
