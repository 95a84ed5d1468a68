//! Opening a replica at sign-in, and building it again from the newest
//! snapshot when the vault's database key changed (issue 16, step 5).
//!
//! A rekey or a disabled account gives the vault a new database key; on a
//! server the terminal doing it appends a snapshot unit: the whole
//! database sealed under the new key's unit key, carrying the keyslots
//! that give the new key to everyone who keeps access
//! ([`super::Write::commit_snapshot`]). Every unit after it is sealed
//! under the new key. A terminal whose replica was built before that
//! snapshot cannot follow (a session on it is told to sign in again); at
//! the next sign-in it builds a new database from the snapshot under the
//! key this person's keyslot gives, erases the old one, and catches up
//! from there. Someone whose slot is gone (disabled) holds no key that
//! opens the snapshot or anything after it.
//!
//! The units between what the replica had applied and the snapshot are
//! not applied, only chained: the snapshot's seal names the chain before
//! it, so a server that changed, dropped or reordered one of them makes
//! the snapshot fail to open (tampering).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use zeroize::Zeroizing;

use super::epochs::KeyUnit;
use super::{
    apply_changes, base, chain_after, ensure_position_table, key_unit, open_unit, position,
    set_base, set_position, unit_key, IncomingUnit, Replica, UnitPlace,
};
use crate::audit::tree::Head;
use crate::db;
use crate::error::{Error, Result};

/// What a rebuild starts from: where it chains the log from (a position
/// and the chain up to it), what the replica it replaces knew, and
/// nothing when there was none it could open.
#[derive(Default)]
struct Start {
    at: u64,
    chain: [u8; 32],
    /// The units up to `at` that may begin a key ([`super::epochs`]).
    key_units: Vec<KeyUnit>,
    /// The old replica's key and its audit trail's head: the snapshot
    /// must be under another key and hold that trail.
    held: Option<(Zeroizing<[u8; 32]>, Head)>,
}

/// The log chained up to a snapshot: the chain before it, the units
/// before it that may begin a key, and the snapshot.
struct Chained {
    prev: [u8; 32],
    key_units: Vec<KeyUnit>,
    snapshot: IncomingUnit,
}

impl Replica {
    /// Open this terminal's replica database for a sign-in, with the keys
    /// this person's keyslot gives (`keys`: the newer ones a rekey left
    /// first, the slot's own last). A replica built before the newest
    /// snapshot, or one none of the keys opens while there is a snapshot,
    /// is built again from it, which must hold the audit trail the old
    /// replica held and `seen` (what this person saw last on this
    /// terminal). Returns the connection, guarded, and the database key
    /// it is under.
    pub(crate) fn open_database(
        &self,
        path: &Path,
        keys: &[Zeroizing<[u8; 32]>],
        seen: Option<&Head>,
    ) -> Result<(Connection, [u8; 32])> {
        let newest = self.upstream.state()?.snapshot;
        let start = match self.open_current(path, keys, newest)? {
            Opened::Current(conn, key) => return Ok((conn, key)),
            Opened::Behind(start) => start,
        };
        // One rebuild at a time on this terminal: another process may
        // have done it while this one waited.
        let _lock = RebuildLock::take(path)?;
        let start = match self.open_current(path, keys, newest)? {
            Opened::Current(conn, key) => return Ok((conn, key)),
            Opened::Behind(again) => again.or(start),
        };
        let key = self.rebuild(path, keys, start, seen, newest)?;
        let mut conn = db::open(path, &key)?;
        self.guard(&mut conn, &key)?;
        Ok((conn, key))
    }

    /// The replica at `path` if it is built from the newest snapshot
    /// (guarded), else where a rebuild starts.
    fn open_current(
        &self,
        path: &Path,
        keys: &[Zeroizing<[u8; 32]>],
        newest: u64,
    ) -> Result<Opened> {
        let existing = if path.exists() {
            keys.iter()
                .find_map(|k| db::open(path, k).ok().map(|c| (c, **k)))
        } else {
            None
        };
        let Some((mut conn, key)) = existing else {
            if newest == 0 {
                // No snapshot: the replica is under the slot's key, made
                // here from the first unit if it is new.
                let slot_key = keys
                    .last()
                    .ok_or_else(|| Error::NotSignedIn("no key for the replica".into()))?;
                let fresh = !path.exists();
                let mut conn = db::open(path, slot_key)?;
                if fresh {
                    db::create_schema(&conn)?;
                }
                self.guard(&mut conn, slot_key)?;
                return Ok(Opened::Current(conn, **slot_key));
            }
            return Ok(Opened::Behind(Start::default()));
        };
        ensure_position_table(&conn)?;
        if base(&conn)? >= newest {
            self.guard(&mut conn, &key)?;
            return Ok(Opened::Current(conn, key));
        }
        let (at, chain) = position(&conn)?;
        let key_units = KeyUnit::all(&conn)?;
        let held = Some((Zeroizing::new(key), crate::witness::head_now(&conn)?));
        // Built before the newest snapshot: chain on from where it is if
        // it knows the log's keys up to there (it made the snapshot itself
        // if it is past it), else from the start.
        if at < newest && key_units.first().is_some_and(|u| u.seq == 1) {
            Ok(Opened::Behind(Start {
                at,
                chain,
                key_units,
                held,
            }))
        } else {
            Ok(Opened::Behind(Start {
                held,
                ..Start::default()
            }))
        }
    }

