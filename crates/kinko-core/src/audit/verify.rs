//! Verifying the audit trail (A2): recompute every leaf from its event,
//! rebuild the tree, compare it with the stored nodes and every signed
//! checkpoint, and, given a checkpoint kept apart, prove the trail still
//! extends it. The first thing that does not fit is named.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::tree::{self, Rebuilt};
use crate::crypto;
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
    /// Live events whose signature was checked against the certificate of
    /// the person who signed them.
    pub signed: u64,
    /// Events written before the vault's upgrade to signed events (schema
    /// 2), which carry no signature.
    pub unsigned_before_upgrade: u64,
    /// Events of people the officer had not yet certified (setting their
    /// own credentials): signed by keys no certificate names yet.
    pub uncertified: u64,
    /// Events whose signatures this person had checked before (their
    /// terminal remembers the head), covered now by the tree's root.
    pub verified_before: u64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckedCheckpoint {
    pub size: u64,
    pub at: String,
    pub made_by: String,
}

/// Recompute and check everything; `kept` is a checkpoint file kept apart.
///
/// `verified` is the head up to which this person already checked every
/// event's signature (their terminal remembers it, `witness.rs`): those
/// events' signatures are not checked again, but the rebuilt tree must
/// still have that root over them, so none of them changed since.
pub fn verify_trail(
    conn: &Connection,
    vault_id: &str,
    root_key: &[u8],
    kept: Option<&Checkpoint>,
    verified: Option<&tree::Head>,
) -> Result<TrailReport> {
    let mut rebuilt = Rebuilt::default();
    let archived = push_archived_leaves(conn, &mut rebuilt)?;
    let mut signatures = Signatures::new(conn, vault_id, root_key);
    signatures.checked_before = verified.map_or(0, |h| h.size);
    push_live_events(conn, &mut rebuilt, &mut signatures)?;
    if let Some(h) = verified {
        let same = h.size <= rebuilt.len() && crypto::hex(&tree::root(&rebuilt, h.size)?) == h.root;
        if !same {
            return Err(Error::tampered(format!(
                "audit events 1–{} are no longer the ones you verified before                  (an event was edited, inserted, deleted or the vault put back to an earlier copy)",
                h.size
            )));
        }
    }
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
        c.check_signer(conn, vault_id, root_key)?;
        check_against(&rebuilt, c, "stored")?;
    }
    let against = match kept {
        None => None,
        Some(c) => {
            check_kept(conn, vault_id, root_key, c)?;
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
        signed: signatures.signed,
        unsigned_before_upgrade: signatures.unsigned,
        uncertified: signatures.uncertified,
        verified_before: signatures.checked_before.min(size),
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
fn push_events(
    conn: &Connection,
    rebuilt: &mut Rebuilt,
    signatures: &mut Signatures,
) -> Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {}, signer, signer_serial, signature FROM audit_events ORDER BY seq",
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
        let signed = (|| Ok::<_, rusqlite::Error>((r.get(9)?, r.get(10)?, r.get(11)?)))()
            .map_err(|_| Error::tampered(format!("audit event {seq} has a damaged signature")))?;
        signatures.check(seq, &e, &leaf, signed)?;
        rebuilt.push(leaf);
    }
    Ok(())
}

/// [`push_events`], and every signature checked: a fault found first in
/// the events still yields to a bad signature of an earlier event.
fn push_live_events(
    conn: &Connection,
    rebuilt: &mut Rebuilt,
    signatures: &mut Signatures,
) -> Result<()> {
    let pushed = push_events(conn, rebuilt, signatures);
    signatures.finish()?;
    pushed
}

/// Each event must be signed by someone who may sign it (the person who
/// acted; see `event::may_sign`), under a valid certificate of theirs.
/// Only a vault upgraded from schema 2 has unsigned events, and then only
/// before the officer's signed `vault.upgrade`.
struct Signatures<'a> {
    conn: &'a Connection,
    vault_id: &'a str,
    root_key: &'a [u8],
    /// Certificates already checked, by serial: (account, public key).
    known: std::collections::HashMap<i64, (String, crypto::EcdsaPublic)>,
    signed: u64,
    unsigned: u64,
    uncertified: u64,
    /// Events up to this number were checked in an earlier verify.
    checked_before: u64,
    /// Signed events among those, not checked again.
    skipped: u64,
    /// Signatures still to check, in order (checked in batches, on every
    /// core: a million events' signatures take most of a full verify).
    pending: Vec<Pending>,
}

/// One event's signature, to be checked in the next batch.
struct Pending {
    seq: i64,
    serial: i64,
    message: Vec<u8>,
    signature: Vec<u8>,
    /// What to say if it does not hold.
    problem: String,
}

/// How many signatures are checked together.
const BATCH: usize = 4096;

type StoredSignature = (Option<String>, Option<i64>, Option<Vec<u8>>);

impl<'a> Signatures<'a> {
    fn new(conn: &'a Connection, vault_id: &'a str, root_key: &'a [u8]) -> Self {
        Signatures {
            conn,
            vault_id,
            root_key,
            known: Default::default(),
            signed: 0,
            unsigned: 0,
            uncertified: 0,
            checked_before: 0,
            skipped: 0,
            pending: Vec::new(),
        }
    }

