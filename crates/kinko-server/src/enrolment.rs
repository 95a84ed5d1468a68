//! Enrolling a terminal. The first terminal of a new server, or one the
//! operator enrols from the server box, brings a one-time token; any
//! other asks and gets a short code that the system administrator
//! approves, then collects its certificate with the secret it was given.
//! Either way the terminal's key never leaves it: the server certifies
//! the public key in its signing request.

use deadpool_postgres::Pool;
use serde::Serialize;

use crate::authority::Authority;
use crate::error::{Error, Result};
use crate::store::{self, digest, REQUEST_HOURS, TOKEN_HOURS};

pub use kinko_protocol::{EnrolAnswer, EnrolRequest};

fn random_text(alphabet: &[u8], n: usize) -> Result<String> {
    // Rejection sampling keeps every letter equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| Error::Authority(format!("no randomness: {e}")))?;
        for x in b {
            if (x as usize) < limit && out.len() < n {
                out.push(alphabet[x as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Letters a person reads aloud and types without mistaking one for another.
const CODE_LETTERS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const SECRET_LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new one-time token (printed once; only its digest is kept).
pub async fn new_token(pool: &Pool) -> Result<String> {
    let token = random_text(SECRET_LETTERS, 32)?;
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO enrolment_tokens (digest, expires_at) \
             VALUES ($1, now() + make_interval(hours => $2))",
            &[&digest(&token), &(TOKEN_HOURS as i32)],
        )
        .await?;
    Ok(token)
}

/// Refuse a key some terminal was already certified for (revoked ones
/// included): an approval of a key vouches for one terminal only, and a
/// terminal makes a new key for each enrolment.
async fn check_new_key(client: &impl deadpool_postgres::GenericClient, key: &str) -> Result<()> {
    let known = client
        .query_opt("SELECT id FROM terminals WHERE key_digest = $1", &[&key])
        .await?;
    match known {
        Some(row) => Err(Error::Refused(format!(
            "this key was already certified for terminal {}: enrol with a new key",
            row.get::<_, String>(0)
        ))),
        None => Ok(()),
    }
}

fn new_terminal_id() -> Result<String> {
    Ok(format!("t-{}", random_text(SECRET_LETTERS, 12)?))
}

fn check_name(req: &EnrolRequest) -> Result<()> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| !c.is_control());
    if !ok(&req.name) {
        return Err(Error::Invalid(
            "a terminal's name is 1 to 64 characters, none of them control characters".into(),
        ));
    }
    if req.account.as_deref().is_some_and(|a| !ok(a)) {
        return Err(Error::Invalid("the account ID is not valid".into()));
    }
    Ok(())
}

/// Enrol a terminal: at once with a good token, else as a request that
/// waits for approval.
pub async fn enrol(pool: &Pool, authority: &Authority, req: &EnrolRequest) -> Result<EnrolAnswer> {
    check_name(req)?;
    match &req.token {
        Some(token) => enrol_with_token(pool, authority, req, token).await,
        None => ask(pool, req).await,
    }
}

async fn enrol_with_token(
    pool: &Pool,
    authority: &Authority,
    req: &EnrolRequest,
    token: &str,
) -> Result<EnrolAnswer> {
    let terminal = new_terminal_id()?;
    // Certify before the token is spent, so a bad request does not use it
    // up; the token and the terminal then go in one transaction.
    let issued = authority.issue_terminal(&req.csr, &terminal)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    check_new_key(&tx, &issued.key).await?;
    let spent = tx
        .execute(
            "UPDATE enrolment_tokens SET used_at = now() \
             WHERE digest = $1 AND used_at IS NULL AND expires_at > now()",
            &[&digest(token)],
        )
        .await?;
    if spent != 1 {
        return Err(Error::Refused(
            "the enrolment token is unknown, used or expired".into(),
        ));
    }
    tx.execute(
        "INSERT INTO terminals (id, name, account, fingerprint, key_digest) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &terminal,
            &req.name,
            &req.account,
            &issued.fingerprint,
            &issued.key,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(EnrolAnswer::Issued {
        terminal,
        certificate: issued.pem,
    })
}

async fn ask(pool: &Pool, req: &EnrolRequest) -> Result<EnrolAnswer> {
    // Refuse a request that is not a valid CSR, or for a key already
    // certified, now, not at approval.
    let key = crate::authority::key_digest(&req.csr)?;
    let secret = random_text(SECRET_LETTERS, 32)?;
    let raw = random_text(CODE_LETTERS, 8)?;
    let code = format!("{}-{}", &raw[..4], &raw[4..]);
    let client = pool.get().await?;
    check_new_key(&client, &key).await?;
    client
        .execute(
            "INSERT INTO enrolment_requests (digest, code, name, account, csr, expires_at) \
             VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))",
            &[
                &digest(&secret),
                &code,
                &req.name,
                &req.account,
                &req.csr,
                &(REQUEST_HOURS as i32),
            ],
        )
        .await?;
    Ok(EnrolAnswer::Waiting {
        request: secret,
        code,
    })
}

/// A code as a person may type it: any case, with or without the dash.
pub fn normalise_code(code: &str) -> String {
    let raw: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if raw.len() == 8 {
        format!("{}-{}", &raw[..4], &raw[4..])
    } else {
        raw
    }
}

/// What an approval made: the new terminal and who it is for.
#[derive(Debug, Clone, Serialize)]
pub struct Approved {
    pub terminal: String,
    pub name: String,
    pub account: Option<String>,
}

/// Approve a waiting request by its code (the operator, on the server
/// box): the terminal is certified and can collect its certificate.
pub async fn approve(pool: &Pool, authority: &Authority, code: &str) -> Result<Approved> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let approved = approve_in(&tx, authority, code, None).await?;
    tx.commit().await?;
    Ok(approved)
}

/// An approval from a terminal: the unit of the log whose signed event
/// records it, and the key digest that event names.
pub struct Recorded<'a> {
    pub unit: i64,
    pub key: &'a str,
}

/// The request waiting with `code`, for an approver to record in their
/// signed event before approving.
pub async fn waiting_one(pool: &Pool, code: &str) -> Result<kinko_protocol::WaitingTerminal> {
    let code = normalise_code(code);
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT name, account, csr FROM enrolment_requests \
             WHERE code = $1 AND terminal IS NULL AND expires_at > now()",
            &[&code],
        )
        .await?
        .ok_or_else(|| not_waiting(&code))?;
    Ok(kinko_protocol::WaitingTerminal {
        key: crate::authority::key_digest(&row.get::<_, String>(2))?,
        code,
        name: row.get(0),
        account: row.get(1),
    })
}

