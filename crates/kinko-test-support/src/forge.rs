//! The insider on an office server (issue 16): someone holding one
//! account's slot (so the database key) who is also root on the server
//! box. Their edits of their own terminal's replica reach every terminal
//! as a unit they seal themselves in the published format
//! (`kinko_core::replica::seal_unit`) and put at the head of the server's
//! log with superuser rights. Attack tests edit through `raw_db` as on a
//! local vault; in the server half of the matrix the harness turns each
//! edit into such a unit before the next command.

use std::path::Path;

use kinko_core::replica::{seal_unit, unit_key, UnitPlace};
use rusqlite::session::Session;

/// What the insider's slot gave them: the vault's ID and the database
/// key (one Argon2id unlock, then used for every step).
pub struct KeyHolder {
    pub vault_id: String,
    pub key: [u8; 32],
}

impl KeyHolder {
    /// Unlock `id`'s slot of the replica at `vault`.
    pub fn of(vault: &Path, id: &str, password: &str) -> KeyHolder {
        let slots = kinko_core::keyslots::KeySlots::load(&vault.join("keyslots"))
            .expect("the replica has a keyslots file");
        KeyHolder {
            vault_id: slots.vault_id,
            key: crate::open_db_as(vault, id, password).0,
        }
    }

    /// The replica's database, opened with the key.
    pub fn open(&self, vault: &Path) -> rusqlite::Connection {
        crate::open_with_key(vault, &self.key).expect("the key opens the replica")
    }
}

/// A unit made by an insider: its number and its sealed bytes.
pub struct ForgedUnit {
    pub seq: u64,
    pub sealed: Vec<u8>,
}

/// What changed in the replica at `vault` since `snapshot` (a copy of its
/// database made before the edits) as a unit sealed with the insider's
/// database key at the replica's next place; the edits are undone in the replica,
/// which then applies the unit at its next catch-up like every other
/// terminal. None if nothing changed.
pub fn unit_of_edits(vault: &Path, snapshot: &Path, insider: &KeyHolder) -> Option<ForgedUnit> {
    unit_of_edits_with(vault, snapshot, insider, false)
}

/// [`unit_of_edits`], with the replica's own tables (`replica_*`) in the
/// unit too when `own_tables` (an attack on a terminal's bookkeeping).
pub fn unit_of_edits_with(
    vault: &Path,
    snapshot: &Path,
    insider: &KeyHolder,
    own_tables: bool,
) -> Option<ForgedUnit> {
    let key = insider.key;
    let conn = insider.open(vault);
    conn.execute(
        "ATTACH DATABASE ?1 AS before KEY ?2",
        rusqlite::params![
            snapshot.display().to_string(),
            format!("x'{}'", kinko_core::crypto::hex(&key))
        ],
    )
    .expect("the snapshot opens");
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND (?1 OR name NOT LIKE 'replica_%')",
        )
        .unwrap()
        .query_map([own_tables], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut changes = Vec::new();
    {
        let mut session = Session::new(&conn).unwrap();
        for table in &tables {
            session.attach(Some(table.as_str())).unwrap();
            session.diff("before", table.as_str()).unwrap();
        }
        if !session.is_empty() {
            session.changeset_strm(&mut changes).unwrap();
        }
    }
    conn.execute_batch("DETACH DATABASE before").unwrap();
    if changes.is_empty() {
        return None;
    }
    let (seq, prev): (i64, Vec<u8>) = conn
        .query_row("SELECT seq, hash FROM replica_position", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the replica has a position");
    let prev: [u8; 32] = prev.try_into().unwrap();
    let seq = seq as u64 + 1;
    let (sealed, _) = seal_unit(
        &unit_key(&key),
        &UnitPlace {
            vault_id: &insider.vault_id,
            seq,
            prev: &prev,
            keyslots: None,
            snapshot: false,
        },
        &changes,
    );
    // Undo the edits here: the insider's own terminal then takes them
    // from the server like every other terminal, through the same
    // catch-up (so the forged unit is applied, not assumed).
    let mut undo = Vec::new();
    rusqlite::session::invert_strm(&mut std::io::Cursor::new(&changes), &mut undo)
        .expect("the edits invert");
    conn.apply_strm(
        &mut std::io::Cursor::new(&undo),
        None::<fn(&str) -> bool>,
        |_, _| rusqlite::session::ConflictAction::SQLITE_CHANGESET_ABORT,
    )
    .expect("the edits undo");
    Some(ForgedUnit { seq, sealed })
}

/// Copy the replica's database (with its write-ahead log, if one is
/// left) to `into`, to diff against later.
pub fn snapshot(vault: &Path, into: &Path) {
    std::fs::copy(vault.join("kinko.db"), into).expect("the replica's database copies");
    let wal = vault.join("kinko.db-wal");
    let into_wal = into.with_file_name(format!(
        "{}-wal",
        into.file_name().unwrap().to_string_lossy()
    ));
    if wal.exists() {
        std::fs::copy(&wal, &into_wal).expect("the write-ahead log copies");
    } else {
        let _ = std::fs::remove_file(&into_wal);
    }
}

/// A unit as the insider reads it from the server's table: its number,
/// sealed bytes and keyslots.
pub struct StoredUnit {
    pub seq: u64,
    pub sealed: Vec<u8>,
    pub keyslots: Option<Vec<u8>>,
}

/// How far the replica at `vault` has applied the log.
pub fn position(vault: &Path, insider: &KeyHolder) -> u64 {
    let conn = insider.open(vault);
    conn.query_row("SELECT seq FROM replica_position", [], |r| {
        r.get::<_, i64>(0)
    })
    .expect("the replica has a position") as u64
}

/// Bring the replica at `vault` to the head with `units` (those after its
/// position, in order), as the insider's own terminal would before an
/// edit: each opened with the database key and applied.
pub fn apply_units(vault: &Path, insider: &KeyHolder, units: &[StoredUnit]) {
    let unit_key = unit_key(&insider.key);
    let conn = insider.open(vault);
    for unit in units {
        let (seq, prev): (i64, Vec<u8>) = conn
            .query_row("SELECT seq, hash FROM replica_position", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(unit.seq, seq as u64 + 1, "units in order");
        let prev: [u8; 32] = prev.try_into().unwrap();
        let place = UnitPlace {
            vault_id: &insider.vault_id,
            seq: unit.seq,
            prev: &prev,
            keyslots: unit.keyslots.as_deref(),
            snapshot: false,
        };
        let changes = kinko_core::replica::open_unit(&unit_key, &place, &unit.sealed)
            .expect("a unit of this vault");
        let tx = conn.unchecked_transaction().unwrap();
        tx.apply_strm(
            &mut std::io::Cursor::new(&changes[..]),
            None::<fn(&str) -> bool>,
            |_, _| rusqlite::session::ConflictAction::SQLITE_CHANGESET_ABORT,
        )
        .expect("the unit applies");
        tx.execute(
            "UPDATE replica_position SET seq = ?1, hash = ?2",
            rusqlite::params![
                unit.seq as i64,
                kinko_core::replica::chain_after(&place, &unit.sealed).to_vec()
            ],
        )
        .unwrap();
        if let Some(slots) = &unit.keyslots {
            tx.execute(
                "INSERT OR REPLACE INTO replica_keyslots (seq, sha256) VALUES (?1, ?2)",
                rusqlite::params![unit.seq as i64, kinko_core::crypto::sha256(slots).to_vec()],
            )
            .unwrap();
            std::fs::write(vault.join("keyslots"), slots).unwrap();
        }
        tx.commit().unwrap();
    }
}
