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

use rusqlite::{params, Connection, TransactionBehavior};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::audit;
use crate::crypto::{self, stream};
use crate::document::{self, DocRow, Sealing, CUSTODIAN};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keyslots::{pending_context, KeySlots, PendingKey, WrapJson};
use crate::permission::Action;
use crate::session::{meta, Done, Session};

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

impl Session {
    /// Start (or resume) a new key epoch: new data keys and object files
    /// for every document, under `suite` if given, and a new database key
    /// (officer, with the recovery code). Every session ends with it.
    pub fn rekey(
        &mut self,
        suite: Option<u16>,
        recovery_code: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RekeyReport> {
        self.require(Action::Rekey, "vault")?;
        let result = self.with_vault_alone("kinko rekey", |s| {
            let steps = s.rekey_steps(suite, recovery_code, progress)?;
            s.finish_rekey(steps)
        });
        if let Err(e) = &result {
            self.log_failure(Action::Rekey.event(), "vault", e);
        }
        result
    }

    /// Mark the epoch finished, end every session, list older backups.
    fn finish_rekey(
        &mut self,
        (epoch, suite, resumed, documents): (u32, u16, bool, usize),
    ) -> Result<RekeyReport> {
        self.perform(Action::Rekey, "vault", |tx, ctx| {
            tx.execute(
                "UPDATE key_epochs SET finished_at = ?1 WHERE epoch = ?2",
                params![audit::now(), epoch],
            )?;
            let older_backups: Vec<i64> = tx
                .prepare("SELECT id FROM backups WHERE epoch < ?1 AND destroyed_at IS NULL ORDER BY id")?
                .query_map([epoch], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            // Sealed sessions hold the old database key.
            crate::disposal::remove_all_sessions(ctx)?;
            let detail = format!(
                "key epoch {epoch} finished: {}, {documents} documents re-encrypted{}, database key replaced; backups still under older keys: {:?}",
                stream::suite_name(suite),
                if resumed { " (resumed)" } else { "" },
                older_backups
            );
            Ok(Done::ok(
                RekeyReport {
                    epoch,
                    suite,
                    suite_name: stream::suite_name(suite),
                    resumed,
                    documents,
                    older_backups,
                },
                detail,
            ))
        })
    }

    fn rekey_steps(
        &mut self,
        suite: Option<u16>,
        recovery_code: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(u32, u16, bool, usize)> {
        if let Some(s) = suite {
            stream::check_suite(s)?;
        }
        if meta(&self.conn, "state")? == b"disposed" {
            return Err(Error::denied(
                "the vault was disposed of; there are no keys left to rotate",
            ));
        }
        let custodian = crate::vault::parse_recovery_code(recovery_code)?;
        let public = crypto::HpkeKeyPair::public_of(&custodian)?;
        if public != meta(&self.conn, "custodian_public")? {
            return Err(Error::denied(
                "that recovery code does not belong to this vault",
            ));
        }
        let (epoch, suite, resumed) = self.begin_epoch(suite)?;
        // Files of a killed import or of this epoch's killed run: no record
        // names them and nobody else can be writing one now.
        crate::integrity::remove_leftovers(&self.conn, &self.ctx.objects_dir())?;
        let docs: Vec<i64> = self
            .conn
            .prepare("SELECT id FROM documents WHERE erased_at IS NULL AND epoch < ?1 ORDER BY id")?
            .query_map([epoch], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let total = docs.len() as u64;
        progress(0, total);
        for (i, id) in docs.iter().enumerate() {
            self.reencrypt(*id, epoch, suite, &custodian)?;
            progress(i as u64 + 1, total);
        }
        self.rotate_database_key(epoch)?;
        Ok((epoch, suite, resumed, docs.len()))
    }

    /// The unfinished epoch, or a new one.
    fn begin_epoch(&mut self, suite: Option<u16>) -> Result<(u32, u16, bool)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((epoch, open_suite)) = unfinished(&tx)? {
            if suite.is_some_and(|s| s != open_suite) {
                return Err(Error::invalid(format!(
                    "key epoch {epoch} (suite {open_suite}) is unfinished: run `kinko rekey` without --suite to finish it first"
                )));
            }
            return Ok((epoch, open_suite, true));
        }
        let (last, last_suite) = current_epoch(&tx)?;
        let epoch = last + 1;
        let suite = suite.unwrap_or(last_suite);
        tx.execute(
            "INSERT INTO key_epochs (epoch, suite, started_at, started_by) VALUES (?1, ?2, ?3, ?4)",
            params![epoch, suite, audit::now(), self.ctx.actor.id],
        )?;
        audit::append(
            &tx,
            &self.ctx.event(
                Action::Rekey.event(),
                "vault",
                audit::OK,
                &format!("key epoch {epoch} started: {}", stream::suite_name(suite)),
            ),
        )?;
        tx.commit()?;
        Ok((epoch, suite, false))
    }

    /// One document into the new epoch: see the module's outline.
    fn reencrypt(&mut self, id: i64, epoch: u32, suite: u16, custodian: &[u8; 32]) -> Result<()> {
        let (doc, dek) = {
            let tx = self.conn.transaction()?;
            let doc = document::load_doc(&tx, id)?;
            let wrap = document::load_wrap(&tx, id, CUSTODIAN)?
                .ok_or_else(|| Error::tampered(format!("document {id} has no custodian key")))?;
            let ctx = document::wrap_context(&self.ctx.vault_id, &doc.uid, CUSTODIAN);
            let dek = crypto::hpke_unwrap(custodian, &ctx, &wrap)
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    Error::tampered(format!("the custodian key of document {id} does not open"))
                })?;
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(&dek);
            (doc, key)
        };
        let new_uid = crypto::random::<16>();
        let new_dek = crypto::random_key();
        let objects = self.ctx.objects_dir();
        let (name, object_sha) = reseal_object(
            &objects,
            &doc,
            &dek,
            Sealing {
                uid: new_uid,
                dek: &new_dek,
                suite,
            },
        )?;
        let committed =
            self.commit_reencrypted(&doc, epoch, suite, (&name, &object_sha), &new_uid, &new_dek);
        match committed {
            Ok(true) => fsutil::remove_overwritten(&objects.join(&doc.object_name)),
            // Another process re-encrypted it first: ours is not needed.
            Ok(false) => fsutil::remove_overwritten(&objects.join(&name)),
            Err(e) => {
                let _ = fsutil::remove_overwritten(&objects.join(&name));
                Err(e)
            }
        }
    }

    fn commit_reencrypted(
        &mut self,
        doc: &DocRow,
        epoch: u32,
        suite: u16,
        (name, object_sha): (&str, &str),
        uid: &[u8; 16],
        dek: &[u8; 32],
    ) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "UPDATE documents SET uid = ?1, object_name = ?2, object_sha256 = ?3, epoch = ?4 WHERE id = ?5 AND uid = ?6 AND erased_at IS NULL",
            params![uid.to_vec(), name, object_sha, epoch, doc.id, doc.uid.to_vec()],
        )?;
        if moved == 0 {
            return Ok(false);
        }
        // The holders as they are now, under the write lock: a grant or
        // revoke made during the run is kept.
        let holders: Vec<(String, Option<Vec<u8>>)> = tx
            .prepare("SELECT w.holder, a.hpke_public FROM wraps w LEFT JOIN accounts a ON a.id = w.holder WHERE w.doc_id = ?1")?
            .query_map([doc.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let custodian_public = meta(&tx, "custodian_public")?;
        for (holder, public) in holders {
            let public = match (holder.as_str(), public) {
                (CUSTODIAN, _) => custodian_public.clone(),
                (_, Some(p)) => p,
                (other, None) => {
                    return Err(Error::tampered(format!(
                        "document {} is wrapped to {other}, who is not an account",
                        doc.id
                    )))
                }
            };
            let w = crypto::hpke_wrap(
                &public,
                &document::wrap_context(&self.ctx.vault_id, uid, &holder),
                dek,
            )?;
            tx.execute(
                "UPDATE wraps SET enc = ?1, ciphertext = ?2 WHERE doc_id = ?3 AND holder = ?4",
                params![w.enc, w.ciphertext, doc.id, holder],
            )?;
        }
        audit::append(
            &tx,
            &self.ctx.event(
                Action::Rekey.event(),
                &document::object(doc.id),
                audit::OK,
                &format!(
                    "key epoch {epoch}: new data key and object file, {}",
                    stream::suite_name(suite)
                ),
            ),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// A new database key: first waiting in the keyslots file for every
    /// account, then applied to the database (SQLCipher re-encrypts every
    /// page; the vault is held alone, in rollback-journal mode), then
    /// given to the custodian.
    fn rotate_database_key(&mut self, epoch: u32) -> Result<()> {
        let new = crypto::random_key();
        let path = self.ctx.keyslots_path();
        let mut slots = KeySlots::load(&path)?;
        let accounts: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare("SELECT id, hpke_public FROM accounts ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, public) in accounts {
            if slots.slot(&id).is_none() {
                continue;
            }
            let w = crypto::hpke_wrap(
                &public,
                &pending_context(&self.ctx.vault_id, &id, epoch),
                &*new,
            )?;
            let name = slots.slot_name(&id);
            slots.db_keys.insert(
                name,
                PendingKey {
                    epoch,
                    wrap: WrapJson::from_wrapped(&w),
                },
            );
        }
        slots.save(&path)?;
        let spec = Zeroizing::new(format!("x'{}'", crypto::hex(&*new)));
        self.conn.pragma_update(None, "rekey", spec.as_str())?;
        // Only now the custodian's copy: until the database has the new
        // key, the old copy is the one that opens it.
        let custodian = meta(&self.conn, "custodian_public")?;
        slots.custodian_slot = WrapJson::from_wrapped(&crypto::hpke_wrap(
            &custodian,
            &crate::vault::custodian_db_context(&self.ctx.vault_id),
            &*new,
        )?);
        slots.save(&path)?;
        self.ctx.secrets.db_key = *new;
        Ok(())
    }
}

/// Decrypt `doc`'s object and encrypt it again under `new`, into a new
/// object file; the plaintext passes through memory only (a pipe between
/// two threads) and must match the receipt's SHA-256 on both sides.
/// Returns the new file's name and SHA-256.
fn reseal_object(
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
