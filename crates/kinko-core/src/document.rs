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
use crate::audit;
use crate::crypto::{self, stream, Wrapped};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::permission::{Action, Role};
use crate::session::{Ctx, Done, Session};

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
    /// Who holds a key to it (only in `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    pub object_name: String,
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

/// The path of an object file named in the database. The name must be
/// what Kinko writes (32 lower-case hex digits): someone who edits the
/// database cannot point Kinko at a file outside `objects/`.
pub(crate) fn object_file(objects: &Path, name: &str) -> Result<PathBuf> {
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
    Ok(objects.join(name))
}

pub(crate) fn load_doc(tx: &Transaction, id: i64) -> Result<DocRow> {
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
        object_file(Path::new(""), &object_name)?;
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

/// Unwrap the acting person's copy of a document's DEK. No wrap means the
/// document was never granted to them (or was revoked).
pub(crate) fn unwrap_own_dek(
    tx: &Transaction,
    ctx: &Ctx,
    doc: &DocRow,
) -> Result<Zeroizing<[u8; 32]>> {
    let wrap = load_wrap(tx, doc.id, &ctx.actor.id)?
        .ok_or_else(|| Error::denied(format!("document {} has not been granted to you", doc.id)))?;
    let dek = crypto::hpke_unwrap(
        &ctx.secrets.hpke_secret,
        &wrap_context(&ctx.vault_id, &doc.uid, &ctx.actor.id),
        &wrap,
    )
    .ok_or_else(|| Error::tampered(format!("your key to document {} does not open", doc.id)))?;
    let mut out = Zeroizing::new([0u8; 32]);
    if dek.len() != 32 {
        return Err(Error::tampered(format!(
            "the key of document {} has the wrong length",
            doc.id
        )));
    }
    out.copy_from_slice(&dek);
    Ok(out)
}

/// Wrap a DEK to `holder` (an account, or the custodian) and store it.
pub(crate) fn store_wrap(
    tx: &Transaction,
    ctx: &Ctx,
    doc: i64,
    uid: &[u8; 16],
    holder: &str,
    public: &[u8],
    dek: &[u8; 32],
) -> Result<()> {
    let w = crypto::hpke_wrap(public, &wrap_context(&ctx.vault_id, uid, holder), dek)?;
    tx.execute(
        "INSERT INTO wraps (doc_id, holder, enc, ciphertext, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![doc, holder, w.enc, w.ciphertext, ctx.actor.id, audit::now()],
    )?;
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

fn map_stream_err(e: stream::StreamError, source: &Path, dest: &Path) -> Error {
    match e {
        stream::StreamError::Read(io) => Error::io(source, io),
        stream::StreamError::Write(io) => Error::io(dest, io),
        stream::StreamError::Format(e) => e,
    }
}

fn validate_request(req: &ImportRequest) -> Result<String> {
    validate_text("--from (origin)", &req.origin, 500)?;
    validate_text("--via", &req.via, 200)?;
    validate_text("--purpose", &req.purpose, 1000)?;
    let title = match &req.title {
        Some(t) => t.clone(),
        None => req
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::invalid("the source has no file name; give --title"))?,
    };
    validate_text("title", &title, 500)?;
    Ok(title)
}

/// Stream `source` into a new object file; returns its name, the plaintext
/// digest and the ciphertext's SHA-256. The file is complete and durable
/// under its final name before the caller records the document, so a
/// crash leaves at most an orphan file that no key opens.
/// How a new object file is sealed: its uid, data key and content suite.
pub(crate) struct Sealing<'a> {
    pub uid: [u8; 16],
    pub dek: &'a [u8; 32],
    pub suite: u16,
}