    /// Build the database at `path` again from the snapshot unit `newest`,
    /// chaining the log from `start` up to it; the old database is erased
    /// once the new one holds its audit trail and `seen`. Returns the key
    /// that opened the snapshot.
    fn rebuild(
        &self,
        path: &Path,
        keys: &[Zeroizing<[u8; 32]>],
        start: Start,
        seen: Option<&Head>,
        newest: u64,
    ) -> Result<[u8; 32]> {
        let Chained {
            prev,
            key_units: chained,
            snapshot,
        } = self.chain_to((start.at, start.chain), newest)?;
        if !snapshot.snapshot {
            return Err(Error::tampered(format!(
                "unit {newest}, which the office server names as the newest snapshot, is not one"
            )));
        }
        let place = UnitPlace {
            vault_id: &self.vault_id,
            seq: newest,
            prev: &prev,
            keyslots: snapshot.keyslots.as_deref(),
            snapshot: true,
        };
        let (key, changes) = keys
            .iter()
            .find_map(|k| open_unit(&unit_key(k), &place, &snapshot.sealed).map(|c| (**k, c)))
            .ok_or_else(|| {
                Error::tampered(format!(
                    "the snapshot at unit {newest} of the server's log opens with none of this account's keys (or was not sealed there)"
                ))
            })?;
        let mut key_units = start.key_units;
        key_units.retain(|u| u.seq <= start.at);
        key_units.extend(chained);
        self.check_key_is_new(
            &key,
            start.held.as_ref().map(|(k, _)| &**k),
            newest,
            &key_units,
        )?;
        key_units.extend(key_unit(&place, &snapshot.sealed));
        let fresh = path.with_file_name(format!("{}.rebuild", crate::layout::DB_FILE));
        remove_database_files(&fresh)?;
        let built = (|| {
            let conn = db::open(&fresh, &key)?;
            db::create_schema(&conn)?;
            ensure_position_table(&conn)?;
            let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
            apply_changes(&tx, &changes, newest)?;
            set_position(&tx, newest, &chain_after(&place, &snapshot.sealed))?;
            set_base(&tx, newest)?;
            for unit in &key_units {
                unit.note(&tx)?;
            }
            tx.commit()?;
            let had = start.held.as_ref().map(|(_, head)| head);
            for head in had.into_iter().chain(seen) {
                if !crate::witness::holds(&conn, head)? {
                    return Err(Error::tampered(format!(
                        "the snapshot at unit {newest} of the server's log does not hold the audit trail this terminal had (its first {} events): a copy of another state, refused",
                        head.size
                    )));
                }
            }
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })();
        if let Err(e) = built {
            remove_database_files(&fresh)?;
            return Err(e);
        }
        replace_database(path, &fresh)?;
        if let Some(k) = &snapshot.keyslots {
            crate::fsutil::write_atomic(&self.keyslots_path, k)?;
        }
        Ok(key)
    }

    /// Fetch the log from `(at, hash)` to the unit `newest`, chaining the
    /// units before it without opening them: the chain before `newest`,
    /// the units before it that may begin a key (as digests: a page of
    /// the log is the most this holds) and the unit itself.
    fn chain_to(&self, (mut at, mut hash): (u64, [u8; 32]), newest: u64) -> Result<Chained> {
        let mut key_units = Vec::new();
        loop {
            let (_, units) = self.upstream.units_after(at)?;
            if units.is_empty() {
                return Err(Error::tampered(format!(
                    "the server's log ends at unit {at}, before its newest snapshot {newest}"
                )));
            }
            for unit in units {
                if unit.seq != at + 1 {
                    return Err(Error::tampered(format!(
                        "the server's log jumps from unit {at} to unit {}",
                        unit.seq
                    )));
                }
                if unit.seq == newest {
                    return Ok(Chained {
                        prev: hash,
                        key_units,
                        snapshot: unit,
                    });
                }
                let place = UnitPlace {
                    vault_id: &self.vault_id,
                    seq: unit.seq,
                    prev: &hash,
                    keyslots: unit.keyslots.as_deref(),
                    snapshot: unit.snapshot,
                };
                key_units.extend(key_unit(&place, &unit.sealed));
                hash = chain_after(&place, &unit.sealed);
                at = unit.seq;
            }
        }
    }

