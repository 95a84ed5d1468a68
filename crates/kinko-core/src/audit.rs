//! The audit trail (A1, A2): an append-only table whose events are linked
//! in a SHA-256 hash chain. Every action writes its event inside its own
//! transaction, so an action whose event cannot be written does not happen.
//!
//! Sign-in failures happen before the database can be opened (its key is
//! in the slot the password failed to open), so they are sealed with HPKE
//! to the vault's inbox key and written to `inbox/`; the next sign-in moves
//! them into the chain. Nobody without the database can read them.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, Wrapped};
use crate::error::{Error, Result};
use crate::fsutil;

/// Outcome words stored in events.
pub const OK: &str = "ok";
pub const DENIED: &str = "denied";
pub const FAILED: &str = "failed";
pub const TAMPERED: &str = "tampered";

/// One audit event as written (A1: who, what, which object, outcome,
/// exact UTC time, terminal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: String,
    pub actor: String,
    pub event: String,
    pub object: String,
    pub outcome: String,
    pub terminal: String,
    pub detail: String,
}

impl Event {
    pub fn new(
        actor: &str,
        event: &str,
        object: &str,
        outcome: &str,
        terminal: &str,
        detail: &str,
    ) -> Self {
        Event {
            at: now(),
            actor: actor.into(),
            event: event.into(),
            object: object.into(),
            outcome: outcome.into(),
            terminal: terminal.into(),
            detail: detail.into(),
        }
    }
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub seq: i64,
    #[serde(flatten)]
    pub event: Event,
    pub hash: String,
}

/// The current time in UTC, to the microsecond (A1, A6).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn leaf_hash(prev: &[u8], seq: i64, e: &Event) -> [u8; 32] {
    let body = serde_json::to_vec(&(seq, e)).expect("event serialises");
    crypto::sha256(&[&[0u8][..], prev, &body].concat())
}

/// Append one event to the chain. Call inside the action's transaction.
pub fn append(conn: &Connection, e: &Event) -> Result<i64> {
    let write = || -> rusqlite::Result<i64> {
        let last: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, vec![0u8; 32]),
        };
        let hash = leaf_hash(&prev, seq, e);
        conn.execute(
            "INSERT INTO audit_events (seq, at, actor, event, object, outcome, terminal, detail, prev, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![seq, e.at, e.actor, e.event, e.object, e.outcome, e.terminal, e.detail, prev, hash.to_vec()],
        )?;
        Ok(seq)
    };
    write().map_err(|err| Error::AuditWrite(err.to_string()))
}

/// Recompute the chain; the first event that does not fit is named.
pub fn verify_chain(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, event, object, outcome, terminal, detail, prev, hash FROM audit_events ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = vec![0u8; 32];
    let mut expected_seq = 1i64;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let e = Event {
            at: r.get(1)?,
            actor: r.get(2)?,
            event: r.get(3)?,
            object: r.get(4)?,
            outcome: r.get(5)?,
            terminal: r.get(6)?,
            detail: r.get(7)?,
        };
        let stored_prev: Vec<u8> = r.get(8)?;
        let stored_hash: Vec<u8> = r.get(9)?;
        if seq != expected_seq || stored_prev != prev || stored_hash != leaf_hash(&prev, seq, &e) {
            return Err(Error::tampered(format!(
                "audit event {seq} does not match the chain"
            )));
        }
        prev = stored_hash;
        expected_seq += 1;
        n += 1;
    }
    Ok(n)
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
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, event, object, outcome, terminal, detail, hash FROM audit_events
         WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at <= ?2)
           AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR event = ?4 OR event LIKE ?4 || '.%')
           AND (?5 IS NULL OR object = ?5)
         ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![q.since, q.until, q.actor, q.event, q.object], |r| {
        Ok(Record {
            seq: r.get(0)?,
            event: Event {
                at: r.get(1)?,
                actor: r.get(2)?,
                event: r.get(3)?,
                object: r.get(4)?,
                outcome: r.get(5)?,
                terminal: r.get(6)?,
                detail: r.get(7)?,
            },
            hash: crypto::hex(&r.get::<_, Vec<u8>>(8)?),
        })
    })?;
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
/// a well-formed ID. It is recorded at the time it is moved, with the time
/// it claims in its detail; anything else is recorded as tampering.
fn from_inbox(sealed: Option<Event>, file: &str, terminal: &str) -> Event {
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
        Some(e) if plausible(&e) => Event::new(
            &e.actor,
            &e.event,
            &e.object,
            &e.outcome,
            &e.terminal,
            &format!("{} (at {}, from the inbox)", e.detail, e.at),
        ),
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
    vault_id: &str,
    inbox_secret: &[u8; 32],
    terminal: &str,
) -> Result<Vec<std::path::PathBuf>> {
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
            .execute(
                "INSERT OR IGNORE INTO inbox_ingested (name) VALUES (?1)",
                [&name],
            )
            .map_err(|e| Error::AuditWrite(e.to_string()))?;
        if fresh == 0 {
            continue;
        }
        let event = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<InboxFile>(&b).ok())
            .and_then(|f| {
                let w = Wrapped {
                    enc: crypto::unb64(&f.enc, "inbox").ok()?,
                    ciphertext: crypto::unb64(&f.ciphertext, "inbox").ok()?,
                };
                crypto::hpke_unwrap(inbox_secret, &inbox_context(vault_id), &w)
            })
            .and_then(|b| serde_json::from_slice::<Event>(&b).ok());
        append(conn, &from_inbox(event, &name, terminal))?;
    }
    Ok(files)
}

impl crate::session::Session {
    /// Read the audit trail (officer and auditor only). Reading is itself
    /// an event.
    pub fn audit_log(&mut self, q: &Query) -> Result<Vec<Record>> {
        let object = "audit";
        self.perform(crate::permission::Action::AuditRead, object, |tx, _| {
            let records = query(tx, q)?;
            Ok(crate::session::Done::ok(records, ""))
        })
    }
}
