//! Which keys the vault's log was sealed under before, so that a snapshot
//! under an old key is refused (issue 16, session 18's review, mend 1).
//!
//! Each database key of the vault begins with a unit that carries
//! keyslots: unit 1, or a snapshot. Someone who held an older key (a
//! disabled person, or anyone who kept an old keyslots file and its
//! password) can seal a "snapshot" of the state of their choice under it
//! and append it; terminals whose person is handed the old keyslots
//! again would follow. A new database key is random, so a genuine
//! snapshot's key opens no unit before it: the rebuild tries the key
//! that opened the newest snapshot against every unit before it that
//! could begin a key (unit 1 and every unit that carried keyslots or was
//! flagged a snapshot), and refuses the snapshot if one opens.
//!
//! The replica keeps those units as digests ([`KeyUnit`]) as it passes
//! them; the rebuild fetches each again for the check
//! (`rebuild.rs::check_key_is_new`), refusing one that comes back
//! different. What a terminal opened itself is as its seal said;
//! for units a rebuild only chained, the flags and keyslots are as the
//! server lists them (written in `docs/key-management.md`).

use rusqlite::{params, Connection};

use crate::crypto;
use crate::error::{Error, Result};

/// The local table of the units that may begin a key (this terminal's
/// alone, never captured, never sent).
pub(super) const KEY_UNITS_TABLE: &str = "replica_key_units";

/// The local table of which units carried keyslots (their SHA-256):
/// this terminal's alone too.
pub(super) const KEYSLOTS_TABLE: &str = "replica_keyslots";

pub(super) const CREATE_KEY_UNITS: &str = "CREATE TABLE IF NOT EXISTS replica_key_units (
    seq INTEGER PRIMARY KEY,
    prev BLOB NOT NULL,
    sealed_sha256 BLOB NOT NULL,
    keyslots_sha256 BLOB,
    snapshot INTEGER NOT NULL
)";

/// A unit of the log that may begin a key, as digests: where it stood
/// (the chain before it), its sealed bytes' and keyslots' SHA-256, and
/// whether it was a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyUnit {
    pub(super) seq: u64,
    pub(super) prev: [u8; 32],
    pub(super) sealed: [u8; 32],
    pub(super) keyslots: Option<[u8; 32]>,
    pub(super) snapshot: bool,
}

/// A unit as its place in the log and its bytes describe it.
pub(super) struct Seen<'a> {
    pub(super) seq: u64,
    pub(super) prev: &'a [u8; 32],
    pub(super) sealed: &'a [u8],
    pub(super) keyslots: Option<&'a [u8]>,
    pub(super) snapshot: bool,
}

impl KeyUnit {
    /// The unit `seen`, if it may begin a key.
    pub(super) fn of(seen: Seen<'_>) -> Option<KeyUnit> {
        (seen.seq == 1 || seen.keyslots.is_some() || seen.snapshot).then(|| KeyUnit {
            seq: seen.seq,
            prev: *seen.prev,
            sealed: crypto::sha256(seen.sealed),
            keyslots: seen.keyslots.map(crypto::sha256),
            snapshot: seen.snapshot,
        })
    }

    /// Remember it (and the keyslots it carried).
    pub(super) fn note(&self, conn: &Connection) -> Result<()> {
        conn.execute(
            &format!(
                "INSERT OR REPLACE INTO {KEY_UNITS_TABLE}
                 (seq, prev, sealed_sha256, keyslots_sha256, snapshot) VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            params![
                self.seq as i64,
                self.prev.to_vec(),
                self.sealed.to_vec(),
                self.keyslots.map(|k| k.to_vec()),
                self.snapshot
            ],
        )?;
        if let Some(k) = &self.keyslots {
            conn.execute(
                &format!("INSERT OR REPLACE INTO {KEYSLOTS_TABLE} (seq, sha256) VALUES (?1, ?2)"),
                params![self.seq as i64, k.to_vec()],
            )?;
        }
        Ok(())
    }

    /// Every one this replica remembers, in order. Empty when it was made
    /// before this table was (then its history is not known).
    pub(super) fn all(conn: &Connection) -> Result<Vec<KeyUnit>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT seq, prev, sealed_sha256, keyslots_sha256, snapshot
             FROM {KEY_UNITS_TABLE} ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        let damaged = || Error::tampered("the replica's record of the log's keys is damaged");
        let mut out = Vec::new();
        for row in rows {
            let (seq, prev, sealed, keyslots, snapshot) = row?;
            out.push(KeyUnit {
                seq: u64::try_from(seq).map_err(|_| damaged())?,
                prev: prev.try_into().map_err(|_| damaged())?,
                sealed: sealed.try_into().map_err(|_| damaged())?,
                keyslots: keyslots
                    .map(|k| k.try_into().map_err(|_| damaged()))
                    .transpose()?,
                snapshot,
            });
        }
        Ok(out)
    }
}