    /// Refuse the snapshot at `newest`, opened with `key`, if that key is
    /// an old one of this vault: the key of the replica this terminal
    /// held (`held`), or one that opens a unit before the snapshot that
    /// may begin a key (`earlier`, in order; [`super::epochs`]). Each is
    /// fetched again and must be what the terminal kept of it.
    fn check_key_is_new(
        &self,
        key: &[u8; 32],
        held: Option<&[u8; 32]>,
        newest: u64,
        earlier: &[KeyUnit],
    ) -> Result<()> {
        let old_key = |whose: String| {
            Error::tampered(format!(
                "the snapshot at unit {newest} of the server's log is sealed under an old key of this vault ({whose}): a copy of an earlier state, refused"
            ))
        };
        if held == Some(key) {
            return Err(old_key(
                "the key of this terminal's replica before it".into(),
            ));
        }
        let sealing = unit_key(key);
        let mut page: Vec<IncomingUnit> = Vec::new();
        for wanted in earlier.iter().filter(|u| u.seq > 0 && u.seq < newest) {
            if !page.iter().any(|u| u.seq == wanted.seq) {
                page = self.upstream.units_after(wanted.seq - 1)?.1;
            }
            let unit = page
                .iter()
                .find(|u| u.seq == wanted.seq)
                .filter(|u| is_kept(wanted, u))
                .ok_or_else(|| {
                    Error::tampered(format!(
                        "unit {} of the server's log came back different when fetched again",
                        wanted.seq
                    ))
                })?;
            // As a change or as a snapshot: whichever it was.
            let opens = [false, true].into_iter().any(|snapshot| {
                let place = UnitPlace {
                    vault_id: &self.vault_id,
                    seq: wanted.seq,
                    prev: &wanted.prev,
                    keyslots: unit.keyslots.as_deref(),
                    snapshot,
                };
                open_unit(&sealing, &place, &unit.sealed).is_some()
            });
            if opens {
                return Err(old_key(format!("the key of unit {}", wanted.seq)));
            }
        }
        Ok(())
    }

    /// After [`super::Write::commit_snapshot`] and the database written
    /// again under `key`: this replica is built at the snapshot `seq`, and
    /// its units are sealed under the new key from now on.
    pub(crate) fn keyed_at(&self, conn: &mut Connection, seq: u64, key: &[u8; 32]) -> Result<()> {
        self.guard(conn, key)?;
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        set_base(&tx, seq)?;
        self.commit_local(tx)
    }
}

/// Is `unit`, as the server hands it again, the one kept as `kept`?
fn is_kept(kept: &KeyUnit, unit: &IncomingUnit) -> bool {
    unit.seq == kept.seq
        && crate::crypto::sha256(&unit.sealed) == kept.sealed
        && unit.keyslots.as_deref().map(crate::crypto::sha256) == kept.keyslots
        && unit.snapshot == kept.snapshot
}

/// How [`Replica::open_current`] found the replica.
enum Opened {
    /// Built from the newest snapshot: open and guarded, with its key.
    Current(Connection, [u8; 32]),
    Behind(Start),
}

impl Start {
    /// This start, or `other` if this one knows nothing of an old replica.
    fn or(self, other: Start) -> Start {
        if self.held.is_some() {
            self
        } else {
            other
        }
    }
}

/// The lock one process of this terminal holds while it rebuilds the
/// replica (an exclusive `flock` on a file beside the database), let go
/// when the file closes.
struct RebuildLock {
    _file: std::fs::File,
}

impl RebuildLock {
    fn take(db_path: &Path) -> Result<RebuildLock> {
        let path: PathBuf = db_path.with_file_name(format!(
            "{}.rebuild-lock",
            db_path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let file = crate::fsutil::open_lock_file(&path)?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(RebuildLock { _file: file })
    }
}

/// Put the database `fresh` in the place of the one at `path`, so that a
/// stop at any point leaves one whole database there (the old or the
/// new), then erase the old: it is under a key this person may no longer
/// hold and holds nothing the new one does not.
fn replace_database(path: &Path, fresh: &Path) -> Result<()> {
    let aside = path.with_file_name(format!("{}.old", crate::layout::DB_FILE));
    // Left by a stop: still the live database's other name (unlinked
    // only), or the old one after the rename (erased).
    if is_same_file(path, &aside) {
        std::fs::remove_file(&aside).map_err(|e| Error::io(&aside, e))?;
    } else {
        remove_database_files(&aside)?;
    }
    if path.exists() {
        std::fs::hard_link(path, &aside).map_err(|e| Error::io(&aside, e))?;
    }
    // Its journal files would be taken as the new database's.
    for suffix in ["-wal", "-shm", "-journal"] {
        crate::fsutil::remove_overwritten(&with_suffix(path, suffix))?;
    }
    std::fs::rename(fresh, path).map_err(|e| Error::io(path, e))?;
    remove_database_files(fresh)?;
    remove_database_files(&aside)
}

/// Are `a` and `b` one file (two names of one inode)?
fn is_same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `path` with `suffix` after its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    path.with_file_name(format!(
        "{}{suffix}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// Remove a database file and what SQLite keeps beside it, overwritten.
fn remove_database_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = with_suffix(path, suffix);
        match std::fs::symlink_metadata(&file) {
            Ok(_) => crate::fsutil::remove_overwritten(&file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&file, e)),
        }
    }
    Ok(())
}
