//! Keys and copies: backups (made, listed), restore into a new vault, and
//! key rotation (`rekey`).

use crate::backup::*;
use crate::crypto::{self, stream};
use crate::db::meta;
use crate::document::{self, DocRow};
use crate::error::{Error, Result};
use crate::keyslots::{pending_context, KeySlots, PendingKey, WrapJson};
use crate::layout::OBJECTS_DIR;
use crate::object::{ObjectName, Sealed, Sealing};
use crate::permission::Action;
use crate::rekey::*;
use crate::session::{Done, Session};
use crate::vault::{self, Vault};
use crate::{audit, fsutil};
use rusqlite::params;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use zeroize::Zeroizing;

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
            crate::rekey::key_given(tx)?;
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
        if public != self.ctx.custodian_public {
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
        let tx = self.ctx.begin_write(&self.conn)?;
        if let Some((epoch, open_suite)) = unfinished(&tx)? {
            if suite.is_some_and(|s| s != open_suite) {
                return Err(Error::field(
                    "suite",
                    format!("key epoch {epoch} (suite {open_suite}) is unfinished: finish it first, in its own suite"),
                ));
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
        self.ctx.append(
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
            let dek = crate::document::custodian_dek(&tx, &self.ctx.vault_id, &doc, custodian)?;
            (doc, dek)
        };
        // On a replica the object may not be on this terminal yet.
        self.ctx.object_to_read(&doc.object_name)?;
        let new_uid = crypto::random::<16>();
        let new_dek = crypto::random_key();
        let objects = self.ctx.objects_dir();
        let Sealed {
            name,
            object_sha256: object_sha,
            ..
        } = reseal_object(
            &objects,
            &doc,
            &dek,
            Sealing {
                uid: new_uid,
                dek: &new_dek,
                suite,
            },
        )?;
        let committed = self.commit_reencrypted(
            &doc,
            epoch,
            suite,
            (&name, &object_sha),
            &new_uid,
            (&dek, &new_dek),
        );
        match committed {
            Ok(true) => fsutil::remove_overwritten(&doc.object_name.path(&objects)),
            // Another process re-encrypted it first: ours is not needed.
            Ok(false) => fsutil::remove_overwritten(&name.path(&objects)),
            Err(e) => {
                let _ = fsutil::remove_overwritten(&name.path(&objects));
                Err(e)
            }
        }
    }

    fn commit_reencrypted(
        &mut self,
        doc: &DocRow,
        epoch: u32,
        suite: u16,
        (name, object_sha): (&ObjectName, &str),
        uid: &[u8; 16],
        deks: (&[u8; 32], &[u8; 32]),
    ) -> Result<bool> {
        let tx = self.ctx.begin_write(&self.conn)?;
        if !document::move_to_object(&tx, doc, uid, (name, object_sha), epoch)? {
            return Ok(false);
        }
        crate::label::follow_new_key(&tx, &self.ctx.vault_id, doc, deks.0, (uid, deks.1))?;
        document::rewrap_holders(&tx, &self.ctx, doc, uid, deks.1)?;
        self.ctx.append(
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

    /// A new database key in the current key epoch, outside a `rekey`
    /// (account `disabled` was disabled): the documents keep their keys.
    /// Run with the vault alone; recorded as its own event, under the
    /// action that asked for it.
    pub(crate) fn new_database_key(&mut self, disabled: &str) -> Result<()> {
        let (epoch, _) = current_epoch(&self.conn)?;
        self.rotate_database_key(epoch)?;
        let tx = self.ctx.begin_write(&self.conn)?;
        self.ctx.append(
            &tx,
            &self.ctx.event(
                Action::AccountManage.event(),
                &format!("account:{disabled}"),
                audit::OK,
                &format!(
                    "disable: new database key (key epoch {epoch}), given to every other account"
                ),
            ),
        )?;
        crate::rekey::key_given(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// A new database key: first waiting in the keyslots file for every
    /// account (beside the current one), then the database written again
    /// under it and put in place (`replace_database`; the vault is held
    /// alone, in rollback-journal mode), then given to the custodian.
    fn rotate_database_key(&mut self, epoch: u32) -> Result<()> {
        let new = crypto::random_key();
        if let Some(replica) = self.ctx.replica.clone() {
            return self.rotate_on_server(&replica, epoch, &new);
        }
        let path = self.ctx.keyslots_path();
        let mut slots = KeySlots::load(&path)?;
        self.wrap_to_accounts(&mut slots, epoch, &new)?;
        slots.save(&path)?;
        self.replace_database(&new)?;
        // Only now the custodian's copy: until the database has the new
        // key, the old copy is the one that opens it.
        slots.custodian_slot = self.custodian_slot(&new)?;
        slots.save(&path)?;
        self.ctx.secrets.db_key = *new;
        Ok(())
    }

    /// The new database key (and the current one, in case the run stops
    /// before the database takes the new one) wrapped to every account
    /// with a slot, waiting in `slots`.
    fn wrap_to_accounts(&self, slots: &mut KeySlots, epoch: u32, new: &[u8; 32]) -> Result<()> {
        let accounts: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare("SELECT id, hpke_public FROM accounts ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, public) in accounts {
            if slots.slot(&id).is_none() {
                continue;
            }
            let context = pending_context(&self.ctx.vault_id, &id, epoch);
            let w = crypto::hpke_wrap(&public, &context, new)?;
            // And the key the database is under now, in case this run
            // stops before the database takes the new one.
            let now = crypto::hpke_wrap(&public, &context, &self.ctx.secrets.db_key)?;
            let name = slots.slot_name(&id);
            slots.db_keys.insert(
                name,
                PendingKey {
                    epoch,
                    wrap: WrapJson::from_wrapped(&w),
                    previous: Some(WrapJson::from_wrapped(&now)),
                },
            );
        }
        Ok(())
    }

    /// The custodian's copy of the database key `key`.
    fn custodian_slot(&self, key: &[u8; 32]) -> Result<WrapJson> {
        Ok(WrapJson::from_wrapped(&crypto::hpke_wrap(
            &self.ctx.custodian_public,
            &crate::vault::custodian_db_context(&self.ctx.vault_id),
            key,
        )?))
    }

    /// A new database key on an office server: one snapshot unit carries
    /// the whole database under it and the keyslots that give it to
    /// everyone who keeps access, the custodian included
    /// (`replica/rebuild.rs`); then this replica is written again under it.
    fn rotate_on_server(
        &mut self,
        replica: &std::sync::Arc<crate::replica::Replica>,
        epoch: u32,
        new: &[u8; 32],
    ) -> Result<()> {
        let seq = match self.ctx.begin_write(&self.conn)? {
            crate::replica::WriteTx::Replica(w) => {
                // Inside the turn, after its catch-up: the keyslots and
                // accounts as the log leaves them, so a password changed
                // or an account added at another terminal a moment ago
                // is not undone by the snapshot.
                let mut slots = KeySlots::load(&self.ctx.keyslots_path())?;
                self.wrap_to_accounts(&mut slots, epoch, new)?;
                slots.custodian_slot = self.custodian_slot(new)?;
                w.commit_snapshot(new, slots.file_bytes())?
            }
            crate::replica::WriteTx::Local(_) => {
                return Err(Error::Database("a vault folder has no snapshots".into()))
            }
        };
        self.replace_database(new)?;
        replica.keyed_at(&mut self.conn, seq, new)?;
        self.ctx.secrets.db_key = *new;
        Ok(())
    }
}

impl Session {
    /// Write the whole database again under `key` into a new file beside
    /// it, then put that file in its place, so the vault's database is
    /// either the old file under the old key or the new one under the new
    /// key, never pages of both: SQLCipher's in-place `PRAGMA rekey`,
    /// killed midway, could leave a file and journal that the next sign-in
    /// opened with the new key and then found unreadable. Runs with the
    /// vault alone; the connection is opened again on the new file and
    /// keeps the vault alone.
    fn replace_database(&mut self, key: &[u8; 32]) -> Result<()> {
        use crate::layout::{DB_FILE, DB_REKEY_FILE};
        let live = self.ctx.dir.join(DB_FILE);
        let fresh = self.ctx.dir.join(DB_REKEY_FILE);
        for stale in [
            fresh.clone(),
            self.ctx.dir.join(format!("{DB_REKEY_FILE}-journal")),
        ] {
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&stale, e))
                }
                _ => {}
            }
        }
        let target = fresh
            .to_str()
            .ok_or_else(|| Error::invalid("the vault path is not valid UTF-8"))?;
        let spec = Zeroizing::new(format!("x'{}'", crypto::hex(key)));
        self.conn.execute(
            "ATTACH DATABASE ?1 AS fresh KEY ?2",
            params![target, spec.as_str()],
        )?;
        let copied = (|| -> Result<()> {
            let tx = self.conn.transaction()?;
            tx.query_row("SELECT sqlcipher_export('fresh')", [], |_| Ok(()))?;
            // sqlcipher_export copies tables, not the schema version.
            let version: i64 = tx.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
            tx.execute_batch(&format!("PRAGMA fresh.user_version = {version}"))?;
            // A copy of the rows under a new key, no change of them: let
            // through a replica's guard.
            crate::replica::committing(|| tx.commit())?;
            Ok(())
        })();
        let _ = self.conn.execute("DETACH DATABASE fresh", []);
        copied?;
        File::open(&fresh)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&fresh, e))?;
        // The old connection still holds the old file, locked: nobody
        // else can open it between here and the new connection.
        std::fs::rename(&fresh, &live).map_err(|e| Error::io(&live, e))?;
        fsutil::sync_dir(&self.ctx.dir)?;
        let conn = crate::db::open(&live, key)?;
        conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
        self.conn = conn;
        Ok(())
    }

    /// Write a backup of the whole vault to `out`, a new file (officer,
    /// system administrator): the file holds only ciphertext, so making it
    /// reads no document.
    ///
    /// The backup is on record before its first byte is written, under the
    /// path it will have, and is written as `<out>.partial` until complete:
    /// a run killed at any point leaves either nothing or files the record
    /// (and so the disposal inventory) names.
    pub fn backup(&mut self, out: &Path) -> Result<BackupInfo> {
        self.require(Action::Backup, "vault")?;
        let (id, uid, path) = match self.begin_backup(out) {
            Ok(v) => v,
            Err(e) => {
                self.log_failure(Action::Backup.event(), "vault", &e);
                return Err(e);
            }
        };
        let object = format!("backup:{id}");
        let (epoch, size, sha, documents) = match self.write_backup(out, uid) {
            Ok(v) => v,
            Err(e) => {
                self.abandon_backup(id, out);
                self.log_failure(Action::Backup.event(), &object, &e);
                return Err(e);
            }
        };
        let uid = crypto::hex(&uid);
        let recorded = self.perform(Action::Backup, &object, |tx, _| {
            tx.execute(
                "UPDATE backups SET epoch = ?1, size = ?2, sha256 = ?3, finished_at = ?4 WHERE id = ?5",
                params![epoch, size as i64, sha, crate::audit::now(), id],
            )?;
            let detail = format!(
                "backup {id} ({uid}) written: key epoch {epoch}, {documents} documents, {size} bytes, SHA-256 {sha}"
            );
            Ok(Done::ok(
                BackupInfo {
                    id,
                    uid: uid.clone(),
                    epoch,
                    path: path.clone(),
                    size,
                    sha256: sha.clone(),
                    documents,
                },
                detail,
            ))
        });
        if recorded.is_err() {
            self.abandon_backup(id, out);
            let _ = fsutil::remove_overwritten(out);
        }
        recorded
    }

    /// Put the backup on record (and in the trail) before writing it.
    fn begin_backup(&mut self, out: &Path) -> Result<(i64, [u8; 16], String)> {
        let dir = fsutil::new_file_dir(out)?;
        let partial = partial_path(out);
        if partial.exists() {
            return Err(Error::invalid(format!(
                "{} exists (an interrupted backup?): remove it or choose another name",
                partial.display()
            )));
        }
        if let Some((epoch, _)) = crate::rekey::unfinished(&self.conn)? {
            return Err(Error::denied(format!(
                "key epoch {epoch} is unfinished: run `kinko rekey` to finish it, then make the backup"
            )));
        }
        remove_stale_snapshots(&self.ctx.dir)?;
        let name = out
            .file_name()
            .ok_or_else(|| Error::field("out", "the backup's place must name a file"))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(name).display().to_string();
        let uid = crypto::random::<16>();
        let tx = self.ctx.begin_write(&self.conn)?;
        let (epoch, _) = crate::rekey::current_epoch(&tx)?;
        tx.execute(
            "INSERT INTO backups (uid, epoch, path, size, sha256, made_by, made_at) VALUES (?1, ?2, ?3, 0, '', ?4, ?5)",
            params![crypto::hex(&uid), epoch, path, self.ctx.actor.id, crate::audit::now()],
        )?;
        let id = tx.last_insert_rowid();
        self.ctx.append(
            &tx,
            &self.ctx.event(
                Action::Backup.event(),
                &format!("backup:{id}"),
                crate::audit::OK,
                &format!("backup {id} started: {path}"),
            ),
        )?;
        tx.commit()?;
        Ok((id, uid, path))
    }

    /// A backup that failed (not one killed): its partial file goes, and
    /// its record says so.
    fn abandon_backup(&mut self, id: i64, out: &Path) {
        let partial = partial_path(out);
        if out.exists() {
            // Linked already: the partial name is the same file.
            let _ = std::fs::remove_file(&partial);
        } else {
            let _ = fsutil::remove_overwritten(&partial);
        }
        let _ = self.ctx.begin_write(&self.conn).and_then(|tx| {
            tx.execute(
                "UPDATE backups SET destroyed_at = ?1 WHERE id = ?2 AND finished_at IS NULL",
                params![crate::audit::now(), id],
            )?;
            tx.commit()
        });
    }

    fn write_backup(&mut self, out: &Path, uid: [u8; 16]) -> Result<(u32, u64, String, usize)> {
        let dir = fsutil::new_file_dir(out)?;
        let copy = TempCopy::new(&self.ctx.dir)?;
        let Snapshot {
            epoch,
            suite,
            objects,
        } = self.snapshot(&copy.path)?;
        let mut files = vec![ArchiveFile {
            entry: Entry::Database,
            path: copy.path.clone(),
            sha256: None,
        }];
        for (name, sha256) in &objects {
            let name = ObjectName::parse(name)?;
            files.push(ArchiveFile {
                entry: Entry::parse(format!("{OBJECTS_DIR}/{name}").as_bytes())?,
                // On a replica, fetched first where this terminal lacks it.
                path: self.ctx.object_to_read(&name)?,
                sha256: Some(sha256.clone()),
            });
        }
        files.extend(inbox_files(&self.ctx.dir)?);
        let keyslots = std::fs::read(self.ctx.keyslots_path())
            .map_err(|e| Error::io(self.ctx.keyslots_path(), e))?;
        let vault_id: [u8; 16] = data_encoding::HEXLOWER
            .decode(self.ctx.vault_id.as_bytes())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| Error::tampered("the vault id is malformed"))?;
        let mut header = BackupHeader {
            vault_id,
            epoch,
            uid,
            made_at: chrono::Utc::now().timestamp(),
            keyslots,
            custodian_wrap: None,
        };
        // A secret only the custodian opens: no password alone opens
        // the backup (format 2).
        let secret = crypto::random_key();
        let w = crypto::hpke_wrap(
            &self.ctx.custodian_public,
            &header.secret_context(),
            secret.as_slice(),
        )?;
        header.custodian_wrap = Some([w.enc, w.ciphertext].concat());
        let raw = header.encode();
        let key = body_key(&self.ctx.secrets.db_key, Some(&secret), &raw);

        let partial = partial_path(out);
        let file = private_file(&partial)?;
        let mut w = fsutil::HashingWriter::new(BufWriter::with_capacity(256 * 1024, &file));
        w.write_all(&raw).map_err(|e| Error::io(&partial, e))?;
        encrypt_archive(suite, &key, &header, &files, &mut w, &partial)?;
        w.flush().map_err(|e| Error::io(&partial, e))?;
        let (sha, size) = w.finish();
        file.sync_all().map_err(|e| Error::io(&partial, e))?;
        drop(file);
        // A hard link never replaces a file: the name appears whole or not at all.
        std::fs::hard_link(&partial, out).map_err(|e| Error::io(out, e))?;
        std::fs::remove_file(&partial).map_err(|e| Error::io(&partial, e))?;
        fsutil::sync_dir(dir)?;
        Ok((epoch, size, crypto::hex(&sha), objects.len()))
    }

    /// A consistent copy of the database (under the same key) and the
    /// object files its live documents name, both as of one moment.
    fn snapshot(&mut self, to: &Path) -> Result<Snapshot> {
        let key = Zeroizing::new(format!("x'{}'", crypto::hex(&self.ctx.secrets.db_key)));
        let target = to
            .to_str()
            .ok_or_else(|| Error::invalid("the vault path is not valid UTF-8"))?;
        self.conn.execute(
            "ATTACH DATABASE ?1 AS snap KEY ?2",
            params![target, key.as_str()],
        )?;
        let copied = (|| {
            let tx = self.conn.transaction()?;
            let (epoch, suite) = crate::rekey::current_epoch(&tx)?;
            let objects: Vec<(String, String)> = tx
                .prepare("SELECT object_name, object_sha256 FROM documents WHERE erased_at IS NULL ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            tx.query_row("SELECT sqlcipher_export('snap')", [], |_| Ok(()))?;
            // sqlcipher_export copies tables, not the schema version.
            let version: i64 = tx.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
            tx.execute_batch(&format!("PRAGMA snap.user_version = {version}"))?;
            // A replica's own bookkeeping is no part of the vault: a
            // backup restores as a vault folder.
            crate::replica::drop_local_tables(&tx, "snap")?;
            // A copy, no change of the vault's rows: let through a
            // replica's guard.
            crate::replica::committing(|| tx.commit())?;
            Ok(Snapshot {
                epoch,
                suite,
                objects,
            })
        })();
        let _ = self.conn.execute("DETACH DATABASE snap", []);
        copied
    }

    /// Every backup recorded, newest first (officer, system administrator).
    pub fn backups(&mut self) -> Result<Vec<BackupRecord>> {
        self.perform(Action::Backup, "backups", |tx, _| {
            let list = tx
                .prepare("SELECT id, uid, epoch, path, size, sha256, made_by, made_at, finished_at, destroyed_at FROM backups ORDER BY id DESC")?
                .query_map([], |r| {
                    Ok(BackupRecord {
                        id: r.get(0)?,
                        uid: r.get(1)?,
                        epoch: r.get(2)?,
                        path: r.get(3)?,
                        size: r.get::<_, i64>(4)? as u64,
                        sha256: r.get(5)?,
                        made_by: r.get(6)?,
                        made_at: r.get(7)?,
                        finished_at: r.get(8)?,
                        destroyed_at: r.get(9)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let detail = format!("{} backups listed", list.len());
            Ok(Done::ok(list, detail))
        })
    }
}

impl Vault {
    /// Restore a backup into `to` (new or empty) as a working vault, then
    /// sign in to it as the restorer (officer or system administrator),
    /// check every file against the database and record the restore in
    /// the restored vault's trail. On any failure nothing is left in `to`.
    pub fn restore(req: &RestoreRequest) -> Result<Restored> {
        let file = File::open(req.backup).map_err(|e| Error::io(req.backup, e))?;
        let mut r = BufReader::with_capacity(256 * 1024, file);
        let (header, raw) = read_header(&mut r)?;
        let slots = KeySlots::from_bytes(&header.keyslots)?;
        if slots.vault_id != crypto::hex(&header.vault_id) {
            return Err(Error::tampered(
                "the backup's keyslots belong to another vault",
            ));
        }
        let (secrets, _) = slots.unlock(req.id, req.password.as_bytes(), req.token)?;
        let secret =
            crate::backup::backup_secret(&header, &slots.custodian_public()?, req.recovery_code)?;
        // After a `rekey` the newest database key waits beside the slot;
        // the stream header's MAC tells which key the backup was made with.
        let mut first = [0u8; stream::HEADER_LEN];
        r.read_exact(&mut first)
            .map_err(|_| Error::tampered("the backup is truncated inside its body"))?;
        let mut keys = slots.pending_db_keys(req.id, &secrets)?;
        keys.push(Zeroizing::new(secrets.db_key));
        drop(secrets);
        let key = keys
            .iter()
            .map(|k| body_key(k, secret.as_deref(), &raw))
            .find(|k| stream::header_opens(k, &first))
            .ok_or_else(|| Error::tampered("the backup's body does not open under its keys"))?;
        let mut body = std::io::Cursor::new(first).chain(r);
        let existed = vault::prepare_empty_dir(req.to)?;
        let result = unpack_into(&key, &header, &mut body, req)
            .and_then(|files| finish_restore(&header, files, req));
        if result.is_err() {
            vault::cleanup_failed_init(req.to, existed);
        }
        result
    }
}

fn finish_restore(header: &BackupHeader, files: usize, req: &RestoreRequest) -> Result<Restored> {
    let restored = Vault::open(req.to)?;
    let restored = match req.token {
        Some(t) => restored.with_token(t.clone()),
        None => restored,
    };
    let mut session = restored.sign_in(req.id, req.password, req.totp, req.terminal)?;
    session.require(Action::Restore, "vault")?;
    let made_at = chrono::DateTime::from_timestamp(header.made_at, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let uid = crypto::hex(&header.uid);
    let report = session.verify(false)?;
    if !report.is_intact() {
        return Err(Error::tampered(format!(
            "the restored vault does not verify: {}",
            report
                .damaged
                .iter()
                .map(|d| format!("{} ({})", d.item, d.problem))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let path = req.to.display().to_string();
    let done = session.perform(Action::Restore, "vault", |tx, ctx| {
        let documents: i64 = tx.query_row(
            "SELECT count(*) FROM documents WHERE erased_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        let detail = format!(
            "restored backup {uid} (key epoch {}, made {made_at}) to {path}",
            header.epoch
        );
        Ok(Done::ok(
            Restored {
                vault_id: ctx.vault_id.clone(),
                backup_uid: uid.clone(),
                epoch: header.epoch,
                made_at: made_at.clone(),
                documents: documents as usize,
                files,
                path: path.clone(),
            },
            detail,
        ))
    })?;
    session.end()?;
    Ok(done)
}
