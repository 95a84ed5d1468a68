//! The audit trail (A1–A6): an append-only table of events, each a leaf of
//! an RFC 6962 Merkle tree ([`tree`]) whose roots are signed as
//! checkpoints by the vault's audit key ([`checkpoint`]). Every action
//! writes its event inside its own transaction, so an action whose event
//! cannot be written does not happen. Each event is also run past the
//! alert rules ([`alerts`]) in that same transaction.
//!
//! Sign-in failures happen before the database can be opened (its key is
//! in the slot the password failed to open), so they are sealed with HPKE
//! to the vault's inbox key and written to `inbox/`; the next sign-in moves
//! them into the trail. Nobody without the database can read them.
//!
//! Events name people by account ID and documents by number: titles,
//! names and file names never enter the trail, and an ID typed at a failed
//! sign-in that belongs to no account is never written at all, not even
//! sealed in the inbox (it may be a password typed into the wrong box):
//! the attempt is sealed as `unknown`. Inbox files of earlier releases
//! that hold the typed text are kept only as a keyed hash.

pub mod alerts;
pub mod checkpoint;
mod event;
pub mod report;
pub mod retention;
pub mod tree;
pub mod verify;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, Wrapped};
use crate::error::{Error, Result};
use crate::fsutil;

pub use event::{
    chain_digest, now, outcome_of, signed_bytes, Event, EventSigner, Record, DENIED, FAILED, OK,
    SYSTEM, TAMPERED,
};

/// How many events the trail holds (archived ones included): the size of
/// the tree.
pub fn size(conn: &Connection) -> Result<u64> {
    let live: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM audit_events")?
        .query_row([], |r| r.get(0))?;
    let archived: Option<i64> = conn
        .prepare_cached("SELECT max(idx) + 1 FROM audit_nodes WHERE level = 0")?
        .query_row([], |r| r.get(0))?;
    checked_size(live.or(archived).unwrap_or(0))
}

/// A size read from the database, refused if no append could have made it.
fn checked_size(size: i64) -> Result<u64> {
    if !(0..1 << 48).contains(&size) {
        return Err(Error::tampered(format!(
            "the audit trail's numbering ({size}) was changed outside Kinko"
        )));
    }
    Ok(size as u64)
}

/// The size the trail had at its last append, kept apart from the events
/// so that events cut off its end are noticed even when no subtree
/// covers them.
pub fn recorded_size(conn: &Connection) -> Result<Option<u64>> {
    let v: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'audit_size'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    v.map(|b| {
        let b: [u8; 8] = b
            .try_into()
            .map_err(|_| Error::tampered("the recorded size of the audit trail is damaged"))?;
        Ok(u64::from_be_bytes(b))
    })
    .transpose()
}

/// Append one event to the trail and the tree, and run it past the alert
/// rules. Call inside the action's transaction: if anything here fails,
/// the action fails with it (fail closed).
pub fn append(conn: &Connection, e: &Event, by: &EventSigner) -> Result<i64> {
    let written = insert(conn, e, by);
    written.map_err(|err| match err {
        Error::Tampered(_) => err,
        other => Error::AuditWrite(other.to_string()),
    })
}

