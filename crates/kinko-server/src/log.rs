//! The vault's log in PostgreSQL: the vault's record and its units in
//! order. Appends run in serialisable transactions, retried when
//! PostgreSQL reports a serialisation failure, and succeed only at the
//! head the terminal computed its unit on.

use deadpool_postgres::Pool;
use kinko_protocol::{NewUnit, Unit, VaultInfo};

use crate::authority::Authority;
use crate::enrolment::Approved;
use crate::error::{is_retryable, Error, Result};

/// How many units one answer carries at most.
pub const PAGE: i64 = 1000;
/// How many bytes of units one answer carries at most, beyond its first.
pub const PAGE_BYTES: i64 = 8 << 20;
/// How often a serialisation failure is retried before giving up.
const RETRIES: usize = 8;

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|_| Error::Invalid(format!("{what} is not base64")))
}

/// A unit's bytes as the terminal sent them: the sealed change and the
/// keyslots, if any.
fn decoded(unit: &NewUnit) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let sealed = unb64(&unit.sealed, "the unit")?;
    let keyslots = unit
        .keyslots
        .as_deref()
        .map(|k| unb64(k, "the keyslots"))
        .transpose()?;
    if unit.snapshot && keyslots.is_none() {
        // A new database key reaches people only through their keyslots.
        return Err(Error::Invalid(
            "a snapshot unit carries the keyslots of its new key".into(),
        ));
    }
    Ok((sealed, keyslots))
}

/// Another append took the same place in the log.
fn is_duplicate(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// The vault, if one was created.
pub async fn vault(pool: &Pool) -> Result<Option<VaultInfo>> {
    let client = pool.get().await?;
    let row = client
        .query_opt("SELECT vault_id, schema_version FROM vault", &[])
        .await?;
    Ok(row.map(|r| VaultInfo {
        vault_id: r.get(0),
        schema_version: r.get(1),
    }))
}

/// The number of units in the log.
pub async fn head(pool: &Pool) -> Result<u64> {
    let client = pool.get().await?;
    let n: i64 = client
        .query_one("SELECT coalesce(max(seq), 0) FROM units", &[])
        .await?
        .get(0);
    Ok(n as u64)
}

/// The newest keyslots, as base64.
pub async fn keyslots(pool: &Pool) -> Result<Option<String>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT keyslots FROM units WHERE keyslots IS NOT NULL ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| b64(&r.get::<_, Vec<u8>>(0))))
}

/// The newest snapshot unit (0: none).
pub async fn snapshot(pool: &Pool) -> Result<u64> {
    let client = pool.get().await?;
    let n: i64 = client
        .query_one(
            "SELECT coalesce(max(seq), 0) FROM units WHERE snapshot",
            &[],
        )
        .await?
        .get(0);
    Ok(n as u64)
}

/// Units after `after`: at most [`PAGE`] of them, and no more than
/// [`PAGE_BYTES`] of sealed bytes and keyslots unless the first alone is
/// larger (a snapshot), so that neither side holds more than a page.
pub async fn units_after(pool: &Pool, after: u64) -> Result<Vec<Unit>> {
    let after = i64::try_from(after).map_err(|_| Error::Invalid("position".into()))?;
    let client = pool.get().await?;
    // The sizes first (PostgreSQL reads a value's length without the
    // value), then the units that fit.
    let sizes = client
        .query(
            "SELECT seq, octet_length(sealed) + coalesce(octet_length(keyslots), 0)
             FROM units WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &PAGE],
        )
        .await?;
    let mut last = after;
    let mut bytes = 0i64;
    for row in &sizes {
        let size: i32 = row.get(1);
        if last > after && bytes + i64::from(size) > PAGE_BYTES {
            break;
        }
        bytes += i64::from(size);
        last = row.get(0);
    }
    let rows = client
        .query(
            "SELECT seq, sealed, keyslots, snapshot FROM units WHERE seq > $1 AND seq <= $2 ORDER BY seq",
            &[&after, &last],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Unit {
            seq: r.get::<_, i64>(0) as u64,
            sealed: b64(&r.get::<_, Vec<u8>>(1)),
            keyslots: r.get::<_, Option<Vec<u8>>>(2).map(|k| b64(&k)),
            snapshot: r.get(3),
        })
        .collect())
}