fn write_object(
    ctx_objects: &Path,
    source: &Path,
    sealing: Sealing<'_>,
    progress: &mut dyn FnMut(u64, u64),
    cancel: &AtomicBool,
) -> Result<(String, stream::Digest256, String)> {
    let file = File::open(source).map_err(|e| Error::io(source, e))?;
    let meta = file.metadata().map_err(|e| Error::io(source, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{} is not a regular file",
            source.display()
        )));
    }
    let expected = meta.len();
    let Sealing { uid, dek, suite } = sealing;
    let name = crypto::hex(&uid);
    let final_path = ctx_objects.join(&name);
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(ctx_objects)
        .map_err(|e| Error::io(ctx_objects, e))?;
    let mut reader = CountingReader {
        inner: file,
        read: 0,
        total: expected,
        progress,
        cancel,
    };
    // The ciphertext is hashed on the way so `verify` can check objects
    // without any key.
    let mut writer =
        fsutil::HashingWriter::new(std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file()));
    // On any failure `tmp` is dropped, which removes the partial object.
    let digest =
        stream::encrypt_with(suite, dek, uid, 1, &mut reader, &mut writer).map_err(|e| {
            if cancel.load(Ordering::Relaxed) {
                Error::Cancelled("the file was not received; nothing was kept".into())
            } else {
                map_stream_err(e, source, tmp.path())
            }
        })?;
    writer.flush().map_err(|e| Error::io(tmp.path(), e))?;
    let (object_sha, _) = writer.finish();
    let object_sha = crypto::hex(&object_sha);
    check_source_unchanged(source, expected, digest.len)?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist_noclobber(&final_path)
        .map_err(|e| Error::io(&final_path, e.error))?;
    fsutil::sync_dir(ctx_objects)?;
    Ok((name, digest, object_sha))
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