fn insert(conn: &Connection, e: &Event, by: &EventSigner) -> Result<i64> {
    // The last event gives both the size and the time to compare the
    // clock with; only a trail whose live events were all archived needs
    // the tree's leaves.
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, at FROM audit_events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let size = match &last {
        Some((seq, _)) => checked_size(*seq)?,
        None => size(conn)?,
    };
    let previous_at = last.map(|(_, at)| at);
    if let Some(recorded) = recorded_size(conn)?.filter(|r| *r != size) {
        // Events were cut off the end (or added) outside Kinko. Appending
        // would paper over it, so the damage is noted for good first, and
        // `audit verify` reports it as tampering from then on.
        conn.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES ('audit_damage', ?1)")?.execute([format!(
                "the trail held {size} events where {recorded} were recorded (events were deleted or added outside Kinko)"
            )
            .into_bytes()],
        )?;
    }
    let seq = size as i64 + 1;
    let leaf = tree::leaf_hash(&e.leaf_bytes(seq));
    // Signed by the person who acted, so nobody else can add, change or
    // move an event in their name without it showing (`verify`), and
    // linked to their previous event, which must be theirs.
    // A certificate revoked while this session was open (a reset, a new
    // certificate committed since its last check) signs nothing more:
    // the event is signed as by keys not certified, which `verify`
    // accepts only for a refusal or one's own credentials.
    let serial = match by.serial {
        // The appender's own serial: the row is enough (a deleted row of
        // one's own revocation still shows in `verify`, which refuses what
        // is signed after the revoking event), and the append path stays
        // one primary-key lookup.
        Some(s) if crate::revocation::has_row(conn, s)? => None,
        s => s,
    };
    let previous = previous_link(conn, by, serial)?;
    let message = event::signed_bytes(
        &by.vault_id,
        &leaf,
        &by.account,
        serial,
        previous.as_ref().map(|d| &d[..]),
    );
    let signature = by.key.sign(&message)?;
    conn.prepare_cached("INSERT INTO audit_events (seq, at, actor, event, object, outcome, terminal, detail, leaf, signer, signer_serial, signature, signer_previous)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")?.execute(params![
            seq,
            e.at,
            e.actor,
            e.event,
            e.object,
            e.outcome,
            e.terminal,
            e.detail,
            leaf.to_vec(),
            by.account,
            serial,
            signature,
            previous.map(|d| d.to_vec()),
        ],
    )?;
    if serial.is_some() {
        by.set_known(seq, event::chain_digest(&message));
    }
    tree::append(conn, seq as u64 - 1, leaf)?;
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('audit_size', ?1)
         ON CONFLICT(key) DO UPDATE SET value = ?1",
    )?
    .execute([(seq as u64).to_be_bytes().to_vec()])?;
    // The order of the trail is the order of the tree, whatever the clock
    // says; a clock that went back is itself worth an alert (A6).
    let clock_back = previous_at.filter(|p| e.at < *p);
    for raised in alerts::on_event(conn, seq, e, clock_back.as_deref())? {
        append(conn, &raised, by)?;
    }
    Ok(seq)
}

/// What a certified signer's next event links to: the chain digest of
/// their last certified event, once it is known to be theirs (signed or
/// checked by this signer before, or its signature checked now). Fail
/// closed: an event written in their name outside Kinko is never vouched
/// for by their next signature, and nothing they do is recorded until
/// the trail is put right.
fn previous_link(
    conn: &Connection,
    by: &EventSigner,
    serial_now: Option<i64>,
) -> Result<Option<[u8; 32]>> {
    if serial_now.is_none() {
        return Ok(None);
    }
    type Last = (i64, Vec<u8>, i64, Option<Vec<u8>>, Option<Vec<u8>>);
    let last: Option<Last> = conn
        .prepare_cached(
            "SELECT seq, leaf, signer_serial, signer_previous, signature FROM audit_events
             WHERE signer = ?1 AND signer_serial IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([&by.account], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .map_err(|_| {
            Error::tampered(format!(
                "the last audit event of {} is not well-formed (written outside Kinko)",
                by.account
            ))
        })?;
    let Some((seq, leaf, serial, previous, signature)) = last else {
        return Ok(None);
    };
    let message = event::signed_bytes(
        &by.vault_id,
        &tree::to_hash(leaf)?,
        &by.account,
        Some(serial),
        previous.as_deref(),
    );
    let digest = event::chain_digest(&message);
    if by.known() == Some((seq, digest)) {
        return Ok(Some(digest));
    }
    let signature = signature.unwrap_or_default();
    let theirs = if Some(serial) == serial_now {
        by.signed_by_me(&message, &signature)
    } else {
        let cert = crate::cert::by_serial(conn, &by.vault_id, &by.root_public, serial)?;
        cert.body.account == by.account
            && crypto::ecdsa_verify(&cert.sign_public, &message, &signature)
    };
    if !theirs {
        return Err(Error::tampered(format!(
            "audit event {seq} in the name of {} does not carry their signature (written or changed outside Kinko)",
            by.account
        )));
    }
    by.set_known(seq, digest);
    Ok(Some(digest))
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub event: Option<String>,
    pub object: Option<String>,
}

/// Read events matching `q`, oldest first.
pub fn query(conn: &Connection, q: &Query) -> Result<Vec<Record>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RECORD_COLUMNS} FROM audit_events
         WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at <= ?2)
           AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR event = ?4 OR event LIKE ?4 || '.%')
           AND (?5 IS NULL OR object = ?5)
         ORDER BY seq"
    ))?;
    let rows = stmt.query_map(
        params![q.since, q.until, q.actor, q.event, q.object],
        record_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn inbox_context(vault_id: &str) -> Vec<u8> {
    format!("kinko inbox v1\0{vault_id}").into_bytes()
}

#[derive(Serialize, Deserialize)]
struct InboxFile {
    enc: String,
    ciphertext: String,
}

/// The inbox key is public, so anyone who can write `inbox/` can seal an
/// event. Only what the inbox exists for is accepted: a failed sign-in by
/// a well-formed ID. It is dated when it happened (the time it claims,
/// also kept in its detail) when that time lies between the trail's last
/// event (`floor`: every sign-in empties the inbox, so nothing in it is
/// older) and now; otherwise when it is moved. Anything else is recorded
/// as tampering.
fn from_inbox(sealed: Option<Event>, file: &str, terminal: &str, floor: Option<&str>) -> Event {
    let plausible = |e: &Event| {
        e.event == "session.signin"
            && (e.outcome == FAILED || e.outcome == TAMPERED)
            && e.actor.len() <= 300
            && !e.actor.chars().any(char::is_control)
            && e.object == format!("account:{}", e.actor)
            && e.terminal.len() <= 300
            && e.detail.len() <= 1000
    };
    match sealed {
        Some(e) if plausible(&e) => {
            let mut moved = Event::new(
                &e.actor,
                &e.event,
                &e.object,
                &e.outcome,
                &e.terminal,
                &format!("{} (at {}{}", e.detail, e.at, event::FROM_INBOX),
            );
            if let Some(at) = when_it_happened(&e.at, floor, &moved.at) {
                moved.at = at;
            }
            moved
        }
        _ => Event::new(
            "-",
            "audit.inbox",
            &format!("file:{file}"),
            TAMPERED,
            terminal,
            "an inbox file does not open or is not a failed sign-in",
        ),
    }
}

/// The time an inbox event claims, in the trail's own form, if it lies
/// between `floor` (the trail's last event) and `now`.
fn when_it_happened(claimed: &str, floor: Option<&str>, now: &str) -> Option<String> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let at = parse(claimed)?;
    let after_floor = floor.is_none_or(|f| parse(f).is_some_and(|f| at >= f));
    (after_floor && at <= parse(now)?).then(|| {
        at.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    })
}

