//! Documents (D1, D3, D4): receiving a file into the vault with its
//! receipt, listing and showing documents, and exporting plaintext, which
//! for personal data needs an approval the officer recorded.
//!
//! A document's contents are encrypted under its own random data key
//! (DEK); the DEK is stored only as HPKE wraps to the people granted the
//! document and to the custodian. Someone without a wrap cannot decrypt,
//! whatever else of the vault they hold.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::account::validate_text;
use crate::actor::Ctx;
use crate::audit;
use crate::crypto::{self, stream, Wrapped};
use crate::error::{Error, Result};
use crate::grant::{Right, WrapRow};
use crate::object::{seal_new, ObjectName, Sealed, Sealing};

/// Holder name of the custodian's wrap in the `wraps` table; account IDs
/// cannot start with `#`.
pub const CUSTODIAN: &str = "#custodian";

/// What the person receiving a file says about it (D1).
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub source: PathBuf,
    /// From whom the file came (the bureau's section, a person).
    pub origin: String,
    /// How it came (e-mail, USB medium, portal …).
    pub via: String,
    /// The purpose or contract it is for.
    pub purpose: String,
    /// A title; the file name if not given.
    pub title: Option<String>,
    pub personal_data: bool,
}

/// A document's receipt and state, as shown to people allowed to see it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocumentInfo {
    pub id: i64,
    pub title: String,
    pub file_name: String,
    pub origin: String,
    pub via: String,
    pub purpose: String,
    pub personal_data: bool,
    pub size: u64,
    pub sha256: String,
    pub received_by: String,
    pub received_at: String,
    /// Its title, file name, origin, way and purpose are sealed from this
    /// person (`label.rs`): they neither hold it nor are the officer.
    pub label_hidden: bool,
    /// Who holds a key to it (only in `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub holders: Option<Vec<String>>,
}

/// Where exported plaintext goes.
pub enum ExportTarget<'a> {
    /// A new file; it must not exist yet. Written under a temporary name
    /// and renamed only once every chunk has authenticated.
    File(&'a Path),
    /// A stream (standard output).
    Writer(&'a mut dyn Write),
}

/// What an export delivered.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReceipt {
    pub id: i64,
    pub bytes: u64,
    pub sha256: String,
}

pub(crate) struct DocRow {
    pub id: i64,
    pub uid: [u8; 16],
    pub version: u32,
    pub object_name: ObjectName,
    pub object_sha256: String,
    pub personal_data: bool,
    pub sha256: String,
}

pub(crate) fn object(id: i64) -> String {
    format!("document:{id}")
}

/// The HPKE context binding a DEK wrap to its vault, document and holder.
pub fn wrap_context(vault_id: &str, uid: &[u8; 16], holder: &str) -> Vec<u8> {
    format!("kinko dek v1\0{vault_id}\0{}\0{holder}", crypto::hex(uid)).into_bytes()
}

pub(crate) fn load_doc(tx: &rusqlite::Connection, id: i64) -> Result<DocRow> {
    tx.query_row(
        "SELECT id, uid, version, object_name, object_sha256, personal_data, sha256 FROM documents WHERE id = ?1 AND erased_at IS NULL",
        [id],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
            ))
        },
    )
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("document {id} (or it was disposed of)")))
    .and_then(|(id, uid, version, object_name, object_sha256, personal_data, sha256)| {
        let object_name = ObjectName::parse(&object_name)?;
        Ok(DocRow {
            id,
            uid: uid
                .try_into()
                .map_err(|_| Error::tampered(format!("document {id} has a malformed uid")))?,
            version,
            object_name,
            object_sha256,
            personal_data,
            sha256,
        })
    })
}