/// Create the vault with its first unit; refused if there is one.
pub async fn create(pool: &Pool, terminal: &str, info: &VaultInfo, unit: &NewUnit) -> Result<u64> {
    let (sealed, keyslots) = decoded(unit)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let made = tx
        .execute(
            "INSERT INTO vault (vault_id, schema_version, created_by) VALUES ($1, $2, $3) \
             ON CONFLICT (one) DO NOTHING",
            &[&info.vault_id, &info.schema_version, &terminal],
        )
        .await?;
    if made != 1 {
        return Err(Error::Conflict("this server already holds a vault".into()));
    }
    tx.execute(
        "INSERT INTO units (seq, sealed, keyslots, terminal) VALUES (1, $1, $2, $3)",
        &[&sealed, &keyslots, &terminal],
    )
    .await?;
    tx.commit().await?;
    Ok(1)
}

/// A terminal's approval asked for with an append: the server's CA, the
/// code the waiting terminal showed and the key digest the event names.
pub struct Approval<'a> {
    pub authority: &'a Authority,
    pub code: &'a str,
    pub key: &'a str,
}

/// Append `unit` as `base + 1` if the log's head is still `base`; with
/// `approval`, approve that terminal in the same transaction; the objects
/// in `erase` are recorded as erased by the unit in it too (the caller
/// deletes them from the store once it commits).
pub async fn append(
    pool: &Pool,
    terminal: &str,
    base: u64,
    unit: &NewUnit,
    approval: Option<Approval<'_>>,
    erase: &[String],
) -> Result<(u64, Option<Approved>)> {
    let (sealed, keyslots) = decoded(unit)?;
    for name in erase {
        crate::objects::checked(name)?;
    }
    let base = i64::try_from(base).map_err(|_| Error::Invalid("position".into()))?;
    let unit = Sealed {
        sealed: &sealed,
        keyslots: keyslots.as_deref(),
        snapshot: unit.snapshot,
    };
    for _ in 0..RETRIES {
        match try_append(pool, terminal, base, &unit, approval.as_ref(), erase).await {
            Err(Attempt::Again) => continue,
            Err(Attempt::Failed(e)) => return Err(e),
            Ok(seq) => return Ok(seq),
        }
    }
    Err(Error::Busy(
        "the log is too busy to take the unit now; try again".into(),
    ))
}

enum Attempt {
    Again,
    Failed(Error),
}

impl From<tokio_postgres::Error> for Attempt {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_retryable(&e) {
            Attempt::Again
        } else if is_duplicate(&e) {
            Attempt::Failed(Error::Conflict(
                "another terminal wrote first: catch up and try again".into(),
            ))
        } else {
            Attempt::Failed(e.into())
        }
    }
}

impl From<deadpool_postgres::PoolError> for Attempt {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Attempt::Failed(e.into())
    }
}

/// A unit's bytes, decoded.
struct Sealed<'a> {
    sealed: &'a [u8],
    keyslots: Option<&'a [u8]>,
    snapshot: bool,
}

async fn try_append(
    pool: &Pool,
    terminal: &str,
    base: i64,
    unit: &Sealed<'_>,
    approval: Option<&Approval<'_>>,
    erase: &[String],
) -> std::result::Result<(u64, Option<Approved>), Attempt> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::Serializable)
        .start()
        .await?;
    let vault = tx.query_opt("SELECT 1 FROM vault", &[]).await?;
    if vault.is_none() {
        return Err(Attempt::Failed(Error::NotFound(
            "this server holds no vault yet".into(),
        )));
    }
    let head: i64 = tx
        .query_one("SELECT coalesce(max(seq), 0) FROM units", &[])
        .await?
        .get(0);
    if head != base {
        return Err(Attempt::Failed(Error::Conflict(format!(
            "the log is at {head}, the unit was made at {base}: catch up and try again"
        ))));
    }
    tx.execute(
        "INSERT INTO units (seq, sealed, keyslots, terminal, snapshot) VALUES ($1, $2, $3, $4, $5)",
        &[
            &(base + 1),
            &unit.sealed,
            &unit.keyslots,
            &terminal,
            &unit.snapshot,
        ],
    )
    .await?;
    for name in erase {
        let taken = tx
            .execute(
                "INSERT INTO erased_objects (name, unit) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[name, &(base + 1)],
            )
            .await?;
        if taken != 1 {
            return Err(Attempt::Failed(Error::Conflict(format!(
                "object {name} was erased already"
            ))));
        }
    }
    let approved = match approval {
        None => None,
        Some(a) => Some(
            crate::enrolment::approve_in(
                &tx,
                a.authority,
                a.code,
                Some(crate::enrolment::Recorded {
                    unit: base + 1,
                    key: a.key,
                }),
            )
            .await
            .map_err(|e| match e {
                // A serialisation failure inside the approval: the
                // whole append is tried again, as for the unit's own.
                Error::Busy(_) => Attempt::Again,
                other => Attempt::Failed(other),
            })?,
        ),
    };
    tx.commit().await?;
    Ok(((base + 1) as u64, approved))
}
