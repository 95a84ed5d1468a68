//! Documents: receipt (import, streamed and cancellable), the list, the
//! viewer, export under the export rules, and per-person grants.

use crate::account::{validate_id, validate_text};
use crate::crypto::{self, stream};
use crate::document::{
    load_doc, load_wrap, object, store_wrap, unwrap_own_dek, ExportTarget, CUSTODIAN, *,
};
use crate::error::{Error, Result};
use crate::grant::*;
use crate::label::{DocKey, Label};
use crate::object::{Sealed, Sealing};
use crate::permission::{Action, Role, Roles};
use crate::session::{Done, Session};
use crate::viewer::*;
use crate::{audit, fsutil};
use rusqlite::{params, OptionalExtension};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use zeroize::Zeroizing;

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
        if crate::db::meta(&self.conn, "state")? == b"disposed" {
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
            let sealed = write_object(
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
            Ok((title, uid, dek, sealed, epoch))
        });
        let (title, uid, dek, sealed, epoch) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.log_failure(Action::DocumentImport.event(), "document:new", &e);
                return Err(e);
            }
        };
        let Sealed {
            name,
            digest,
            object_sha256: object_sha,
        } = sealed;
        let object_path = self.ctx.object_path(&name);
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
            // The label is personal data: only sealed copies are kept
            // (`label.rs`); the clear columns stay empty.
            let catalogue = crate::circle::public(tx, ctx, crate::circle::Circle::Catalogue)?;
            tx.execute(
                "INSERT INTO documents (uid, version, title, file_name, origin, via, purpose, personal_data, size, sha256, object_name, object_sha256, received_by, received_at, epoch)
                 VALUES (?1, 1, '', '', '', '', '', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    uid.to_vec(), req.personal_data,
                    digest.len as i64, crypto::hex(&digest.sha256), name, object_sha, ctx.actor.id, audit::now(), epoch
                ],
            )?;
            let id = tx.last_insert_rowid();
            let label = Label {
                title: title.clone(),
                file_name: file_name.clone(),
                origin: req.origin.clone(),
                via: req.via.clone(),
                purpose: req.purpose.clone(),
            };
            crate::label::store(
                tx,
                &catalogue,
                &DocKey { vault_id: &ctx.vault_id, doc: id, uid: &uid, dek: &dek },
                &label,
                (&ctx.signer()?, crate::label::Voucher::Receiver),
            )?;
            store_wrap(tx, ctx, id, &uid, &ctx.actor.id, &dek, Right::Receipt)?;
            let receipt = crate::statement::sign(
                &ctx.signer()?,
                "receipt",
                receipt_says(&load_doc(tx, id)?),
            )?;
            tx.execute(
                "UPDATE documents SET statement = ?2, signature = ?3 WHERE id = ?1",
                params![id, receipt.bytes, receipt.signature],
            )?;
            store_wrap(tx, ctx, id, &uid, CUSTODIAN, &dek, Right::Receipt)?;
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
            let mut docs = stmt
                .query_map(params![sees_all, ctx.actor.id], doc_info)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let labels = crate::label::Reader::new(tx, ctx)?;
            for info in &mut docs {
                crate::label::show(info, labels.read(tx, ctx, info.id)?);
            }
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
            let label = crate::label::Reader::new(tx, ctx)?.read(tx, ctx, id)?;
            crate::label::show(&mut info, label);
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
            validate_text("reference", reference, 200)?;
            let doc = load_doc(tx, id)?;
            if let Some(a) = for_account {
                let exists: Option<String> = tx.query_row("SELECT id FROM accounts WHERE id = ?1", [a], |r| r.get(0)).optional()?;
                exists.ok_or_else(|| Error::NotFound(format!("account {a}")))?;
            }
            tx.execute(
                "INSERT INTO export_approvals (doc_id, reference, for_account, approved_by, approved_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, reference, for_account, ctx.actor.id, audit::now()],
            )?;
            let approval = tx.last_insert_rowid();
            let signed = crate::statement::sign(
                &ctx.signer()?,
                "export approval",
                approval_says(approval, &doc, reference, for_account),
            )?;
            tx.execute(
                "UPDATE export_approvals SET statement = ?2, signature = ?3 WHERE id = ?1",
                params![approval, signed.bytes, signed.signature],
            )?;
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
            // Whether it holds personal data is the receiver's word.
            check_receipt(tx, ctx, &doc)?;
            let mut detail = String::new();
            let mut approval = None;
            if doc.personal_data {
                let (approval_id, reference) = use_export_approval(tx, ctx, &doc)?;
                detail = crate::trail_facts::approval_used_detail(approval_id, &reference);
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
        let outcome = audit::outcome_of(e);
        let event = self.ctx.event(
            Action::DocumentOpen.event(),
            &object(id),
            outcome,
            &crate::trail_facts::approval_returned_detail(approval, &e.to_string()),
        );
        let returned = self.ctx.begin_write(&self.conn).and_then(|tx| {
            tx.execute(
                "UPDATE export_approvals SET used_by = NULL, used_at = NULL WHERE id = ?1",
                [approval],
            )?;
            self.ctx.append(&tx, &event)?;
            tx.commit()
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
        let obj_path = self.ctx.object_to_read(&doc.object_name)?;
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
                let mut out = crate::fsutil::NewFile::create_for(path)?;
                let mut w = std::io::BufWriter::new(out.file());
                let d = stream::decrypt(dek, doc.uid, doc.version, &mut src, &mut w)
                    .map_err(|e| map_stream_err(e, &obj_path, path))?;
                w.flush().map_err(|e| Error::io(path, e))?;
                drop(w);
                check_digest(doc, &d)?;
                out.place()?;
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

impl Session {
    /// Give `to` access to document `id`.
    pub fn grant(&mut self, id: i64, to: &str) -> Result<()> {
        self.perform(Action::Grant, &object(id), |tx, ctx| {
            validate_id(to)?;
            let doc = load_doc(tx, id)?;
            let account: Option<(String, String)> = tx
                .query_row("SELECT roles, status FROM accounts WHERE id = ?1", [to], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            // The row's roles give the plain refusal; the certificate's
            // decide (`store_wrap`).
            let (roles, status) = account.ok_or_else(|| Error::NotFound(format!("account {to}")))?;
            if status != "active" {
                return Err(Error::denied(format!("account {to} is {status} and cannot be granted documents")));
            }
            if !Roles::parse(&roles)?.reads_documents() {
                return Err(Error::denied(format!(
                    "account {to} ({roles}) may never read documents (separation of duties)"
                )));
            }
            crate::roster::check_may_receive(tx, ctx, to)?;
            if load_wrap(tx, id, to)?.is_some() {
                return Err(Error::invalid(format!("document {id} is already granted to {to}")));
            }
            let dek = unwrap_own_dek(tx, ctx, &doc).map_err(|e| match e {
                Error::Denied(_) => Error::denied(format!(
                    "you do not hold the key of document {id}, so you cannot grant it; ask someone who holds it"
                )),
                other => other,
            })?;
            store_wrap(tx, ctx, id, &doc.uid, to, &dek, Right::Grant)?;
            Ok(Done::ok((), format!("to={to}")))
        })
    }

    /// Take `from`'s access to document `id` away. Their wrap is deleted
    /// and the document is re-encrypted at once under a new key (a new
    /// object file), wrapped again to the remaining holders and the
    /// custodian: a copy of the old wrap, kept by the person revoked,
    /// opens nothing the vault still holds. The revoker must hold the key.
    pub fn revoke(&mut self, id: i64, from: &str) -> Result<()> {
        // The new object, once written: removed again if the revoke does
        // not commit (then nothing refers to it).
        let written: std::cell::RefCell<Option<PathBuf>> = Default::default();
        let done = self.perform(Action::Revoke, &object(id), |tx, ctx| {
            validate_id(from)?;
            let doc = load_doc(tx, id)?;
            debug_assert!(
                !from.starts_with('#'),
                "validate_id refuses the custodian's holder name"
            );
            if load_wrap(tx, id, from)?.is_none() {
                return Err(Error::NotFound(format!(
                    "a grant of document {id} to {from}"
                )));
            }
            let dek = unwrap_own_dek(tx, ctx, &doc).map_err(|e| match e {
                Error::Denied(_) => Error::denied(format!(
                    "you do not hold the key of document {id}, so you cannot revoke it; ask someone who holds it"
                )),
                other => other,
            })?;
            tx.execute(
                "DELETE FROM wraps WHERE doc_id = ?1 AND holder = ?2 AND holder != ?3",
                params![id, from, CUSTODIAN],
            )?;
            let (epoch, suite) = crate::rekey::current_epoch(tx)?;
            let uid = crypto::random::<16>();
            let new_dek = crypto::random_key();
            let objects = ctx.objects_dir();
            ctx.object_to_read(&doc.object_name)?;
            let sealed = crate::rekey::reseal_object(
                &objects,
                &doc,
                &dek,
                Sealing {
                    uid,
                    dek: &new_dek,
                    suite,
                },
            )?;
            *written.borrow_mut() = Some(sealed.name.path(&objects));
            // Under the write lock since the document was read: it has not moved.
            if !move_to_object(tx, &doc, &uid, (&sealed.name, &sealed.object_sha256), epoch)? {
                return Err(Error::Database(format!("document {id} changed during the revoke; try again")));
            }
            crate::label::follow_new_key(tx, &ctx.vault_id, &doc, &dek, (&uid, &new_dek))?;
            rewrap_holders(tx, ctx, &doc, &uid, &new_dek)?;
            Ok(Done::ok(
                ctx.object_path(&doc.object_name),
                format!("from={from}"),
            ))
        });
        match done {
            Ok(old) => fsutil::remove_overwritten(&old),
            Err(e) => {
                if let Some(new) = written.take() {
                    let _ = fsutil::remove_overwritten(&new);
                }
                Err(e)
            }
        }
    }
}

impl Session {
    /// Every grant in force, by person (the manager's per-person view).
    pub fn grants_by_person(&mut self) -> Result<Vec<Holding>> {
        self.perform(Action::GrantList, "grants", |tx, ctx| {
            let mut rows = tx
                .prepare(
                    "SELECT w.holder, a.name, d.id, d.personal_data
                     FROM wraps w JOIN documents d ON d.id = w.doc_id JOIN accounts a ON a.id = w.holder
                     WHERE w.holder != ?1 ORDER BY w.holder, d.id",
                )?
                .query_map([CUSTODIAN], |r| {
                    Ok(Holding {
                        person: r.get(0)?,
                        name: r.get(1)?,
                        doc_id: r.get(2)?,
                        title: String::new(),
                        title_hidden: false,
                        personal_data: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let labels = crate::label::Reader::new(tx, ctx)?;
            for row in &mut rows {
                match labels.read(tx, ctx, row.doc_id)? {
                    Some(label) => row.title = label.title,
                    None => row.title_hidden = true,
                }
            }
            let n = rows.len();
            Ok(Done::ok(rows, format!("rows={n}")))
        })
    }
}

impl Session {
    /// Decrypt a granted document into memory for the app's viewer.
    /// Refused for kinds the viewer cannot render (export those) and for
    /// documents over [`VIEW_LIMIT`].
    pub fn view_document(&mut self, id: i64) -> Result<View> {
        let (doc, dek, title, kind, size) = self.perform(Action::DocumentView, &object(id), |tx, ctx| {
            let doc = load_doc(tx, id)?;
            let size: i64 = tx.query_row("SELECT size FROM documents WHERE id = ?1", params![id], |r| r.get(0))?;
            let dek = unwrap_own_dek(tx, ctx, &doc)?;
            let Label { title, file_name, .. } = crate::label::open_held(
                tx,
                &DocKey { vault_id: &ctx.vault_id, doc: id, uid: &doc.uid, dek: &dek },
            )?;
            let kind = ViewKind::from_name(&file_name).ok_or_else(|| {
                Error::Unsupported(format!(
                    "document {id} is not a kind the viewer shows (PDF, image, text or CSV); export it instead"
                ))
            })?;
            if size as u64 > VIEW_LIMIT {
                return Err(Error::Unsupported(format!(
                    "document {id} is larger than the viewer holds in memory ({} MiB); export it instead",
                    VIEW_LIMIT / (1024 * 1024)
                )));
            }
            Ok(Done::ok(
                (doc, dek, title, kind, size as usize),
                format!("in the app's viewer ({})", kind.as_str()),
            ))
        })?;
        // Sized once: a growing Vec would leave unwiped copies behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(size));
        if let Err(e) = self.stream_out(&doc, &dek, ExportTarget::Writer(&mut *bytes)) {
            self.log_failure(Action::DocumentView.event(), &object(id), &e);
            return Err(e);
        }
        if !kind.matches(&bytes) {
            let e = Error::Unsupported(format!(
                "document {id}'s content is not the {} its name says; export it instead",
                kind.as_str()
            ));
            self.log_failure(Action::DocumentView.event(), &object(id), &e);
            return Err(e);
        }
        Ok(View {
            id,
            title,
            kind,
            bytes,
            viewer: format!("{} ({})", self.actor().name, self.actor().id),
            at: audit::now(),
        })
    }
}