impl Session {
    /// Receive a file into the vault (D1): encrypt it in one streaming
    /// pass that also computes its SHA-256, record the receipt, and grant
    /// it to the importer (and the custodian). Returns the document id.
    pub fn import(
        &mut self,
        req: &ImportRequest,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<i64> {
        self.import_cancellable(req, progress, &AtomicBool::new(false))
    }

    /// [`Session::import`] that stops when `cancel` is set (the app's
    /// cancel button): the half-written object is removed, nothing is
    /// recorded but the failed attempt's event, and the error is
    /// [`Error::Cancelled`].
    pub fn import_cancellable(
        &mut self,
        req: &ImportRequest,
        progress: &mut dyn FnMut(u64, u64),
        cancel: &AtomicBool,
    ) -> Result<i64> {
        self.require(Action::DocumentImport, "document:new")?;
        if crate::session::meta(&self.conn, "state")? == b"disposed" {
            let e = Error::denied(
                "the vault was disposed of at the end of the contract; it takes no new documents",
            );
            self.log_failure(Action::DocumentImport.event(), "document:new", &e);
            return Err(e);
        }
        let prepared = validate_request(req).and_then(|title| {
            let uid = crypto::random::<16>();
            let dek = crypto::random_key();
            let (epoch, suite) = crate::rekey::current_epoch(&self.conn)?;
            let (name, digest, object_sha) = write_object(
                &self.ctx.objects_dir(),
                &req.source,
                Sealing {
                    uid,
                    dek: &dek,
                    suite,
                },
                progress,
                cancel,
            )?;
            Ok((title, uid, dek, name, digest, object_sha, epoch))
        });
        let (title, uid, dek, name, digest, object_sha, epoch) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.log_failure(Action::DocumentImport.event(), "document:new", &e);
                return Err(e);
            }
        };
        let object_path = self.ctx.objects_dir().join(&name);
        let file_name = req
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let recorded = self.perform(Action::DocumentImport, "document:new", |tx, ctx| {
            if crate::rekey::current_epoch(tx)?.0 != epoch {
                return Err(Error::invalid(
                    "the vault's keys were rotated while the file was being received: receive it again",
                ));
            }
            let custodian: Vec<u8> = crate::session::meta(tx, "custodian_public")?;
            tx.execute(
                "INSERT INTO documents (uid, version, title, file_name, origin, via, purpose, personal_data, size, sha256, object_name, object_sha256, received_by, received_at, epoch)
                 VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    uid.to_vec(), title, file_name, req.origin, req.via, req.purpose, req.personal_data,
                    digest.len as i64, crypto::hex(&digest.sha256), name, object_sha, ctx.actor.id, audit::now(), epoch
                ],
            )?;
            let id = tx.last_insert_rowid();
            let own: Vec<u8> = tx.query_row("SELECT hpke_public FROM accounts WHERE id = ?1", [&ctx.actor.id], |r| r.get(0))?;
            store_wrap(tx, ctx, id, &uid, &ctx.actor.id, &own, &dek)?;
            store_wrap(tx, ctx, id, &uid, CUSTODIAN, &custodian, &dek)?;
            let mut done = Done::ok(
                id,
                format!("size={} sha256={} personal_data={}", digest.len, crypto::hex(&digest.sha256), req.personal_data),
            );
            done.object = Some(object(id));
            Ok(done)
        });
        if recorded.is_err() {
            // Nothing refers to the object and its key was never stored.
            let _ = fsutil::remove_overwritten(&object_path);
        }
        recorded
    }

    /// Documents this person may see: everything for the officer and
    /// managers, only what was granted for a handler.
    pub fn list_documents(&mut self) -> Result<Vec<DocumentInfo>> {
        self.perform(Action::DocumentList, "documents", |tx, ctx| {
            let sees_all = ctx.actor.roles.has(Role::Officer) || ctx.actor.roles.has(Role::Manager);
            let sql = format!(
                "SELECT {DOC_COLUMNS} FROM documents d WHERE d.erased_at IS NULL AND (?1 OR EXISTS
                 (SELECT 1 FROM wraps w WHERE w.doc_id = d.id AND w.holder = ?2)) ORDER BY d.id"
            );
            let mut stmt = tx.prepare(&sql)?;
            let docs = stmt
                .query_map(params![sees_all, ctx.actor.id], doc_info)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Done::ok(docs, ""))
        })
    }

    /// One document's receipt and who holds its key.
    pub fn show_document(&mut self, id: i64) -> Result<DocumentInfo> {
        self.perform(Action::DocumentShow, &object(id), |tx, ctx| {
            let sql = format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.id = ?1");
            let mut info = tx
                .query_row(&sql, [id], doc_info)
                .optional()?
                .ok_or_else(|| Error::NotFound(format!("document {id}")))?;
            let holders: Vec<String> = tx
                .prepare(
                    "SELECT holder FROM wraps WHERE doc_id = ?1 AND holder != ?2 ORDER BY holder",
                )?
                .query_map(params![id, CUSTODIAN], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let sees_all = ctx.actor.roles.has(Role::Officer) || ctx.actor.roles.has(Role::Manager);
            if !sees_all && !holders.contains(&ctx.actor.id) {
                return Err(Error::denied(format!(
                    "document {id} has not been granted to you"
                )));
            }
            info.holders = Some(holders);
            Ok(Done::ok(info, ""))
        })
    }

    /// Record the bureau's approval for one export of a personal-data
    /// document (D4). `for_account` limits it to one person.
    pub fn approve_export(
        &mut self,
        id: i64,
        reference: &str,
        for_account: Option<&str>,
    ) -> Result<i64> {
        self.perform(Action::ExportApprove, &object(id), |tx, ctx| {
            validate_text("--ref", reference, 200)?;
            load_doc(tx, id)?;
            if let Some(a) = for_account {
                let exists: Option<String> = tx.query_row("SELECT id FROM accounts WHERE id = ?1", [a], |r| r.get(0)).optional()?;
                exists.ok_or_else(|| Error::NotFound(format!("account {a}")))?;
            }
            tx.execute(
                "INSERT INTO export_approvals (doc_id, reference, for_account, approved_by, approved_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, reference, for_account, ctx.actor.id, audit::now()],
            )?;
            let approval = tx.last_insert_rowid();
            Ok(Done::ok(approval, format!("ref={reference} for={}", for_account.unwrap_or("*"))))
        })
    }

    /// Export a document's plaintext (`kinko open`): a logged act. A
    /// personal-data document needs an unused approval, which this uses
    /// up. The event is written before any plaintext leaves; a failure
    /// while streaming is logged as a second event.
    pub fn export(&mut self, id: i64, target: ExportTarget<'_>) -> Result<ExportReceipt> {
        if let ExportTarget::File(path) = &target {
            if path.exists() {
                let e = Error::invalid(format!(
                    "{} already exists; choose a new file name",
                    path.display()
                ));
                self.log_failure(Action::DocumentOpen.event(), &object(id), &e);
                return Err(e);
            }
        }
        let target_name = match &target {
            ExportTarget::File(path) => Some(
                std::path::absolute(path)
                    .unwrap_or_else(|_| path.to_path_buf())
                    .display()
                    .to_string(),
            ),
            ExportTarget::Writer(_) => None,
        };
        let (doc, dek, approval) = self.perform(Action::DocumentOpen, &object(id), |tx, ctx| {
            let doc = load_doc(tx, id)?;
            // A copy outside the vault: disposal lists it for erasure.
            tx.execute(
                "INSERT INTO exports (doc_id, target, made_by, at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    id,
                    target_name.as_deref().unwrap_or("standard output"),
                    ctx.actor.id,
                    audit::now()
                ],
            )?;
            let dek = unwrap_own_dek(tx, ctx, &doc)?;
            let mut detail = String::new();
            let mut approval = None;
            if doc.personal_data {
                let (approval_id, reference) = use_export_approval(tx, ctx, id)?;
                detail = format!("personal data; approval ref={reference}");
                approval = Some(approval_id);
            }
            Ok(Done::ok((doc, dek, approval), detail))
        })?;
        let to_file = matches!(target, ExportTarget::File(_));
        let result = self.stream_out(&doc, &dek, target);
        if let Err(e) = &result {
            match approval {
                // Nothing left the vault (a file appears only when
                // complete), so the approval is given back.
                Some(approval) if to_file => self.return_approval(id, approval, e),
                _ => self.log_failure(Action::DocumentOpen.event(), &object(id), e),
            }
        }
        result
    }

    fn return_approval(&mut self, id: i64, approval: i64, e: &Error) {
        let outcome = if e.kind() == crate::error::Kind::Integrity {
            audit::TAMPERED
        } else {
            audit::FAILED
        };
        let event = self.ctx.event(
            Action::DocumentOpen.event(),
            &object(id),
            outcome,
            &format!("{e}; the export approval was returned"),
        );
        let returned = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(Error::from)
            .and_then(|tx| {
                tx.execute(
                    "UPDATE export_approvals SET used_by = NULL, used_at = NULL WHERE id = ?1",
                    [approval],
                )?;
                audit::append(&tx, &event)?;
                tx.commit().map_err(Error::from)
            });
        if returned.is_err() {
            self.log_failure(Action::DocumentOpen.event(), &object(id), e);
        }
    }

    pub(crate) fn stream_out(
        &self,
        doc: &DocRow,
        dek: &[u8; 32],
        target: ExportTarget<'_>,
    ) -> Result<ExportReceipt> {
        let obj_path = self.ctx.objects_dir().join(&doc.object_name);
        let mut src = std::io::BufReader::with_capacity(
            256 * 1024,
            File::open(&obj_path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    Error::tampered(format!("the object file of document {} is missing", doc.id))
                }
                _ => Error::io(&obj_path, e),
            })?,
        );
        let digest = match target {
            ExportTarget::Writer(w) => {
                let mut w = std::io::BufWriter::new(w);
                let d = stream::decrypt(dek, doc.uid, doc.version, &mut src, &mut w)
                    .map_err(|e| map_stream_err(e, &obj_path, Path::new("-")))?;
                w.flush().map_err(|e| Error::io("-", e))?;
                d
            }
            ExportTarget::File(path) => {
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".kinko-export-")
                    .tempfile_in(dir)
                    .map_err(|e| Error::io(dir, e))?;
                let mut w = std::io::BufWriter::new(tmp.as_file());
                let d = stream::decrypt(dek, doc.uid, doc.version, &mut src, &mut w)
                    .map_err(|e| map_stream_err(e, &obj_path, path))?;
                w.flush().map_err(|e| Error::io(path, e))?;
                drop(w);
                check_digest(doc, &d)?;
                tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
                tmp.persist_noclobber(path)
                    .map_err(|e| Error::io(path, e.error))?;
                d
            }
        };
        check_digest(doc, &digest)?;
        Ok(ExportReceipt {
            id: doc.id,
            bytes: digest.len,
            sha256: crypto::hex(&digest.sha256),
        })
    }
}

