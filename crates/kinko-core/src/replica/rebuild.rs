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

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use zeroize::Zeroizing;

use super::{
    apply_changes, base, chain_after, ensure_position_table, note_keyslots, open_unit, position,
    set_base, set_position, unit_key, IncomingUnit, Replica, UnitPlace,
};
use crate::db;
use crate::error::{Error, Result};

/// Where a rebuild starts chaining the log: a position and the chain up
/// to it.
type From = (u64, [u8; 32]);

/// The log chained up to a snapshot: the chain before it, the keyslots
/// the units before it carried (number, bytes), and the snapshot.
struct Chained {
    prev: [u8; 32],
    carried: Vec<(u64, Vec<u8>)>,
    snapshot: IncomingUnit,
}

impl Replica {
    /// Open this terminal's replica database for a sign-in, with the keys
    /// this person's keyslot gives (`keys`: the newer ones a rekey left
    /// first, the slot's own last). A replica built before the newest
    /// snapshot, or one none of the keys opens while there is a snapshot,
    /// is built again from it. Returns the connection, guarded, and the
    /// database key it is under.
    pub(crate) fn open_database(
        &self,
        path: &Path,
        keys: &[Zeroizing<[u8; 32]>],
    ) -> Result<(Connection, [u8; 32])> {
        let slot_key = keys
            .last()
            .ok_or_else(|| Error::NotSignedIn("no key for the replica".into()))?;
        let newest = self.upstream.state()?.snapshot;
        let existing = if path.exists() {
            keys.iter()
                .find_map(|k| db::open(path, k).ok().map(|c| (c, **k)))
        } else {
            None
        };
        let start = match existing {
            Some((mut conn, key)) => {
                ensure_position_table(&conn)?;
                if base(&conn)? >= newest {
                    self.guard(&mut conn, &key)?;
                    return Ok((conn, key));
                }
                let (at, hash) = position(&conn)?;
                // Built before the newest snapshot: chain on from where it
                // is (it made the snapshot itself if it is past it).
                if at < newest {
                    (at, hash)
                } else {
                    (0, [0u8; 32])
                }
            }
            None if newest == 0 => {
                // No snapshot: the replica is under the slot's key, made
                // here from the first unit if it is new.
                let fresh = !path.exists();
                let mut conn = db::open(path, slot_key)?;
                if fresh {
                    db::create_schema(&conn)?;
                }
                self.guard(&mut conn, slot_key)?;
                return Ok((conn, **slot_key));
            }
            None => (0, [0u8; 32]),
        };
        let key = self.rebuild(path, keys, start, newest)?;
        let mut conn = db::open(path, &key)?;
        self.guard(&mut conn, &key)?;
        Ok((conn, key))
    }

    /// Build the database at `path` again from the snapshot unit `newest`,
    /// chaining the log from `from` up to it; the old database is erased.
    /// Returns the key that opened the snapshot.
    fn rebuild(
        &self,
        path: &Path,
        keys: &[Zeroizing<[u8; 32]>],
        from: From,
        newest: u64,
    ) -> Result<[u8; 32]> {
        let Chained {
            prev,
            carried,
            snapshot,
        } = self.chain_to(from, newest)?;
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
        let fresh = path.with_file_name(format!("{}.rebuild", crate::layout::DB_FILE));
        remove_database_files(&fresh)?;
        {
            let conn = db::open(&fresh, &key)?;
            db::create_schema(&conn)?;
            ensure_position_table(&conn)?;
            let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
            apply_changes(&tx, &changes, newest)?;
            set_position(&tx, newest, &chain_after(&place, &snapshot.sealed))?;
            set_base(&tx, newest)?;
            for (seq, keyslots) in &carried {
                note_keyslots(&tx, *seq, keyslots)?;
            }
            if let Some(k) = &snapshot.keyslots {
                note_keyslots(&tx, newest, k)?;
            }
            tx.commit()?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        // The old database is under a key this person may no longer hold
        // and holds nothing the snapshot does not: erased, then replaced.
        remove_database_files(path)?;
        std::fs::rename(&fresh, path).map_err(|e| Error::io(path, e))?;
        remove_database_files(&fresh)?;
        if let Some(k) = &snapshot.keyslots {
            crate::fsutil::write_atomic(&self.keyslots_path, k)?;
        }
        Ok(key)
    }

    /// Fetch the log from `from` to the unit `newest`, chaining the units
    /// before it without opening them: the chain before `newest`, the
    /// keyslots those units carried (seq, bytes) and the unit itself.
    fn chain_to(&self, (mut at, mut hash): From, newest: u64) -> Result<Chained> {
        let mut carried = Vec::new();
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
                        carried,
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
                hash = chain_after(&place, &unit.sealed);
                at = unit.seq;
                if let Some(k) = unit.keyslots {
                    carried.push((at, k));
                }
            }
        }
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

/// Remove a database file and what SQLite keeps beside it, overwritten.
fn remove_database_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = path.with_file_name(format!(
            "{}{suffix}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        match std::fs::symlink_metadata(&file) {
            Ok(_) => crate::fsutil::remove_overwritten(&file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&file, e)),
        }
    }
    Ok(())
}
