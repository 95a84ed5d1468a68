//! Verifying the audit trail (A2): recompute every leaf from its event,
//! rebuild the tree, compare it with the stored nodes and every signed
//! checkpoint, and, given a checkpoint kept apart, prove the trail still
//! extends it. The first thing that does not fit is named.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::tree::{self, Rebuilt};
use crate::crypto;
use crate::db::meta;
use crate::error::{Error, Result};

/// What a verification found (it stops with an error at the first fault).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrailReport {
    /// Events in the tree, archived ones included.
    pub events: u64,
    /// Of those, archived to a signed file and dropped from the vault.
    pub archived: u64,
    /// Hex of the root of the whole tree.
    pub root: String,
    /// Stored checkpoints whose signature and root were checked.
    pub checkpoints: u64,
    /// The checkpoint file the trail was checked against, if one was given.
    pub against: Option<CheckedCheckpoint>,
    /// Clock anomalies recorded in the trail (A6).
    pub clock_anomalies: u64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckedCheckpoint {
    pub size: u64,
    pub at: String,
    pub made_by: String,
}

/// Recompute and check everything; `kept` is a checkpoint file kept apart.
pub fn verify_trail(
    conn: &Connection,
    vault_id: &str,
    kept: Option<&Checkpoint>,
) -> Result<TrailReport> {
    let mut rebuilt = Rebuilt::default();
    let archived = push_archived_leaves(conn, &mut rebuilt)?;
    push_live_events(conn, &mut rebuilt)?;
    compare_stored_nodes(conn, &rebuilt)?;
    let size = rebuilt.len();
    let damage: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'audit_damage'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(note) = damage {
        return Err(Error::tampered(String::from_utf8_lossy(&note).into_owned()));
    }
    match super::recorded_size(conn)? {
        Some(recorded) if recorded != size => {
            return Err(Error::tampered(format!(
                "the trail ends at event {size} but {recorded} events were recorded \
                 (events were deleted from its end)"
            )))
        }
        _ => {}
    }
    let checkpoints = Checkpoint::all_stored(conn, vault_id)?;
    for c in &checkpoints {
        check_against(&rebuilt, c, "stored")?;
    }
    let against = match kept {
        None => None,
        Some(c) => {
            check_kept(conn, vault_id, c)?;
            check_against(&rebuilt, c, "kept")?;
            check_extends(&rebuilt, c)?;
            Some(CheckedCheckpoint {
                size: c.size,
                at: c.at.clone(),
                made_by: c.made_by.clone(),
            })
        }
    };
    let clock_anomalies: i64 = conn.query_row(
        "SELECT count(*) FROM alerts WHERE rule = ?1",
        [super::alerts::Rule::ClockAnomaly.name()],
        |r| r.get(0),
    )?;
    Ok(TrailReport {
        events: size,
        archived,
        root: crypto::hex(&tree::root(&rebuilt, size)?),
        checkpoints: checkpoints.len() as u64,
        against,
        clock_anomalies: clock_anomalies as u64,
    })
}

/// Leaves of archived events: only their hashes remain, at level 0.
fn push_archived_leaves(conn: &Connection, rebuilt: &mut Rebuilt) -> Result<u64> {
    let mut stmt =
        conn.prepare("SELECT idx, hash FROM audit_nodes WHERE level = 0 ORDER BY idx")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let idx: i64 = r.get(0)?;
        if idx as u64 != rebuilt.len() {
            return Err(Error::tampered(format!(
                "the hash of archived audit event {} is missing",
                rebuilt.len() + 1
            )));
        }
        rebuilt.push(tree::to_hash(r.get(1)?)?);
    }
    Ok(rebuilt.len())
}

/// Recompute each live event's leaf from its fields and check it against
/// the stored one: an edited, inserted, deleted or reordered event shows
/// up here as the first event that does not fit.
fn push_live_events(conn: &Connection, rebuilt: &mut Rebuilt) -> Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM audit_events ORDER BY seq",
        super::RECORD_COLUMNS
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let expected = rebuilt.len() as i64 + 1;
        if seq != expected {
            return Err(Error::tampered(format!(
                "audit event {expected} is missing from the trail (deleted)"
            )));
        }
        // A value of the wrong type was written outside Kinko.
        let e = super::event_from_row(r)
            .map_err(|_| Error::tampered(format!("audit event {seq} is not well-formed")))?;
        let leaf = tree::leaf_hash(&e.leaf_bytes(seq));
        let stored: Vec<u8> = r
            .get(8)
            .map_err(|_| Error::tampered(format!("audit event {seq} has no valid hash")))?;
        if stored != leaf {
            return Err(Error::tampered(format!(
                "audit event {seq} was changed, inserted or moved (it does not match its hash)"
            )));
        }
        rebuilt.push(leaf);
    }
    Ok(())
}

