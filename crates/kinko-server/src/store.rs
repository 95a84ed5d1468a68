//! The server's tables in PostgreSQL: the terminals it knows and the
//! enrolments waiting for them. (The vault's own state, the sealed
//! changes of issue 16's next step, comes beside these.)

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS server_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
-- One row a terminal: its certificate's fingerprint is how a request is
-- known to come from it.
CREATE TABLE IF NOT EXISTS terminals (
    id text PRIMARY KEY,
    name text NOT NULL,
    account text,
    fingerprint text NOT NULL UNIQUE,
    issued_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
-- One-time tokens for the first terminal (and for an operator who must
-- enrol one from the server box); only their SHA-256 is kept.
CREATE TABLE IF NOT EXISTS enrolment_tokens (
    digest text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
-- A terminal that asked to be enrolled without a token waits here until
-- its code is approved; it collects its certificate with the secret it
-- was given (kept as SHA-256).
CREATE TABLE IF NOT EXISTS enrolment_requests (
    digest text PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    account text,
    csr text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    terminal text REFERENCES terminals(id),
    certificate text
);
-- The unit of the vault's log whose event recorded a terminal's approval
-- from another terminal (NULL: approved on the server box, or by token).
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS approved_in bigint;
-- SHA-256 of the certified key's SubjectPublicKeyInfo: what the signed
-- event of an approval names (`authority::key_digest`).
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS key_digest text;
-- The vault this server holds (one), as the first terminal created it.
CREATE TABLE IF NOT EXISTS vault (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    vault_id text NOT NULL,
    schema_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL REFERENCES terminals(id)
);
-- The vault's log: one sealed change a unit, in order, as the terminals
-- appended them (decision 51). The server cannot open `sealed`.
CREATE TABLE IF NOT EXISTS units (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    sealed bytea NOT NULL,
    keyslots bytea,
    terminal text NOT NULL REFERENCES terminals(id),
    received_at timestamptz NOT NULL DEFAULT now()
);
-- A unit that holds the whole database under a new database key (a
-- rekey, a disabled account): terminals build their replicas from the
-- newest one.
ALTER TABLE units ADD COLUMN IF NOT EXISTS snapshot boolean NOT NULL DEFAULT false;
-- Objects erased by a disposal: each with the unit whose signed events
-- record its removal (a terminal's `audit verify` matches them). An
-- erased name is never stored again.
CREATE TABLE IF NOT EXISTS erased_objects (
    name text PRIMARY KEY,
    unit bigint NOT NULL REFERENCES units(seq),
    erased_at timestamptz NOT NULL DEFAULT now()
);
"#;

/// How long an enrolment token or a waiting request stays good.
pub const TOKEN_HOURS: i64 = 24;
pub const REQUEST_HOURS: i64 = 24;

/// A pool of connections to the server's database.
pub fn pool(url: &str) -> Result<Pool> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::Invalid(format!("the database URL: {e}")))?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(16)
        .build()
        .map_err(|e| Error::Database(e.to_string()))
}

/// Make the tables (idempotent).
pub async fn create_schema(pool: &Pool) -> Result<()> {
    let client = pool.get().await?;
    client.batch_execute(SCHEMA).await?;
    Ok(())
}

/// SHA-256 of a secret, as hex: what the tables keep of tokens.
pub fn digest(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

/// A terminal as the server knows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TerminalRow {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
    pub fingerprint: String,
    pub issued_at: String,
    pub revoked_at: Option<String>,
    pub key: Option<String>,
    pub approved_in: Option<i64>,
}

const TERMINAL_COLUMNS: &str = "id, name, account, fingerprint, \
    to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
    to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
    key_digest, approved_in";

fn terminal_row(r: &tokio_postgres::Row) -> TerminalRow {
    TerminalRow {
        id: r.get(0),
        name: r.get(1),
        account: r.get(2),
        fingerprint: r.get(3),
        issued_at: r.get(4),
        revoked_at: r.get(5),
        key: r.get(6),
        approved_in: r.get(7),
    }
}

pub async fn terminal_by_fingerprint(
    pool: &Pool,
    fingerprint: &str,
) -> Result<Option<TerminalRow>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {TERMINAL_COLUMNS} FROM terminals WHERE fingerprint = $1"),
            &[&fingerprint],
        )
        .await?;
    Ok(row.as_ref().map(terminal_row))
}

pub async fn terminals(pool: &Pool) -> Result<Vec<TerminalRow>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!("SELECT {TERMINAL_COLUMNS} FROM terminals ORDER BY issued_at, id"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(terminal_row).collect())
}

/// Revoke a terminal: its certificate opens nothing from now on.
pub async fn revoke_terminal(pool: &Pool, id: &str) -> Result<()> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE terminals SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            &[&id],
        )
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "no terminal {id} that is not already revoked"
        )));
    }
    Ok(())
}

/// Mark the database as this server's (by its CA's fingerprint). A
/// database another server already claimed is refused, so two servers
/// never share tables by mistake.
pub async fn claim(pool: &Pool, ca_fingerprint: &str) -> Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO server_meta (key, value) VALUES ('ca_fingerprint', $1) \
             ON CONFLICT (key) DO NOTHING",
            &[&ca_fingerprint],
        )
        .await?;
    check_claim(pool, ca_fingerprint).await
}

/// Refuse, before anything is made, a database some server has claimed.
pub async fn check_unclaimed(pool: &Pool) -> Result<()> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT 1 FROM server_meta WHERE key = 'ca_fingerprint'",
            &[],
        )
        .await?;
    match row {
        Some(_) => Err(Error::Invalid(
            "this database already belongs to a Kinko server".into(),
        )),
        None => Ok(()),
    }
}

/// Refuse a database that belongs to another server.
pub async fn check_claim(pool: &Pool, ca_fingerprint: &str) -> Result<()> {
    let client = pool.get().await?;
    let row = match client
        .query_opt(
            "SELECT value FROM server_meta WHERE key = 'ca_fingerprint'",
            &[],
        )
        .await
    {
        Ok(row) => row,
        // A database with no server's tables at all.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(e.into()),
    };
    match row.map(|r| r.get::<_, String>(0)) {
        Some(v) if v == ca_fingerprint => Ok(()),
        Some(_) => Err(Error::Invalid(
            "this database belongs to another Kinko server (its CA differs)".into(),
        )),
        None => Err(Error::Invalid(
            "this database has no Kinko server's tables (run `kinko-server init`)".into(),
        )),
    }
}

/// Every object a unit erased, in the order of the log.
pub async fn erased(pool: &Pool) -> Result<Vec<kinko_protocol::ErasedObject>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT name, unit FROM erased_objects ORDER BY unit, name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| kinko_protocol::ErasedObject {
            name: r.get(0),
            unit: r.get::<_, i64>(1) as u64,
        })
        .collect())
}

/// The unit that erased the object `name`, if one did.
pub async fn erased_by(pool: &Pool, name: &str) -> Result<Option<u64>> {
    let client = pool.get().await?;
    let row = client
        .query_opt("SELECT unit FROM erased_objects WHERE name = $1", &[&name])
        .await?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}