fn not_waiting(code: &str) -> Error {
    Error::NotFound(format!(
        "no terminal is waiting with code {code} (codes last {REQUEST_HOURS} hours)"
    ))
}

/// Approve the terminal waiting with `code` inside `tx`; `recorded` says
/// which unit of the log records the approval when a terminal approved
/// it, and the key its event names: a request with another key is not
/// the one the approver was shown, and is refused.
pub async fn approve_in(
    tx: &deadpool_postgres::Transaction<'_>,
    authority: &Authority,
    code: &str,
    recorded: Option<Recorded<'_>>,
) -> Result<Approved> {
    let code = normalise_code(code);
    let row = tx
        .query_opt(
            "SELECT digest, name, account, csr FROM enrolment_requests \
             WHERE code = $1 AND terminal IS NULL AND expires_at > now() FOR UPDATE",
            &[&code],
        )
        .await?
        .ok_or_else(|| not_waiting(&code))?;
    let (request, name, account, csr): (String, String, Option<String>, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let terminal = new_terminal_id()?;
    let issued = authority.issue_terminal(&csr, &terminal)?;
    check_new_key(tx, &issued.key).await?;
    if let Some(r) = &recorded {
        if r.key != issued.key {
            return Err(Error::Refused(format!(
                "the terminal waiting with code {code} holds another key than the approval names"
            )));
        }
    }
    let unit = recorded.as_ref().map(|r| r.unit);
    tx.execute(
        "INSERT INTO terminals (id, name, account, fingerprint, key_digest, approved_in) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &terminal,
            &name,
            &account,
            &issued.fingerprint,
            &issued.key,
            &unit,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE enrolment_requests SET terminal = $1, certificate = $2 WHERE digest = $3",
        &[&terminal, &issued.pem, &request],
    )
    .await?;
    Ok(Approved {
        terminal,
        name,
        account,
    })
}

/// What a waiting terminal gets when it asks again with its secret.
pub async fn collect(pool: &Pool, request: &str) -> Result<EnrolAnswer> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT code, terminal, certificate, expires_at > now() FROM enrolment_requests \
             WHERE digest = $1",
            &[&digest(request)],
        )
        .await?
        .ok_or_else(|| Error::Refused("no such enrolment request".into()))?;
    let (code, terminal, certificate, live): (String, Option<String>, Option<String>, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    match (terminal, certificate) {
        (Some(terminal), Some(certificate)) => Ok(EnrolAnswer::Issued {
            terminal,
            certificate,
        }),
        _ if !live => Err(Error::Refused(format!(
            "the enrolment request {code} expired before it was approved; enrol again"
        ))),
        _ => Ok(EnrolAnswer::Waiting {
            request: request.to_string(),
            code,
        }),
    }
}

/// The requests still waiting, for the operator.
pub async fn waiting(pool: &Pool) -> Result<Vec<(String, String, Option<String>)>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT code, name, account FROM enrolment_requests \
             WHERE terminal IS NULL AND expires_at > now() ORDER BY created_at",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

pub use store::revoke_terminal as revoke;
