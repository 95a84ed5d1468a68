//! Retention (A3): events are kept at least `audit.retention_days` (365 or
//! more; the setting can only be raised). Older events may be archived:
//! written to a signed archive file first, and only then dropped from the
//! vault. Their leaf hashes stay in the tree (level 0 of `audit_nodes`),
//! so the trail keeps verifying, and the archive file verifies on its own
//! (`kinko audit verify-archive`, no vault needed).

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::tree::{self, Hash, Nodes};
use super::Record;
use crate::crypto;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::policy::Policy;

pub const FORMAT: &str = "kinko-audit-archive";
pub const VERSION: u32 = 1;

/// An archive file: a run of events, the tree nodes to the left of them,
/// and a checkpoint (signed by the vault's audit key) of the tree that
/// ends with the last of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    pub first: i64,
    pub last: i64,
    /// The perfect subtrees covering events 1 to `first - 1`, as
    /// `(level, index, hex hash)`: enough to recompute the root.
    pub before: Vec<(u32, u64, String)>,
    pub events: Vec<Record>,
    pub checkpoint: Checkpoint,
}

/// What archiving did, or what verifying an archive found.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveSummary {
    pub vault_id: String,
    pub first: i64,
    pub last: i64,
    pub events: usize,
    pub checkpoint_at: String,
    /// SHA-256 of the audit key that signed it (compare with `kinko status`).
    pub key_fingerprint: String,
    pub file_sha256: String,
}

/// The oldest time an event may have and still be kept for sure.
pub fn cutoff(policy: &Policy, before: NaiveDate, now: DateTime<Utc>) -> String {
    let kept_from = now - Duration::days(policy.number("audit.retention_days") as i64);
    let asked = before
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    asked
        .min(kept_from)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Archive the events older than both `before` and the retention period
/// to `out`, then drop them. Runs inside the caller's transaction, so if
/// the file cannot be written nothing is dropped.
pub fn archive(
    conn: &Connection,
    signer: &crate::grant::Signer,
    root_key: &[u8],
    before: NaiveDate,
    now: DateTime<Utc>,
    out: &Path,
) -> Result<ArchiveSummary> {
    if out.exists() {
        return Err(Error::invalid(format!(
            "{} already exists; an archive is never written over a file",
            out.display()
        )));
    }
    // Nothing leaves the vault unchecked: an event edited in place would
    // otherwise be archived and dropped, and the damage with it.
    let (vault_id, made_by) = (signer.vault_id, signer.account);
    super::verify::verify_trail(conn, vault_id, root_key, None, None)?;
    let cutoff = cutoff(&Policy::load(conn)?, before, now);
    let (first, max): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT min(seq), max(seq) FROM audit_events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(first), Some(max)) = (first, max) else {
        return Err(Error::invalid("the audit trail holds no events to archive"));
    };
    if first < 1 {
        return Err(Error::tampered(
            "the audit trail's numbering was changed outside Kinko",
        ));
    }
    // The archived events are a prefix: up to the first event that is
    // not old enough, whatever the times after it say.
    let young: Option<i64> = conn.query_row(
        "SELECT min(seq) FROM audit_events WHERE at >= ?1",
        [&cutoff],
        |r| r.get(0),
    )?;
    let last = young.map_or(max, |y| y - 1);
    if last < first {
        return Err(Error::invalid(format!(
            "no audit events are older than {cutoff}: events younger than the retention period are kept"
        )));
    }
    let stored = tree::Stored(conn);
    let before_nodes = frontier(&stored, first as u64 - 1)?;
    let checkpoint = Checkpoint::make_at(conn, signer, last as u64)?;
    let events = super::query_range(conn, first, last)?;
    let file = Archive {
        format: FORMAT.into(),
        version: VERSION,
        vault_id: vault_id.into(),
        first,
        last,
        before: before_nodes
            .into_iter()
            .map(|(l, i, h)| (l, i, crypto::hex(&h)))
            .collect(),
        events,
        checkpoint,
    };
    let mut bytes = serde_json::to_vec(&file).expect("an archive serialises");
    bytes.push(b'\n');
    let summary = summarise(&file, &bytes)?;
    fsutil::write_atomic(out, &bytes)?;
    conn.execute(
        "INSERT INTO audit_nodes (level, idx, hash) SELECT 0, seq - 1, leaf FROM audit_events WHERE seq BETWEEN ?1 AND ?2",
        params![first, last],
    )?;
    conn.execute(
        "DELETE FROM audit_events WHERE seq BETWEEN ?1 AND ?2",
        params![first, last],
    )?;
    conn.execute(
        "INSERT INTO audit_archives (upto, from_seq, archived_at, archived_by, file_sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![last, first, super::now(), made_by, summary.file_sha256],
    )?;
    Ok(summary)
}

/// Where the perfect subtrees that make up the first `size` leaves sit,
/// left to right, as `(level, index)`.
fn frontier_positions(size: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for level in (0..64u32).rev() {
        if size & (1u64 << level) != 0 {
            out.push((level, start >> level));
            start += 1u64 << level;
        }
    }
    out
}

