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
    /// Live events signed by people the officer certified, each vouched
    /// for by its signer: by its own signature or by that of their later
    /// event, which covers it through their chain (`event::chain_digest`).
    pub signed: u64,
    /// Signatures checked against certificates: the last event of each
    /// signer's chain.
    pub signatures_checked: u64,
    /// Events written before the vault's upgrade to signed events (schema
    /// 2), which carry no signature.
    pub unsigned_before_upgrade: u64,
    /// Events of people the officer had not yet certified (setting their
    /// own credentials): signed by keys no certificate names yet.
    pub uncertified: u64,
    /// Events this person had verified before (their terminal remembers
    /// the head), found under the same root again.
    pub verified_before: u64,
    /// On a vault an office server holds: its terminals, matched with the
    /// signed approvals (`terminal_approval.rs`).
    pub terminals: Option<crate::terminal_approval::TerminalsChecked>,
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
/// `verified` is the head up to which this person verified the trail
/// before (their terminal remembers it, `witness.rs`): the rebuilt tree
/// must still have that root over those events, so none of them changed.
pub fn verify_trail(
    conn: &Connection,
    vault_id: &str,
    root_key: &[u8],
    kept: Option<&Checkpoint>,
    verified: Option<&tree::Head>,
) -> Result<TrailReport> {
    let mut rebuilt = Rebuilt::default();
    let archived = push_archived_leaves(conn, &mut rebuilt)?;
    let mut signatures = Signatures::new(conn, vault_id, root_key, archived > 0);
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
        signatures_checked: signatures.checked,
        unsigned_before_upgrade: signatures.unsigned,
        uncertified: signatures.uncertified,
        verified_before: verified.map_or(0, |h| h.size),
        terminals: None,
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
        "SELECT {}, signer, signer_serial, signature, signer_previous FROM audit_events ORDER BY seq",
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
        let signed = stored_signature(r)
            .map_err(|_| Error::tampered(format!("audit event {seq} has a damaged signature")))?;
        let serial = signed.serial;
        signatures.check(seq, &e, &leaf, signed)?;
        signatures.note_revocations(seq, &e, serial)?;
        rebuilt.push(leaf);
    }
    Ok(())
}

/// [`push_events`], and every signer's chain checked: a fault found first
/// in the events still yields to a bad signature of an earlier event.
fn push_live_events(
    conn: &Connection,
    rebuilt: &mut Rebuilt,
    signatures: &mut Signatures,
) -> Result<()> {
    let pushed = push_events(conn, rebuilt, signatures);
    signatures.finish()?;
    pushed?;
    crate::revocation::check_recorded(conn, &signatures.revoked, signatures.archived)
}

/// What an event's signature columns hold: signer, serial, signature and
/// the chain digest of the signer's previous event.
struct StoredSignature {
    signer: Option<String>,
    serial: Option<i64>,
    signature: Option<Vec<u8>>,
    previous: Option<Vec<u8>>,
}

/// The signature columns of a row that selected them after
/// [`super::RECORD_COLUMNS`].
fn stored_signature(r: &rusqlite::Row) -> rusqlite::Result<StoredSignature> {
    Ok(StoredSignature {
        signer: r.get(9)?,
        serial: r.get(10)?,
        signature: r.get(11)?,
        previous: r.get(12)?,
    })
}

/// Each event must be signed by someone who may sign it (the person who
/// acted; see `event::may_sign`), under a valid certificate of theirs.
/// A certified signer's events form a chain (each signs the digest of the
/// one before): the chain is followed through every event and the last
/// event's signature is checked, which vouches for all before it, since
/// every appender checked its own previous event before linking to it
/// (`audit::previous_link`). Only a vault upgraded from schema 2 has
/// unsigned events, and then only before the officer's `vault.upgrade`.
struct Signatures<'a> {
    certificates: Certificates<'a>,
    /// Events were archived: a chain may begin before the live trail.
    archived: bool,
    /// Each certified signer's chain so far.
    chains: std::collections::BTreeMap<String, Chain>,
    signed: u64,
    checked: u64,
    unsigned: u64,
    uncertified: u64,
    /// Certificates revoked so far: serial → the revoking event, the
    /// account and what the event says was kept.
    revoked: std::collections::HashMap<i64, (i64, String, crate::revocation::Named)>,
}