/// Seal an event that happened before the database could be opened (a
/// failed sign-in) into the inbox.
pub fn seal_to_inbox(
    inbox_dir: &Path,
    vault_id: &str,
    inbox_public: &[u8],
    e: &Event,
) -> Result<()> {
    let body = serde_json::to_vec(e).expect("event serialises");
    let w = crypto::hpke_wrap(inbox_public, &inbox_context(vault_id), &body)?;
    let file = InboxFile {
        enc: crypto::b64(&w.enc),
        ciphertext: crypto::b64(&w.ciphertext),
    };
    let name = format!(
        "{}-{}.evt",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"),
        crypto::hex(&crypto::random::<6>())
    );
    fsutil::write_atomic(
        &inbox_dir.join(name),
        &serde_json::to_vec(&file).expect("serialises"),
    )
}

/// Move sealed inbox events into the chain, in the order they happened.
/// A file that does not open is itself recorded as tampering. Returns the
/// files to delete once the caller's transaction commits.
pub fn ingest_inbox(
    conn: &Connection,
    inbox_dir: &Path,
    inbox_secret: &[u8; 32],
    terminal: &str,
    by: &EventSigner,
) -> Result<Vec<std::path::PathBuf>> {
    let vault_id = &by.vault_id;
    let entries = match std::fs::read_dir(inbox_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(inbox_dir, e)),
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "evt"))
        .collect();
    files.sort();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fresh = conn
            .prepare_cached("INSERT OR IGNORE INTO inbox_ingested (name) VALUES (?1)")?
            .execute([&name])
            .map_err(|e| Error::AuditWrite(e.to_string()))?;
        if fresh == 0 {
            continue;
        }
        let event = std::fs::read(path)
            .ok()
            .and_then(|b| open_inbox_file(&b, inbox_secret, vault_id));
        let floor: Option<String> = conn
            .prepare_cached("SELECT at FROM audit_events ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let mut event = from_inbox(event, &name, terminal, floor.as_deref());
        if event.event == "session.signin" && !account_exists(conn, &event.actor)? {
            event.actor = pseudonym(conn, &event.actor)?;
            event.object = format!("account:{}", event.actor);
        }
        append(conn, &event, by)?;
    }
    Ok(files)
}