    /// Check the signatures still pending; the first (lowest) event
    /// whose signature does not hold is named.
    fn finish(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.pending);
        if batch.is_empty() {
            return Ok(());
        }
        let known = &self.known;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let part = batch.len().div_ceil(threads);
        let bad = std::thread::scope(|scope| {
            let workers: Vec<_> = batch
                .chunks(part)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .find(|p| !known[&p.serial].1.verify(&p.message, &p.signature))
                    })
                })
                .collect();
            workers
                .into_iter()
                .filter_map(|w| w.join().expect("a signature check does not panic"))
                .min_by_key(|p| p.seq)
        });
        match bad {
            Some(p) => Err(Error::tampered(p.problem.clone())),
            None => Ok(()),
        }
    }

    /// Has a signed event gone before (after which every one is signed)?
    fn any_signed(&self) -> bool {
        self.signed + self.uncertified + self.skipped > 0
    }

    fn check(
        &mut self,
        seq: i64,
        e: &super::Event,
        leaf: &tree::Hash,
        (signer, serial, signature): StoredSignature,
    ) -> Result<()> {
        if (seq as u64) <= self.checked_before {
            // Still counted, so the upgrade rule holds for what follows.
            match signature {
                None => self.unsigned += 1,
                Some(_) => self.skipped += 1,
            }
            return Ok(());
        }
        let problem = |why: &str| {
            format!(
                "audit event {seq} ({} by {}) {why} (written or changed outside Kinko)",
                e.event, e.actor
            )
        };
        let forged = |why: &str| Error::tampered(problem(why));
        let (Some(signer), Some(signature)) = (signer, signature) else {
            // Before the upgrade nothing was signed; after it, everything.
            if self.any_signed() {
                return Err(forged("carries no signature"));
            }
            self.unsigned += 1;
            return Ok(());
        };
        if self.unsigned > 0 && !self.any_signed() && e.event != "vault.upgrade" {
            return Err(forged(
                "follows unsigned events but is not the vault's upgrade",
            ));
        }
        if !super::event::may_sign(&signer, e) {
            return Err(forged(&format!("was signed by {signer}, who did not act")));
        }
        let Some(serial) = serial else {
            // Keys nobody certified yet sign only the setting of one's own
            // credentials (a first sign-in, a password, a second factor)
            // and the refusals of anything else.
            let credentials = e.event == "session.signin"
                || e.outcome != super::OK
                || crate::permission::Action::ALL
                    .iter()
                    .any(|a| a.event() == e.event && a.while_restricted());
            if !credentials || signer != e.actor {
                return Err(forged("was signed by keys the officer has not certified"));
            }
            self.uncertified += 1;
            return Ok(());
        };
        if !self.known.contains_key(&serial) {
            let cert = crate::cert::by_serial(self.conn, self.vault_id, self.root_key, serial)?;
            let key = crypto::EcdsaPublic::parse(&cert.sign_public)
                .ok_or_else(|| forged("names a certificate with a damaged key"))?;
            self.known.insert(serial, (cert.body.account.clone(), key));
        }
        let problem = problem(&format!("does not carry a valid signature of {signer}"));
        if self.known[&serial].0 != signer {
            return Err(Error::tampered(problem));
        }
        self.pending.push(Pending {
            seq,
            serial,
            message: super::event::signed_bytes(self.vault_id, leaf, &signer, Some(serial)),
            signature,
            problem,
        });
        if self.pending.len() >= BATCH {
            self.finish()?;
        }
        self.signed += 1;
        Ok(())
    }
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

/// A kept checkpoint must be this vault's, signed by someone entitled to
/// (`Checkpoint::check_signer`).
fn check_kept(conn: &Connection, vault_id: &str, root_key: &[u8], c: &Checkpoint) -> Result<()> {
    if c.vault_id != vault_id {
        return Err(Error::invalid(format!(
            "the checkpoint is of vault {}, not of this vault ({vault_id})",
            c.vault_id
        )));
    }
    // Its signature is checked with the root, in `check_against`.
    c.check_signer(conn, vault_id, root_key)
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

/// Event `seq` as stored, if its fields match its leaf and it carries a
/// valid signature of someone whose certified roles allow `action`: one
/// event's word, checked on its own (a restore a person is told of).
pub(crate) fn entitled_event(
    conn: &Connection,
    vault_id: &str,
    root_key: &[u8],
    seq: i64,
    action: crate::permission::Action,
) -> Result<super::Event> {
    let (e, leaf, signed): (super::Event, Vec<u8>, StoredSignature) = conn.query_row(
        &format!(
            "SELECT {}, signer, signer_serial, signature FROM audit_events WHERE seq = ?1",
            super::RECORD_COLUMNS
        ),
        [seq],
        |r| {
            Ok((
                super::event_from_row(r)?,
                r.get(8)?,
                (r.get(9)?, r.get(10)?, r.get(11)?),
            ))
        },
    )?;
    let computed = tree::leaf_hash(&e.leaf_bytes(seq));
    if leaf != computed {
        return Err(Error::tampered(format!(
            "audit event {seq} was changed, inserted or moved (it does not match its hash)"
        )));
    }
    let serial = signed.1;
    // On its own: as if signed events went before (it must be signed).
    let mut one = Signatures::new(conn, vault_id, root_key);
    one.skipped = 1;
    one.check(seq, &e, &computed, signed)?;
    one.finish()?;
    let cert = serial
        .map(|s| crate::cert::by_serial(conn, vault_id, root_key, s))
        .transpose()?;
    let entitled = cert.is_some_and(|c| {
        c.body.account == e.actor
            && c.roles
                .0
                .iter()
                .any(|r| crate::permission::allows(*r, action))
    });
    if !entitled {
        return Err(Error::tampered(format!(
            "audit event {seq} ({}) was not signed by someone entitled to it",
            e.event
        )));
    }
    Ok(e)
}