/// A signer's chain: the digest their next event must link to, and their
/// last event, whose signature is checked at the end.
struct Chain {
    digest: [u8; 32],
    last: Pending,
}

/// One event's signature, to be checked.
struct Pending {
    seq: i64,
    serial: i64,
    message: Vec<u8>,
    signature: Vec<u8>,
    /// What to say if it does not hold.
    problem: String,
}

/// Certificates by serial, each checked against the root once.
struct Certificates<'a> {
    conn: &'a Connection,
    vault_id: &'a str,
    root_key: &'a [u8],
    known: std::collections::HashMap<i64, (String, crypto::EcdsaPublic, crate::permission::Roles)>,
}

impl Certificates<'_> {
    /// The signing key of certificate `serial`, which must be `signer`'s.
    fn key_of(&mut self, serial: i64, signer: &str, problem: &str) -> Result<&crypto::EcdsaPublic> {
        if !self.known.contains_key(&serial) {
            let cert = crate::cert::by_serial(self.conn, self.vault_id, self.root_key, serial)?;
            let key = crypto::EcdsaPublic::parse(&cert.sign_public).ok_or_else(|| {
                Error::tampered(format!("{problem}: its certificate has a damaged key"))
            })?;
            self.known
                .insert(serial, (cert.body.account.clone(), key, cert.roles.clone()));
        }
        let (account, key, _) = &self.known[&serial];
        if account != signer {
            return Err(Error::tampered(format!(
                "{problem}: it names a certificate of {account}, not of {signer}"
            )));
        }
        Ok(key)
    }
}

impl<'a> Signatures<'a> {
    fn new(conn: &'a Connection, vault_id: &'a str, root_key: &'a [u8], archived: bool) -> Self {
        Signatures {
            certificates: Certificates {
                conn,
                vault_id,
                root_key,
                known: Default::default(),
            },
            archived,
            chains: Default::default(),
            signed: 0,
            checked: 0,
            unsigned: 0,
            uncertified: 0,
            revoked: Default::default(),
        }
    }

    /// A reset, a disabling or a new certificate revokes the account's
    /// earlier certificates: nothing may be signed under them after it.
    /// Only someone whose certified roles allow the action revokes.
    fn note_revocations(&mut self, seq: i64, e: &super::Event, serial: Option<i64>) -> Result<()> {
        use crate::permission::Action;
        let action = [Action::AccountManage, Action::AccountCertify]
            .into_iter()
            .find(|a| a.event() == e.event);
        let (Some(action), Some(account)) = (action, e.object.strip_prefix("account:")) else {
            return Ok(());
        };
        if e.outcome != super::event::OK {
            return Ok(());
        }
        let Some(named) = crate::revocation::named_in(&e.detail) else {
            return Ok(());
        };
        let entitled = serial
            .and_then(|s| self.certificates.known.get(&s))
            .is_some_and(|(_, _, roles)| roles.allow(action));
        if !entitled {
            return Err(Error::tampered(format!(
                "audit event {seq} revokes a certificate but was not signed by someone entitled to {} (written outside Kinko)",
                e.event
            )));
        }
        for n in named {
            self.revoked.insert(n.serial, (seq, account.to_string(), n));
        }
        Ok(())
    }

    /// Check the last signature of every chain; the lowest event whose
    /// signature does not hold is named.
    fn finish(&mut self) -> Result<()> {
        let mut bad: Option<&Pending> = None;
        for chain in self.chains.values() {
            let p = &chain.last;
            let (_, key, _) = &self.certificates.known[&p.serial];
            self.checked += 1;
            if !key.verify(&p.message, &p.signature) && bad.is_none_or(|b| p.seq < b.seq) {
                bad = Some(p);
            }
        }
        match bad {
            Some(p) => Err(Error::tampered(p.problem.clone())),
            None => Ok(()),
        }
    }

    /// Has a signed event gone before (after which every one is signed)?
    fn any_signed(&self) -> bool {
        self.signed + self.uncertified > 0
    }