fn check_digest(doc: &DocRow, digest: &stream::Digest256) -> Result<()> {
    if crypto::hex(&digest.sha256) != doc.sha256 {
        return Err(Error::tampered(format!(
            "document {} does not match its recorded SHA-256",
            doc.id
        )));
    }
    Ok(())
}

/// Use up one approval for this document and person; refuse without one.
fn use_export_approval(tx: &Transaction, ctx: &Ctx, id: i64) -> Result<(i64, String)> {
    let approval: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, reference FROM export_approvals WHERE doc_id = ?1 AND used_at IS NULL
             AND (for_account IS NULL OR for_account = ?2) ORDER BY id LIMIT 1",
            params![id, ctx.actor.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (approval, reference) = approval.ok_or_else(|| {
        Error::denied(format!(
            "document {id} holds personal data and may leave only under an approval the officer recorded (kinko approve-export)"
        ))
    })?;
    tx.execute(
        "UPDATE export_approvals SET used_by = ?2, used_at = ?3 WHERE id = ?1",
        params![approval, ctx.actor.id, audit::now()],
    )?;
    Ok((approval, reference))
}

const DOC_COLUMNS: &str = "d.id, d.title, d.file_name, d.origin, d.via, d.purpose, d.personal_data, d.size, d.sha256, d.received_by, d.received_at";

fn doc_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentInfo> {
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
        holders: None,
    })
}