/// Open an inbox file (outside bytes: anyone able to write `inbox/` can
/// put one there). `None` for anything that is not a sealed event.
pub fn open_inbox_file(bytes: &[u8], inbox_secret: &[u8; 32], vault_id: &str) -> Option<Event> {
    let f = serde_json::from_slice::<InboxFile>(bytes).ok()?;
    let w = Wrapped {
        enc: crypto::unb64(&f.enc, "inbox").ok()?,
        ciphertext: crypto::unb64(&f.ciphertext, "inbox").ok()?,
    };
    let plain = crypto::hpke_unwrap(inbox_secret, &inbox_context(vault_id), &w)?;
    serde_json::from_slice::<Event>(&plain).ok()
}

fn account_exists(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// What a failed sign-in with an ID that belongs to no account is sealed
/// as: the typed text is never written.
pub const UNKNOWN_ID: &str = "unknown";

/// An ID that belongs to no account, as a keyed hash: the same typed text
/// always gives the same pseudonym (so repeated attempts can be counted
/// and alerted on), but the trail never holds what was typed.
pub fn pseudonym(conn: &Connection, typed: &str) -> Result<String> {
    let key = crate::db::meta(conn, "audit_pseudonym_key")?;
    let mac = crypto::hmac_sha256(&key, typed.as_bytes());
    Ok(format!("unknown#{}", crypto::hex(&mac[..6])))
}

/// One event with the proof that it is in the tree (`audit proof`).
#[derive(Debug, Clone, Serialize)]
pub struct EventProof {
    pub record: Record,
    pub tree_size: u64,
    /// Hex of the root the proof leads to.
    pub root: String,
    /// Hex of each hash on the audit path, leaf upwards (RFC 6962 PATH).
    pub path: Vec<String>,
    /// Whether `ct-merkle`'s verifier accepts the proof.
    pub verified: bool,
}

/// The inclusion proof of event `seq` in the tree of `size` events whose
/// root is `root` (a signed checkpoint's).
pub fn prove(conn: &Connection, seq: i64, size: u64, root: tree::Hash) -> Result<EventProof> {
    if seq < 1 || seq as u64 > size {
        return Err(Error::NotFound(format!("audit event {seq}")));
    }
    let record = query_one(conn, seq)?;
    let nodes = tree::Stored(conn);
    let proof = tree::inclusion_proof(&nodes, size, seq as u64 - 1)?;
    let verified = tree::verify_inclusion(
        &root,
        size,
        &record.event.leaf_bytes(seq),
        seq as u64 - 1,
        &proof,
    );
    Ok(EventProof {
        path: proof.as_bytes().chunks(32).map(crypto::hex).collect(),
        tree_size: size,
        root: crypto::hex(&root),
        record,
        verified,
    })
}

fn query_one(conn: &Connection, seq: i64) -> Result<Record> {
    query_range(conn, seq, seq)?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("audit event {seq} (it may have been archived)")))
}

/// Events `first` to `last`, in order.
pub fn query_range(conn: &Connection, first: i64, last: i64) -> Result<Vec<Record>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RECORD_COLUMNS} FROM audit_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
    ))?;
    let rows = stmt.query_map([first, last], record_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) const RECORD_COLUMNS: &str =
    "seq, at, actor, event, object, outcome, terminal, detail, leaf";

/// A row of [`RECORD_COLUMNS`] as a record.
pub(crate) fn record_from_row(r: &rusqlite::Row) -> rusqlite::Result<Record> {
    Ok(Record {
        seq: r.get(0)?,
        event: event_from_row(r)?,
        leaf: crypto::hex(&r.get::<_, Vec<u8>>(8)?),
    })
}

/// The event fields of a row of [`RECORD_COLUMNS`] (columns 1 to 7).
pub(crate) fn event_from_row(r: &rusqlite::Row) -> rusqlite::Result<Event> {
    Ok(Event {
        at: r.get(1)?,
        actor: r.get(2)?,
        event: r.get(3)?,
        object: r.get(4)?,
        outcome: r.get(5)?,
        terminal: r.get(6)?,
        detail: r.get(7)?,
    })
}