/// The stored perfect subtrees must be exactly the rebuilt ones.
fn compare_stored_nodes(conn: &Connection, rebuilt: &Rebuilt) -> Result<()> {
    let mut stmt = conn
        .prepare("SELECT level, idx, hash FROM audit_nodes WHERE level > 0 ORDER BY level, idx")?;
    let mut rows = stmt.query([])?;
    let mut expected = rebuilt
        .levels
        .iter()
        .enumerate()
        .skip(1)
        .flat_map(|(level, row)| row.iter().enumerate().map(move |(i, h)| (level, i, h)));
    let span = |level: usize, idx: usize| {
        let first = (idx << level) + 1;
        format!("audit events {}–{}", first, first + (1 << level) - 1)
    };
    loop {
        let stored = rows.next()?;
        match (stored, expected.next()) {
            (None, None) => return Ok(()),
            (Some(r), Some((level, idx, hash))) => {
                let (l, i): (i64, i64) = (r.get(0)?, r.get(1)?);
                let h: Vec<u8> = r.get(2)?;
                if l as usize != level || i as usize != idx || h != hash.to_vec() {
                    return Err(Error::tampered(format!(
                        "the audit tree over {} does not match the events",
                        span(level, idx)
                    )));
                }
            }
            (None, Some((level, idx, _))) => {
                return Err(Error::tampered(format!(
                    "the audit tree lacks its node over {}",
                    span(level, idx)
                )))
            }
            (Some(_), None) => {
                return Err(Error::tampered(
                    "the audit tree has nodes beyond its last event (events were deleted)",
                ))
            }
        }
    }
}

/// The trail now must extend the kept checkpoint's tree: an RFC 6962
/// consistency proof from its size to the current size, built from the
/// rebuilt tree and checked with `ct-merkle`'s verifier (what a bureau
/// would check, holding only the two roots).
fn check_extends(rebuilt: &Rebuilt, c: &Checkpoint) -> Result<()> {
    let size = rebuilt.len();
    if c.size == 0 || c.size == size {
        return Ok(());
    }
    let proof = tree::consistency_proof(rebuilt, c.size, size)?;
    let now = tree::root(rebuilt, size)?;
    if tree::verify_consistency(&c.root_hash()?, c.size, &now, size, &proof) {
        Ok(())
    } else {
        Err(Error::tampered(format!(
            "the trail does not extend the kept checkpoint of {}",
            c.at
        )))
    }
}

/// A kept checkpoint must be signed by this vault's audit key.
fn check_kept(conn: &Connection, vault_id: &str, c: &Checkpoint) -> Result<()> {
    if c.vault_id != vault_id {
        return Err(Error::invalid(format!(
            "the checkpoint is of vault {}, not of this vault ({vault_id})",
            c.vault_id
        )));
    }
    if c.public_key_bytes()? != meta(conn, "audit_public")? {
        return Err(Error::tampered(
            "the checkpoint was signed with a different audit key than this vault's (the key was replaced)",
        ));
    }
    // Its signature is checked with the root, in `check_against`.
    Ok(())
}

/// The rebuilt tree must hold the checkpoint's events, with its root.
fn check_against(rebuilt: &Rebuilt, c: &Checkpoint, which: &str) -> Result<()> {
    c.check_signature()?;
    let size = rebuilt.len();
    if c.size > size {
        return Err(Error::tampered(format!(
            "the vault holds {size} audit events but the {which} checkpoint of {} vouches for {}: \
             the vault was rolled back to an older copy or events were deleted",
            c.at, c.size
        )));
    }
    if tree::root(rebuilt, c.size)? != c.root_hash()? {
        return Err(Error::tampered(format!(
            "audit events 1–{} no longer match the {which} checkpoint of {} \
             (an event was edited, inserted, deleted or reordered)",
            c.size, c.at
        )));
    }
    Ok(())
}