/// Those subtrees with their hashes.
fn frontier(nodes: &impl Nodes, size: u64) -> Result<Vec<(u32, u64, Hash)>> {
    frontier_positions(size)
        .into_iter()
        .map(|(level, idx)| {
            let h = nodes.node(level, idx)?.ok_or_else(|| {
                Error::tampered(format!(
                    "the audit tree lacks a node before event {}",
                    (idx << level) + 1
                ))
            })?;
            Ok((level, idx, h))
        })
        .collect()
}

fn summarise(a: &Archive, bytes: &[u8]) -> Result<ArchiveSummary> {
    Ok(ArchiveSummary {
        vault_id: a.vault_id.clone(),
        first: a.first,
        last: a.last,
        events: a.events.len(),
        checkpoint_at: a.checkpoint.at.clone(),
        key_fingerprint: crypto::hex(&crypto::sha256(&a.checkpoint.public_key_bytes()?)),
        file_sha256: crypto::hex(&crypto::sha256(bytes)),
    })
}

/// Check an archive file on its own: every event matches its hash, the
/// hashes and the subtrees before them give the root of its checkpoint,
/// and the checkpoint's signature holds. The signature proves the file
/// came from the holder of the key it names: pass the vault's audit key
/// fingerprint (`kinko status`) as `key` to prove it is that vault's.
pub fn verify_archive(bytes: &[u8], key: Option<&str>) -> Result<ArchiveSummary> {
    let a: Archive = serde_json::from_slice(bytes)
        .map_err(|_| Error::invalid("the file is not a Kinko audit archive"))?;
    if a.format != FORMAT {
        return Err(Error::invalid("the file is not a Kinko audit archive"));
    }
    if a.version != VERSION {
        return Err(Error::Unsupported(format!(
            "audit archive version {}",
            a.version
        )));
    }
    a.checkpoint.check_signature()?;
    let summary = summarise(&a, bytes)?;
    if let Some(expected) = key {
        if !expected
            .trim()
            .eq_ignore_ascii_case(&summary.key_fingerprint)
        {
            return Err(Error::tampered(format!(
                "the archive was signed with key {}, not with {}",
                summary.key_fingerprint,
                expected.trim()
            )));
        }
    }
    let count = a.events.len() as i64;
    let well_formed = a.first >= 1
        && a.last < 1 << 48
        && a.first.checked_add(count - 1) == Some(a.last)
        && a.checkpoint.vault_id == a.vault_id
        && a.checkpoint.size == a.last as u64;
    if !well_formed {
        return Err(Error::tampered(
            "the archive's events and its checkpoint do not match (events missing or added)",
        ));
    }
    let positions: Vec<(u32, u64)> = a.before.iter().map(|(l, i, _)| (*l, *i)).collect();
    if positions != frontier_positions(a.first as u64 - 1) {
        return Err(Error::tampered(
            "the archive's subtrees before its first event are not where they belong",
        ));
    }
    let mut leaves = Vec::with_capacity(a.events.len());
    for (r, seq) in a.events.iter().zip(a.first..) {
        if r.seq != seq {
            return Err(Error::tampered(format!(
                "archived audit event {seq} is missing or out of order"
            )));
        }
        let leaf = tree::leaf_hash(&r.event.leaf_bytes(seq));
        if crypto::hex(&leaf) != r.leaf {
            return Err(Error::tampered(format!(
                "archived audit event {seq} was changed (it does not match its hash)"
            )));
        }
        leaves.push(leaf);
    }
    let mut before = HashMap::new();
    for (level, idx, hex) in &a.before {
        let bytes = data_encoding::HEXLOWER
            .decode(hex.as_bytes())
            .map_err(|_| Error::tampered("an archived tree hash is not hex"))?;
        before.insert((*level, *idx), tree::to_hash(bytes)?);
    }
    let partial = Partial {
        before,
        first_idx: a.first as u64 - 1,
        leaves: &leaves,
    };
    if tree::root(&partial, a.last as u64)? != a.checkpoint.root_hash()? {
        return Err(Error::tampered(
            "the archived events do not give the root of the archive's signed checkpoint",
        ));
    }
    Ok(summary)
}

/// A tree known only by the subtrees left of a run of leaves, and the run.
struct Partial<'a> {
    before: HashMap<(u32, u64), Hash>,
    first_idx: u64,
    leaves: &'a [Hash],
}

impl Nodes for Partial<'_> {
    /// A subtree wholly before the run comes only from `before`; one
    /// within it only from the leaves; one across the edge from both.
    fn node(&self, level: u32, idx: u64) -> Result<Option<Hash>> {
        if level >= 48 {
            return Ok(None);
        }
        let start = idx << level;
        let end = start + (1u64 << level);
        if end <= self.first_idx {
            return Ok(self.before.get(&(level, idx)).copied());
        }
        if end > self.first_idx + self.leaves.len() as u64 {
            return Ok(None);
        }
        if level == 0 {
            return Ok(self.leaves.get((start - self.first_idx) as usize).copied());
        }
        let Some(left) = self.node(level - 1, 2 * idx)? else {
            return Ok(None);
        };
        let Some(right) = self.node(level - 1, 2 * idx + 1)? else {
            return Ok(None);
        };
        Ok(Some(tree::parent_hash(&left, &right)))
    }
}