    fn check(
        &mut self,
        seq: i64,
        e: &super::Event,
        leaf: &tree::Hash,
        stored: StoredSignature,
    ) -> Result<()> {
        let problem = |why: &str| {
            format!(
                "audit event {seq} ({} by {}) {why} (written or changed outside Kinko)",
                e.event, e.actor
            )
        };
        let forged = |why: &str| Error::tampered(problem(why));
        let StoredSignature {
            signer: Some(signer),
            serial,
            signature: Some(signature),
            previous,
        } = stored
        else {
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
            if !signed_while_uncertified(&signer, e) {
                return Err(forged("was signed by keys the officer has not certified"));
            }
            self.uncertified += 1;
            return Ok(());
        };
        self.certificates
            .key_of(serial, &signer, &problem("is signed"))?;
        if let Some((revoked_at, _, _)) = self.revoked.get(&serial) {
            return Err(forged(&format!(
                "is signed with certificate {serial}, which audit event {revoked_at} had revoked"
            )));
        }
        let expected = self.chains.get(&signer).map(|c| c.digest);
        let follows = match (&expected, &previous) {
            (Some(d), Some(p)) => d[..] == p[..],
            (None, None) => true,
            // The signer's earlier events were archived.
            (None, Some(_)) => self.archived,
            (Some(_), None) => false,
        };
        if !follows {
            return Err(forged(&format!(
                "does not follow the previous event signed by {signer} (one of theirs before it was changed, moved or deleted)"
            )));
        }
        let message = super::event::signed_bytes(
            self.certificates.vault_id,
            leaf,
            &signer,
            Some(serial),
            previous.as_deref(),
        );
        let digest = super::event::chain_digest(&message);
        let last = Pending {
            seq,
            serial,
            message,
            signature,
            problem: problem(&format!("does not carry a valid signature of {signer}")),
        };
        self.chains.insert(signer, Chain { digest, last });
        self.signed += 1;
        Ok(())
    }
}

/// Keys nobody certified yet sign only the setting of one's own
/// credentials (a first sign-in, a password, a second factor) and the
/// refusals of anything else.
fn signed_while_uncertified(signer: &str, e: &super::Event) -> bool {
    let credentials = e.event == "session.signin"
        || e.outcome != super::OK
        || crate::permission::Action::ALL
            .iter()
            .any(|a| a.event() == e.event && a.while_restricted());
    credentials && signer == e.actor
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
    let (e, leaf, stored): (super::Event, Vec<u8>, StoredSignature) = conn.query_row(
        &format!(
            "SELECT {}, signer, signer_serial, signature, signer_previous FROM audit_events WHERE seq = ?1",
            super::RECORD_COLUMNS
        ),
        [seq],
        |r| Ok((super::event_from_row(r)?, r.get(8)?, stored_signature(r)?)),
    )?;
    let computed = tree::leaf_hash(&e.leaf_bytes(seq));
    let not_entitled = || {
        Error::tampered(format!(
            "audit event {seq} ({}) was not signed by someone entitled to it",
            e.event
        ))
    };
    if leaf != computed {
        return Err(Error::tampered(format!(
            "audit event {seq} was changed, inserted or moved (it does not match its hash)"
        )));
    }
    let (Some(signer), Some(serial), Some(signature)) =
        (stored.signer, stored.serial, stored.signature)
    else {
        return Err(not_entitled());
    };
    let cert = crate::cert::by_serial(conn, vault_id, root_key, serial)?;
    let message = super::event::signed_bytes(
        vault_id,
        &computed,
        &signer,
        Some(serial),
        stored.previous.as_deref(),
    );
    let vouched = signer == e.actor
        && cert.vouches(&signer, |roles| roles.allow(action), &message, &signature);
    if !vouched {
        return Err(not_entitled());
    }
    // A key kept past its certificate's revocation signs nothing after it.
    if let Some(r) = crate::revocation::revoked_before(conn, serial, &signer, seq)? {
        return Err(Error::tampered(format!(
            "audit event {seq} ({}) is signed with certificate {serial}, which audit event {r} had revoked",
            e.event
        )));
    }
    Ok(e)
}
