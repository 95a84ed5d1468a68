//! The SQLCipher database: opening it with the raw 256-bit key, its
//! settings (secure delete, WAL, busy timeout) and its schema.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use zeroize::Zeroizing;

use crate::crypto::hex;
use crate::error::{Error, Result};

/// 2: key epochs, backups and each document's epoch (issue 7). No vault
/// of schema 1 was ever released, so there is no migration.
/// 3: certificates and the root key (issue 14); a schema-2 vault is
/// upgraded at its officer's first sign-in (`upgrade.rs`).
/// 4: personal data sealed off the shared key (circle keys, document
/// labels, issue 15); a schema-2 or -3 vault is upgraded by its officer
/// with the recovery code (`upgrade.rs`).
pub const SCHEMA_VERSION: i64 = 4;

/// Open (or create) the database with its raw key. Any failure to read
/// the first page under the right key is tampering: the key came out of an
/// authenticated keyslot, so only a changed file can refuse it.
pub fn open(path: &Path, key: &[u8; 32]) -> Result<Connection> {
    let conn =
        Connection::open(path).map_err(|e| Error::Database(format!("{}: {e}", path.display())))?;
    // SQLCipher writes decryption failures to stderr unless told not to.
    let _ = conn.pragma_update(None, "cipher_log_level", "NONE");
    let mut keyspec = zeroize::Zeroizing::new(format!("x'{}'", hex(key)));
    conn.pragma_update(None, "key", keyspec.as_str())?;
    zeroize::Zeroize::zeroize(&mut *keyspec);
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Create the tables of a new vault.
pub fn create_schema(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(SCHEMA_3_TABLES)?;
    conn.execute_batch(SCHEMA_3_TO_4)?;
    add_missing_indexes(conn)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// A database of the whole schema in memory, foreign keys off, for unit
/// tests that write a few rows of some tables.
#[cfg(test)]
pub(crate) fn in_memory_for_tests() -> Connection {
    let c = Connection::open_in_memory().expect("an in-memory database");
    c.execute_batch("PRAGMA foreign_keys = OFF;")
        .expect("foreign keys off");
    create_schema(&c).expect("the schema");
    c
}

/// The schema version the database records.
pub fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuse a database written by a newer Kinko.
pub fn check_schema(conn: &Connection) -> Result<()> {
    let v = schema_version(conn)?;
    if v != SCHEMA_VERSION {
        return Err(Error::Unsupported(format!(
            "vault database schema {v}; this Kinko reads schema {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}

/// What schema 3 changes in a schema-2 database's tables (with
/// [`SCHEMA_3_TABLES`], it is then the same as a new one).
pub(crate) const SCHEMA_2_TO_3: &str = r#"
ALTER TABLE accounts ADD COLUMN key_request BLOB;
ALTER TABLE wraps ADD COLUMN statement BLOB;
ALTER TABLE wraps ADD COLUMN signature BLOB;
ALTER TABLE export_approvals ADD COLUMN statement BLOB;
ALTER TABLE export_approvals ADD COLUMN signature BLOB;
ALTER TABLE documents ADD COLUMN statement BLOB;
ALTER TABLE documents ADD COLUMN signature BLOB;
ALTER TABLE roster_entries ADD COLUMN statement BLOB;
ALTER TABLE roster_entries ADD COLUMN signature BLOB;
ALTER TABLE regrant_pending ADD COLUMN uid BLOB;
ALTER TABLE regrant_pending ADD COLUMN enc BLOB;
ALTER TABLE regrant_pending ADD COLUMN ciphertext BLOB;
ALTER TABLE regrant_pending ADD COLUMN statement BLOB;
ALTER TABLE regrant_pending ADD COLUMN signature BLOB;
ALTER TABLE disposal_plans ADD COLUMN approval_statement BLOB;
ALTER TABLE disposal_plans ADD COLUMN approval_signature BLOB;
ALTER TABLE disposal_plans ADD COLUMN confirmation_statement BLOB;
ALTER TABLE disposal_plans ADD COLUMN confirmation_signature BLOB;
ALTER TABLE audit_checkpoints ADD COLUMN serial INTEGER;
ALTER TABLE audit_checkpoints ADD COLUMN public_key BLOB;
ALTER TABLE audit_events ADD COLUMN signer TEXT;
ALTER TABLE audit_events ADD COLUMN signer_serial INTEGER;
ALTER TABLE audit_events ADD COLUMN signature BLOB;
ALTER TABLE audit_events ADD COLUMN signer_previous BLOB;
CREATE INDEX audit_events_signer ON audit_events(signer, seq);
PRAGMA user_version = 3;
"#;

/// What schema 4 adds (issue 15), made by both a new vault and the
/// upgrade: the circle keys (`circle.rs`) and each document's label
/// sealed twice (`label.rs`). The clear `title`, `file_name`, `origin`,
/// `via` and `purpose` columns stay, empty, for the older statements'
/// sake; the roster rows' `fields` and the password history's `hash`
/// hold sealed bytes from now on.
pub(crate) const SCHEMA_3_TO_4: &str = r#"
CREATE TABLE circles (
    name       TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    -- The officer's signed statement naming the public key.
    statement  BLOB,
    signature  BLOB
);
CREATE TABLE circle_wraps (
    circle     TEXT NOT NULL REFERENCES circles(name),
    holder     TEXT NOT NULL,
    enc        BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    PRIMARY KEY (circle, holder)
);
ALTER TABLE documents ADD COLUMN label_held BLOB;
ALTER TABLE documents ADD COLUMN label_catalogue BLOB;
-- The receiver's signed statement of the catalogue copy's digest (anyone
-- can seal to the circle; only the receiver vouches for what he sealed).
ALTER TABLE documents ADD COLUMN label_statement BLOB;
ALTER TABLE documents ADD COLUMN label_signature BLOB;
-- The requester's signed statement of a roster request (its sealed
-- fields by digest).
ALTER TABLE roster_requests ADD COLUMN statement BLOB;
ALTER TABLE roster_requests ADD COLUMN signature BLOB;
PRAGMA user_version = 4;
"#;

/// Tables schema 3 added, made by both a new vault and the upgrade.
pub(crate) const SCHEMA_3_TABLES: &str = r#"
-- Certificates (cert.rs): the officer's (or, for the officer, the root
-- key's) signed statement of an account's name, roles and keys. The
-- newest serial of an account is the one in force.
CREATE TABLE certificates (
    serial    INTEGER PRIMARY KEY,
    account   TEXT NOT NULL REFERENCES accounts(id),
    body      BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE INDEX certificates_account ON certificates(account, serial);
-- Revoked certificates (revocation.rs): a reset, a disabling or a new
-- certificate ends the old one; what it had signed before is kept, by
-- digest, and the revoking event names the count and hash of that list.
CREATE TABLE revocations (
    serial  INTEGER PRIMARY KEY REFERENCES certificates(serial),
    account TEXT NOT NULL
);
CREATE TABLE revocation_kept (
    serial INTEGER NOT NULL REFERENCES revocations(serial),
    digest BLOB NOT NULL,
    PRIMARY KEY (serial, digest)
) WITHOUT ROWID;
"#;

/// Indexes later than the tables they serve, made when missing at every
/// sign-in (a vault of an earlier schema-3 build lacks them). Losing one
/// costs only speed.
///
/// `audit_events_object`: where a fact is used, what the trail says of
/// it is read again (`trail_facts.rs`), by object and kind of event.
const LATER_INDEXES: &str = r#"
CREATE INDEX IF NOT EXISTS audit_events_object ON audit_events(object, event, seq);
"#;

/// Make the indexes [`LATER_INDEXES`] lists where they are missing.
pub fn add_missing_indexes(conn: &Connection) -> Result<()> {
    conn.execute_batch(LATER_INDEXES)?;
    Ok(())
}

const SCHEMA: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
-- Account rows are never deleted, so an ID once issued stays taken (P5).
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    roles         TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active',
    hpke_public   BLOB NOT NULL,
    sign_public   BLOB NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    password_changed_at  TEXT NOT NULL,
    -- TOTP (RFC 6238): the secret, whether it is confirmed, and the last
    -- time step accepted (a code is accepted once).
    totp_secret    BLOB,
    totp_enabled   INTEGER NOT NULL DEFAULT 0,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    -- Allowed hours for this person (Japan time), overriding the role's.
    hours         TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    -- The person's signature over their own new keys and the root they
    -- trust, made at their first sign-in (cert.rs::sign_request).
    key_request   BLOB
);
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    account      TEXT NOT NULL REFERENCES accounts(id),
    started_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ended_at     TEXT,
    ended_reason TEXT
);
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           BLOB NOT NULL UNIQUE,
    version       INTEGER NOT NULL,
    title         TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    origin        TEXT NOT NULL,
    via           TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    personal_data INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    object_name   TEXT NOT NULL UNIQUE,
    object_sha256 TEXT NOT NULL,
    received_by   TEXT NOT NULL REFERENCES accounts(id),
    received_at   TEXT NOT NULL,
    -- Set when the document is disposed of (its keys and file destroyed).
    erased_at     TEXT,
    -- The key epoch of its data key and object file (see key_epochs).
    epoch         INTEGER NOT NULL DEFAULT 1,
    -- The receiver's signed statement of what was received (statement.rs).
    statement     BLOB,
    signature     BLOB
);
-- Plaintext copies that left the vault to a file (D4, E1): disposal
-- lists them for erasure by hand.
CREATE TABLE exports (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id  INTEGER NOT NULL REFERENCES documents(id),
    target  TEXT NOT NULL,
    made_by TEXT NOT NULL,
    at      TEXT NOT NULL
);
-- One row per person (or the custodian) able to open a document's DEK.
CREATE TABLE wraps (
    doc_id     INTEGER NOT NULL REFERENCES documents(id),
    holder     TEXT NOT NULL,
    enc        BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    -- The signed statement that gave this wrap (grant.rs): who, by
    -- which right, over these exact bytes (schema 3).
    statement  BLOB,
    signature  BLOB,
    PRIMARY KEY (doc_id, holder)
);
CREATE TABLE export_approvals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id      INTEGER NOT NULL REFERENCES documents(id),
    reference   TEXT NOT NULL,
    for_account TEXT,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    used_by     TEXT,
    used_at     TEXT,
    -- The officer's signed statement of this approval (statement.rs).
    statement   BLOB,
    signature   BLOB
);
-- The audit trail (A1, A2): one row per event; `leaf` is its RFC 6962
-- leaf hash. Rows are only ever added, except that events older than the
-- retention period may be archived (their leaf hashes then stay at
-- level 0 of audit_nodes, so the tree stays whole).
CREATE TABLE audit_events (
    seq      INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    event    TEXT NOT NULL,
    object   TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    terminal TEXT NOT NULL,
    detail   TEXT NOT NULL,
    leaf     BLOB NOT NULL,
    -- Who signed the event (audit/event.rs::signed_bytes), under which
    -- certificate (none before the officer certified them), and the
    -- ECDSA signature. Events of a schema-2 vault have none.
    signer        TEXT,
    signer_serial INTEGER,
    signature     BLOB,
    -- The chain digest of the signer's previous certified event
    -- (event.rs::chain_digest), which the signature covers; none for
    -- their first and for events of keys not yet certified.
    signer_previous BLOB
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_signer ON audit_events(signer, seq);
CREATE INDEX audit_events_actor ON audit_events(actor, at);
-- Perfect subtrees of the audit tree: 2^level leaves from leaf idx<<level.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
-- Signed tree heads (A2).
CREATE TABLE audit_checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB NOT NULL,
    at        TEXT NOT NULL,
    made_by   TEXT NOT NULL,
    signature BLOB NOT NULL,
    -- The signer's certificate serial and public key (schema 3); none for
    -- a checkpoint signed with the vault's audit key before.
    serial     INTEGER,
    public_key BLOB
);
-- Events archived to a signed file and dropped (A3).
CREATE TABLE audit_archives (
    upto        INTEGER PRIMARY KEY,
    from_seq    INTEGER NOT NULL,
    archived_at TEXT NOT NULL,
    archived_by TEXT NOT NULL,
    file_sha256 TEXT NOT NULL
);
-- Alerts raised by the rules in audit/alerts.rs (A5).
CREATE TABLE alerts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    rule      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    object    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    at        TEXT NOT NULL,
    summary   TEXT NOT NULL,
    acked_by  TEXT,
    acked_at  TEXT,
    ack_note  TEXT
);
CREATE INDEX alerts_rule_actor ON alerts(rule, actor, at);
-- Rosters (P2, P3): current and ended entries, and change requests (P4).
CREATE TABLE roster_entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    roster        TEXT NOT NULL,
    person        TEXT NOT NULL,
    fields        TEXT NOT NULL,
    approved_ref  TEXT NOT NULL,
    approved_date TEXT NOT NULL,
    approved_by   TEXT NOT NULL,
    approved_at   TEXT NOT NULL,
    ended_at      TEXT,
    ended_ref     TEXT,
    -- The officer's signed record of the bureau's approval (statement.rs).
    statement     BLOB,
    signature     BLOB
);
CREATE TABLE roster_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    roster        TEXT NOT NULL,
    change        TEXT NOT NULL,
    person        TEXT NOT NULL,
    fields        TEXT,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    state         TEXT NOT NULL,
    approved_ref  TEXT,
    approved_date TEXT,
    approved_by   TEXT,
    approved_at   TEXT
);
CREATE TABLE policy (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE password_history (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL REFERENCES accounts(id),
    at      TEXT NOT NULL,
    kdf     TEXT NOT NULL,
    hash    BLOB NOT NULL
);
-- Documents an account held before a reset gave it new keys: the officer
-- re-wraps them from the custodian's copies (`account recover`).
CREATE TABLE regrant_pending (
    account TEXT NOT NULL REFERENCES accounts(id),
    doc_id  INTEGER NOT NULL REFERENCES documents(id),
    -- The wrap set aside, with its signed grant (schema 3): `account
    -- recover` gives back only what a valid grant shows was held.
    uid        BLOB,
    enc        BLOB,
    ciphertext BLOB,
    statement  BLOB,
    signature  BLOB,
    PRIMARY KEY (account, doc_id)
);
-- Inbox files already moved into the chain: a file is deleted only after
-- the transaction that moved it commits, so a second process must not
-- move it again in between.
CREATE TABLE inbox_ingested (
    name TEXT PRIMARY KEY
);
-- Contract end (E1-E4): each plan as signed, its approval, execution and
-- confirmation; and every execution step done, so an interrupted
-- execution resumes where it stopped.
CREATE TABLE disposal_plans (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    body           TEXT NOT NULL,
    body_sha256    TEXT NOT NULL,
    made_by        TEXT NOT NULL,
    made_at        TEXT NOT NULL,
    state          TEXT NOT NULL,
    approved_ref   TEXT,
    approved_date  TEXT,
    approved_by    TEXT,
    approved_at    TEXT,
    -- The officer's signed statement of the bureau's approval (statement.rs,
    -- kind "disposal approval": plan, SHA-256, reference, date).
    approval_statement BLOB,
    approval_signature BLOB,
    executed_by    TEXT,
    executed_at    TEXT,
    confirmed_by   TEXT,
    confirmed_at   TEXT,
    completed_date TEXT,
    verification   TEXT,
    -- The confirmer's signed statement of what they found
    -- (disposal/confirmation.rs, kind "disposal confirmation").
    confirmation_statement BLOB,
    confirmation_signature BLOB,
    -- The audit tree's size when the disposal was confirmed (its signed
    -- checkpoint goes into the completion report).
    audit_size     INTEGER
);
-- The incident register (I1): never deleted, kept through disposal.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at TEXT NOT NULL,
    reported_at TEXT,
    summary     TEXT NOT NULL,
    items       TEXT NOT NULL,
    actions     TEXT NOT NULL,
    improvement TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    closed_by   TEXT,
    closed_at   TEXT,
    close_note  TEXT
);
CREATE TABLE incident_updates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at          TEXT NOT NULL,
    made_by     TEXT NOT NULL,
    what        TEXT NOT NULL
);
-- Return packages written for a plan (E5).
CREATE TABLE returns (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id        INTEGER NOT NULL REFERENCES disposal_plans(id),
    made_by        TEXT NOT NULL,
    made_at        TEXT NOT NULL,
    package_sha256 TEXT NOT NULL,
    protection     TEXT NOT NULL,
    files          INTEGER NOT NULL
);
CREATE TABLE disposal_steps (
    plan_id INTEGER NOT NULL REFERENCES disposal_plans(id),
    item    TEXT NOT NULL,
    step    TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (plan_id, item, step)
);
-- Key epochs (D6): one generation of the database key and of every
-- document's data key. `rekey` starts a new one; a backup records the
-- epoch whose keys it holds.
CREATE TABLE key_epochs (
    epoch       INTEGER PRIMARY KEY,
    suite       INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    started_by  TEXT NOT NULL,
    finished_at TEXT
);
-- Backups written by `kinko backup` (S3): where, under which epoch, and
-- whether disposal destroyed them (E3).
CREATE TABLE backups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uid          TEXT NOT NULL UNIQUE,
    epoch        INTEGER NOT NULL REFERENCES key_epochs(epoch),
    path         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      TEXT NOT NULL,
    -- Set once the file is complete at `path`; until then it is written
    -- as `path.partial`.
    finished_at  TEXT,
    destroyed_at TEXT
);
"#;

/// A record of the vault's `meta` table; a missing one is tampering.
pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Vec<u8>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::tampered(format!("the vault database lacks its {key} record")))
}

pub(crate) fn meta_key(conn: &Connection, key: &str) -> Result<Zeroizing<[u8; 32]>> {
    let v = Zeroizing::new(meta(conn, key)?);
    let mut out = Zeroizing::new([0u8; 32]);
    if v.len() != 32 {
        return Err(Error::tampered(format!(
            "the vault's {key} has the wrong length"
        )));
    }
    out.copy_from_slice(&v);
    Ok(out)
}