/// The holder's wrap of a document's DEK, if they have one.
pub(crate) fn load_wrap(tx: &Transaction, doc: i64, holder: &str) -> Result<Option<Wrapped>> {
    Ok(tx
        .query_row(
            "SELECT enc, ciphertext FROM wraps WHERE doc_id = ?1 AND holder = ?2",
            params![doc, holder],
            |r| {
                Ok(Wrapped {
                    enc: r.get(0)?,
                    ciphertext: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// Open `holder`'s wrap of document `doc`'s key with `secret`: `None` if
/// `holder` holds no wrap; tampering if the wrap does not open or does not
/// hold a 256-bit key.
pub(crate) fn unwrap_dek(
    tx: &Transaction,
    vault_id: &str,
    doc: &DocRow,
    holder: &str,
    secret: &[u8; 32],
) -> Result<Option<Zeroizing<[u8; 32]>>> {
    load_wrap(tx, doc.id, holder)?
        .map(|wrap| open_wrap(vault_id, doc, holder, secret, &wrap))
        .transpose()
}

/// Open a wrap of `doc`'s key to `holder` with `secret`.
fn open_wrap(
    vault_id: &str,
    doc: &DocRow,
    holder: &str,
    secret: &[u8; 32],
    wrap: &Wrapped,
) -> Result<Zeroizing<[u8; 32]>> {
    let dek = crypto::hpke_unwrap(secret, &wrap_context(vault_id, &doc.uid, holder), wrap)
        .ok_or_else(|| Error::tampered(format!("the key to document {} does not open", doc.id)))?;
    let key: [u8; 32] = dek.as_slice().try_into().map_err(|_| {
        Error::tampered(format!(
            "the key of document {} has the wrong length",
            doc.id
        ))
    })?;
    Ok(Zeroizing::new(key))
}

/// The custodian's copy of document `doc`'s key, opened with the custodian
/// secret (the recovery code): every live document has one.
pub(crate) fn custodian_dek(
    tx: &Transaction,
    vault_id: &str,
    doc: &DocRow,
    custodian: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>> {
    unwrap_dek(tx, vault_id, doc, CUSTODIAN, custodian)?
        .ok_or_else(|| Error::tampered(format!("document {} has no custodian key", doc.id)))
}

/// Unwrap the acting person's copy of a document's DEK. No wrap means the
/// document was never granted to them (or was revoked). The wrap must
/// carry a grant someone entitled signed, under a certificate in force
/// then: a wrap a leaver made with a key they kept is tampering.
pub(crate) fn unwrap_own_dek(
    tx: &Transaction,
    ctx: &Ctx,
    doc: &DocRow,
) -> Result<Zeroizing<[u8; 32]>> {
    let wrap = own_granted_wrap(tx, ctx, doc)?
        .ok_or_else(|| Error::denied(format!("document {} has not been granted to you", doc.id)))?;
    open_wrap(
        &ctx.vault_id,
        doc,
        &ctx.actor.id,
        &ctx.secrets.hpke_secret,
        &wrap,
    )
}

/// Wrap a DEK to `holder` (an account, or the custodian) and store it.
pub(crate) fn store_wrap(
    tx: &Transaction,
    ctx: &Ctx,
    doc: i64,
    uid: &[u8; 16],
    holder: &str,
    dek: &[u8; 32],
    right: Right,
) -> Result<()> {
    // Never the row's key: only a key the officer certified (or the
    // custodian's, anchored in every keyslot).
    let public = if holder == CUSTODIAN {
        ctx.custodian_public.clone()
    } else {
        crate::cert::wrap_key(tx, &ctx.vault_id, &ctx.root_public, holder)?
    };
    let w = crypto::hpke_wrap(&public, &wrap_context(&ctx.vault_id, uid, holder), dek)?;
    let (statement, signature) = crate::grant::sign(
        &ctx.signer()?,
        &WrapRow {
            uid,
            holder,
            enc: &w.enc,
            ciphertext: &w.ciphertext,
        },
        right,
    )?;
    tx.execute(
        "INSERT INTO wraps (doc_id, holder, enc, ciphertext, granted_by, granted_at, statement, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![doc, holder, w.enc, w.ciphertext, ctx.actor.id, audit::now(), statement, signature],
    )?;
    Ok(())
}

/// Set aside every wrap `account` holds, with its signed grant, for the
/// officer's `account recover` (a reset, new keys, the upgrade); returns
/// how many.
pub(crate) fn set_aside_wraps(tx: &rusqlite::Connection, account: &str) -> Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO regrant_pending (account, doc_id, uid, enc, ciphertext, statement, signature)
         SELECT w.holder, w.doc_id, d.uid, w.enc, w.ciphertext, w.statement, w.signature
         FROM wraps w JOIN documents d ON d.id = w.doc_id WHERE w.holder = ?1",
        [account],
    )?;
    Ok(tx.execute("DELETE FROM wraps WHERE holder = ?1", [account])?)
}

/// The documents set aside for `account` whose signed grant holds; one
/// set aside without it (a row added by hand) is tampering.
pub(crate) fn checked_set_aside(tx: &Transaction, ctx: &Ctx, account: &str) -> Result<Vec<i64>> {
    type Row = (
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let rows: Vec<Row> = tx
        .prepare("SELECT doc_id, uid, enc, ciphertext, statement, signature FROM regrant_pending WHERE account = ?1 ORDER BY doc_id")?
        .query_map([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut docs = Vec::with_capacity(rows.len());
    for (doc_id, uid, enc, ciphertext, statement, signature) in rows {
        let forged = || {
            Error::tampered(format!(
            "document {doc_id} was set aside for {account} without a grant that shows they held it (added outside Kinko)"
        ))
        };
        let uid: [u8; 16] = uid.and_then(|u| u.try_into().ok()).ok_or_else(forged)?;
        let (enc, ciphertext) = enc.zip(ciphertext).ok_or_else(forged)?;
        let wrap = WrapRow {
            uid: &uid,
            holder: account,
            enc: &enc,
            ciphertext: &ciphertext,
        };
        grant_holds(tx, ctx, &wrap, (statement, signature)).map_err(|_| forged())?;
        docs.push(doc_id);
    }
    Ok(docs)
}

/// The acting person's wrap of `doc`, if they hold one, once its signed
/// grant is found to hold.
fn own_granted_wrap(tx: &Transaction, ctx: &Ctx, doc: &DocRow) -> Result<Option<Wrapped>> {
    type Row = (Vec<u8>, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Row> = tx
        .prepare_cached(
            "SELECT enc, ciphertext, statement, signature FROM wraps WHERE doc_id = ?1 AND holder = ?2",
        )?
        .query_row(params![doc.id, ctx.actor.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((enc, ciphertext, statement, signature)) = row else {
        return Ok(None);
    };
    let wrap = WrapRow {
        uid: &doc.uid,
        holder: &ctx.actor.id,
        enc: &enc,
        ciphertext: &ciphertext,
    };
    grant_holds(tx, ctx, &wrap, (statement, signature))?;
    Ok(Some(Wrapped { enc, ciphertext }))
}

/// Does the signed grant of `wrap` hold, for this person's root?
fn grant_holds(
    tx: &Transaction,
    ctx: &Ctx,
    wrap: &WrapRow,
    signed: (Option<Vec<u8>>, Option<Vec<u8>>),
) -> Result<()> {
    crate::grant::check(tx, &ctx.vault_id, &ctx.root_public, wrap, signed)
}

/// Check the signed grant of every wrap of document `doc_id` (whose uid
/// is `uid`): the holders whose wraps hold, or tampering naming the first
/// that does not.
pub(crate) fn checked_holders(
    tx: &Transaction,
    ctx: &Ctx,
    doc_id: i64,
    uid: &[u8; 16],
) -> Result<Vec<String>> {
    type Row = (String, Vec<u8>, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
    let rows: Vec<Row> = tx
        .prepare("SELECT holder, enc, ciphertext, statement, signature FROM wraps WHERE doc_id = ?1 ORDER BY holder")?
        .query_map([doc_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut holders = Vec::with_capacity(rows.len());
    for (holder, enc, ciphertext, statement, signature) in rows {
        let wrap = WrapRow {
            uid,
            holder: &holder,
            enc: &enc,
            ciphertext: &ciphertext,
        };
        grant_holds(tx, ctx, &wrap, (statement, signature)).map_err(|e| match e {
            Error::Tampered(m) => Error::tampered(format!("document {doc_id}: {m}")),
            e => e,
        })?;
        holders.push(holder);
    }
    Ok(holders)
}

/// Point document `doc` at a new object file (and key epoch), if it still
/// has the uid `doc` was read with: false when another process moved it
/// first. The caller seals the holders' copy of its label again under the
/// new key (`label::reseal_held`).
pub(crate) fn move_to_object(
    tx: &Transaction,
    doc: &DocRow,
    uid: &[u8; 16],
    sealed: (&ObjectName, &str),
    epoch: u32,
) -> Result<bool> {
    let (name, object_sha) = sealed;
    let moved = tx.execute(
        "UPDATE documents SET uid = ?1, object_name = ?2, object_sha256 = ?3, epoch = ?4 WHERE id = ?5 AND uid = ?6 AND erased_at IS NULL",
        params![uid.to_vec(), name, object_sha, epoch, doc.id, doc.uid.to_vec()],
    )?;
    Ok(moved == 1)
}

/// Wrap a document's new key (`uid`, `dek`) again for every holder it has
/// now, in place (who granted it and when stay as they were). Read under
/// the write lock, so a grant or revoke made meanwhile is kept.
pub(crate) fn rewrap_holders(
    tx: &Transaction,
    ctx: &Ctx,
    doc: &DocRow,
    uid: &[u8; 16],
    dek: &[u8; 32],
) -> Result<()> {
    // Only rows whose signed grant holds, over the document as it was
    // read: a row someone added with a SQLCipher tool stops the run
    // instead of receiving the new key.
    let holders = checked_holders(tx, ctx, doc.id, &doc.uid)?;
    let custodian_public = &ctx.custodian_public;
    let signer = ctx.signer()?;
    for holder in holders {
        // The certified key, never the row's.
        let public = match holder.as_str() {
            CUSTODIAN => custodian_public.clone(),
            other => crate::cert::holder_key(tx, &ctx.vault_id, &ctx.root_public, other).map_err(
                |e| match e {
                    Error::Tampered(m) => {
                        Error::tampered(format!("document {} is wrapped to {other}: {m}", doc.id))
                    }
                    e => e,
                },
            )?,
        };
        let w = crypto::hpke_wrap(&public, &wrap_context(&ctx.vault_id, uid, &holder), dek)?;
        let (statement, signature) = crate::grant::sign(
            &signer,
            &WrapRow {
                uid,
                holder: &holder,
                enc: &w.enc,
                ciphertext: &w.ciphertext,
            },
            Right::Rewrap,
        )?;
        tx.execute(
            "UPDATE wraps SET enc = ?1, ciphertext = ?2, statement = ?3, signature = ?4 WHERE doc_id = ?5 AND holder = ?6",
            params![w.enc, w.ciphertext, statement, signature, doc.id, holder],
        )?;
    }
    Ok(())
}

/// Reads the source, counting bytes and reporting progress.
struct CountingReader<'a, R> {
    inner: R,
    read: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
    cancel: &'a AtomicBool,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            // Not `Interrupted`: readers retry that kind.
            return Err(std::io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read, self.total);
        Ok(n)
    }
}

pub(crate) fn map_stream_err(e: stream::StreamError, source: &Path, dest: &Path) -> Error {
    match e {
        stream::StreamError::Read(io) => Error::io(source, io),
        stream::StreamError::Write(io) => Error::io(dest, io),
        stream::StreamError::Format(e) => e,
    }
}

pub(crate) fn validate_request(req: &ImportRequest) -> Result<String> {
    validate_text("origin", &req.origin, 500)?;
    validate_text("via", &req.via, 200)?;
    validate_text("purpose", &req.purpose, 1000)?;
    let title = match &req.title {
        Some(t) => t.clone(),
        None => req
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::field("title", "the source has no file name; give a title"))?,
    };
    validate_text("title", &title, 500)?;
    Ok(title)
}

/// Stream `source` into a new object file. The file is complete and
/// durable under its final name before the caller records the document,
/// so a crash leaves at most an orphan file that no key opens.
pub(crate) fn write_object(
    objects: &Path,
    source: &Path,
    sealing: Sealing<'_>,
    progress: &mut dyn FnMut(u64, u64),
    cancel: &AtomicBool,
) -> Result<Sealed> {
    let file = File::open(source).map_err(|e| Error::io(source, e))?;
    let meta = file.metadata().map_err(|e| Error::io(source, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{} is not a regular file",
            source.display()
        )));
    }
    let expected = meta.len();
    let mut reader = CountingReader {
        inner: file,
        read: 0,
        total: expected,
        progress,
        cancel,
    };
    seal_new(
        objects,
        sealing,
        1,
        &mut reader,
        |e, tmp| {
            if cancel.load(Ordering::Relaxed) {
                Error::Cancelled("the file was not received; nothing was kept".into())
            } else {
                map_stream_err(e, source, tmp)
            }
        },
        |digest| check_source_unchanged(source, expected, digest.len),
    )
}

/// A source that shrank, grew or vanished while being read is refused: the
/// receipt would not describe what arrived.
fn check_source_unchanged(source: &Path, expected: u64, read: u64) -> Result<()> {
    let what = source.display().to_string();
    if read != expected {
        return Err(Error::SourceChanged(format!(
            "{what} was {expected} bytes when opened, {read} were read"
        )));
    }
    match std::fs::metadata(source) {
        Ok(m) if m.len() == expected => Ok(()),
        Ok(m) => Err(Error::SourceChanged(format!(
            "{what} is now {} bytes, was {expected}",
            m.len()
        ))),
        Err(_) => Err(Error::SourceChanged(format!(
            "{what} disappeared during the import"
        ))),
    }
}

pub(crate) fn check_digest(doc: &DocRow, digest: &stream::Digest256) -> Result<()> {
    if crypto::hex(&digest.sha256) != doc.sha256 {
        return Err(Error::tampered(format!(
            "document {} does not match its recorded SHA-256",
            doc.id
        )));
    }
    Ok(())
}

/// What the receiver's statement of a document says: which document, its
/// plaintext's SHA-256 and whether it holds personal data (which decides
/// whether it may leave without an approval).
pub(crate) fn receipt_says(doc: &DocRow) -> serde_json::Value {
    serde_json::json!({"document": doc.id, "sha256": doc.sha256, "personal_data": doc.personal_data})
}

/// The document row must say what its receiver signed.
pub(crate) fn check_receipt(tx: &Transaction, ctx: &Ctx, doc: &DocRow) -> Result<()> {
    let (received_by, statement, signature): (String, Option<Vec<u8>>, Option<Vec<u8>>) = tx
        .query_row(
            "SELECT received_by, statement, signature FROM documents WHERE id = ?1",
            [doc.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
    let signed = (statement, signature);
    ctx.check_statement(
        tx,
        &crate::statement::Claim {
            kind: "receipt",
            says: receipt_says(doc),
            needs: crate::permission::Action::DocumentImport,
            what: &format!("the record of document {}", doc.id),
            by: Some(&received_by),
        },
        signed,
    )
}

/// What the officer's statement of an export approval says.
pub(crate) fn approval_says(
    approval: i64,
    doc: &DocRow,
    reference: &str,
    for_account: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "approval": approval, "document": doc.id, "sha256": doc.sha256,
        "reference": reference, "for": for_account,
    })
}

/// Use up one approval for this document and person; refuse without one,
/// and report one the officer did not sign as tampering.
pub(crate) fn use_export_approval(
    tx: &Transaction,
    ctx: &Ctx,
    doc: &DocRow,
) -> Result<(i64, String)> {
    let id = doc.id;
    type Row = (
        i64,
        String,
        Option<String>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let approval: Option<Row> = tx
        .query_row(
            "SELECT id, reference, for_account, statement, signature FROM export_approvals WHERE doc_id = ?1 AND used_at IS NULL
             AND (for_account IS NULL OR for_account = ?2) ORDER BY id LIMIT 1",
            params![id, ctx.actor.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let (approval, reference, for_account, statement, signature) = approval.ok_or_else(|| {
        Error::denied(format!(
            "document {id} holds personal data and may leave only under an approval the officer recorded (kinko approve-export)"
        ))
    })?;
    ctx.check_statement(
        tx,
        &crate::statement::Claim {
            kind: "export approval",
            says: approval_says(approval, doc, &reference, for_account.as_deref()),
            needs: crate::permission::Action::ExportApprove,
            what: &format!("the export approval {reference} of document {id}"),
            by: None,
        },
        (statement, signature),
    )?;
    // Its record of use is a row; the trail keeps the export that used it.
    if let Some(seq) = crate::trail_facts::approval_used(tx, id, approval)? {
        return Err(Error::tampered(format!(
            "the export approval {reference} of document {id} was used by audit event {seq}, but the vault holds it as unused (changed outside Kinko)"
        )));
    }
    tx.execute(
        "UPDATE export_approvals SET used_by = ?2, used_at = ?3 WHERE id = ?1",
        params![approval, ctx.actor.id, audit::now()],
    )?;
    Ok((approval, reference))
}

pub(crate) const DOC_COLUMNS: &str = "d.id, d.title, d.file_name, d.origin, d.via, d.purpose, d.personal_data, d.size, d.sha256, d.received_by, d.received_at";

pub(crate) fn doc_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentInfo> {
    Ok(DocumentInfo {
        id: r.get(0)?,
        title: r.get(1)?,
        file_name: r.get(2)?,
        origin: r.get(3)?,
        via: r.get(4)?,
        purpose: r.get(5)?,
        personal_data: r.get(6)?,
        size: r.get::<_, i64>(7)? as u64,
        sha256: r.get(8)?,
        received_by: r.get(9)?,
        received_at: r.get(10)?,
        label_hidden: false,
        holders: None,
    })
}
