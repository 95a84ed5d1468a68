//! Revocation of certificates (issue 14): a reset, a disabling or a new
//! certificate of a person ends their old certificate, so a key someone
//! kept from before (a copied keyslot and the old password) makes no
//! statement Kinko accepts any more.
//!
//! It has to be time-based: what the person signed while their
//! certificate was in force (the grants a manager made, the certificates
//! an officer issued) stays valid. Statements carry the time their signer
//! wrote, which the holder of the old key can write as they like, so the
//! time is not taken from them. Instead the revoking action lists every
//! statement signed under the old certificate that the vault holds at that
//! moment (the *kept* set), and its signed audit event names the count
//! and a hash of that list. From then on a statement under that
//! certificate holds only if it is in the kept set; `verify` checks every
//! kept set against its event, and that no event is signed under a
//! certificate after the event that revoked it.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::crypto;
use crate::error::{Error, Result};

/// Where the vault keeps signed statements, and the field of each that
/// names the certificate it was signed under.
const SOURCES: &[(&str, &str)] = &[
    ("SELECT body FROM certificates", "issuer_serial"),
    (
        "SELECT statement FROM wraps WHERE statement IS NOT NULL",
        "signer_serial",
    ),
    (
        "SELECT statement FROM regrant_pending WHERE statement IS NOT NULL",
        "signer_serial",
    ),
    (
        "SELECT statement FROM documents WHERE statement IS NOT NULL",
        "signer_serial",
    ),
    (
        "SELECT statement FROM export_approvals WHERE statement IS NOT NULL",
        "signer_serial",
    ),
    (
        "SELECT statement FROM roster_entries WHERE statement IS NOT NULL",
        "signer_serial",
    ),
    (
        "SELECT approval_statement FROM disposal_plans WHERE approval_statement IS NOT NULL",
        "signer_serial",
    ),
    (
        "SELECT value FROM meta WHERE key = 'policy_statement'",
        "signer_serial",
    ),
];

/// The word in an event's detail that names a revocation.
const WORD: &str = "revoked=";

/// What a revoking event says of one certificate: its serial, how many
/// statements it kept and the hash of their list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub serial: i64,
    pub kept: usize,
    pub hash: String,
}

impl Named {
    fn to_text(&self) -> String {
        format!("{}:{}:{}", self.serial, self.kept, self.hash)
    }

    fn parse(text: &str) -> Option<Named> {
        let mut parts = text.split(':');
        let named = Named {
            serial: parts.next()?.parse().ok()?,
            kept: parts.next()?.parse().ok()?,
            hash: parts.next()?.to_string(),
        };
        parts.next().is_none().then_some(named)
    }
}

/// What a revoking event's detail names (`revoked=S:N:H,S:N:H`), if any.
pub(crate) fn named_in(detail: &str) -> Option<Vec<Named>> {
    let at = detail.find(WORD)?;
    let list = detail[at + WORD.len()..].split_whitespace().next()?;
    list.split(',').map(Named::parse).collect()
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    crypto::sha256(bytes)
}

/// The hash of a kept set, as its event names it.
fn kept_hash(serial: i64, kept: &[[u8; 32]]) -> String {
    let mut m = b"kinko revocation v1\0".to_vec();
    m.extend_from_slice(&serial.to_be_bytes());
    for d in kept {
        m.extend_from_slice(d);
    }
    crypto::hex(&crypto::sha256(&m)[..16])
}

/// Every statement the vault holds that was signed under one of
/// `serials`, as sorted digests of their stored bytes, per serial (one
/// pass over the statements).
fn statements_under(conn: &Connection, serials: &[i64]) -> Result<HashMap<i64, Vec<[u8; 32]>>> {
    let mut found: HashMap<i64, Vec<[u8; 32]>> = serials.iter().map(|s| (*s, Vec::new())).collect();
    for (query, field) in SOURCES {
        let mut stmt = conn.prepare(query)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            // A cell of another type written outside Kinko holds no
            // statement of anyone's: it must not stop a revocation.
            let bytes = match r.get_ref(0)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                _ => continue,
            };
            let names = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| v.get(field).and_then(serde_json::Value::as_i64));
            if let Some(kept) = names.and_then(|s| found.get_mut(&s)) {
                kept.push(digest(bytes));
            }
        }
    }
    for kept in found.values_mut() {
        kept.sort_unstable();
        kept.dedup();
    }
    Ok(found)
}

/// Revoke every certificate of `account` not revoked yet: keep the list
/// of what each had signed, and return what the revoking event's detail
/// must say ("" when there was nothing to revoke). Call in the action's
/// transaction, before a new certificate of the account is issued.
pub(crate) fn revoke_account(conn: &Connection, account: &str) -> Result<String> {
    let serials: Vec<i64> = conn
        .prepare(
            "SELECT serial FROM certificates WHERE account = ?1
             AND serial NOT IN (SELECT serial FROM revocations) ORDER BY serial",
        )?
        .query_map([account], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut kept_of = statements_under(conn, &serials)?;
    let mut named = Vec::new();
    for serial in serials {
        let kept = kept_of.remove(&serial).unwrap_or_default();
        conn.execute(
            "INSERT INTO revocations (serial, account) VALUES (?1, ?2)",
            params![serial, account],
        )?;
        for d in &kept {
            conn.execute(
                "INSERT INTO revocation_kept (serial, digest) VALUES (?1, ?2)",
                params![serial, d.to_vec()],
            )?;
        }
        let hash = kept_hash(serial, &kept);
        named.push(
            Named {
                serial,
                kept: kept.len(),
                hash,
            }
            .to_text(),
        );
    }
    Ok(if named.is_empty() {
        String::new()
    } else {
        format!("{WORD}{}", named.join(","))
    })
}

/// Has certificate `serial` of `account` been revoked? The vault's rows
/// say so, and the trail is asked too (`trail_facts.rs`): a revocation
/// the trail shows but the rows no longer hold was deleted outside Kinko,
/// which is tampering at once, not only at the next `audit verify`.
pub(crate) fn is_revoked(conn: &Connection, serial: i64, account: &str) -> Result<bool> {
    if has_row(conn, serial)? {
        return Ok(true);
    }
    match revoked_by(conn, serial, account)? {
        Some(seq) => Err(Error::tampered(format!(
            "audit event {seq} revoked certificate {serial} of {account}, but the vault no longer holds that revocation (deleted outside Kinko)"
        ))),
        None => Ok(false),
    }
}

/// Does the vault hold a revocation of certificate `serial`?
pub(crate) fn has_row(conn: &Connection, serial: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM revocations WHERE serial = ?1")?
        .query_row([serial], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The event of the trail that revoked certificate `serial` of
/// `account`, if the vault still holds it: a reset, a disabling or a new
/// certificate of that account naming the serial, by someone whose
/// certificate allows it. Only what the event's leaf covers is read (its
/// actor, kind, object, outcome and detail; not the signer columns, which
/// only its signature covers): a revocation forged by anyone else is left
/// to `verify`, which names it.
pub(crate) fn revoked_by(conn: &Connection, serial: i64, account: &str) -> Result<Option<i64>> {
    use crate::permission::Action;
    let object = format!("account:{account}");
    let mut first: Option<i64> = None;
    for action in [Action::AccountManage, Action::AccountCertify] {
        for told in crate::trail_facts::ok_events(conn, &object, action)? {
            let names =
                named_in(&told.detail).is_some_and(|n| n.iter().any(|n| n.serial == serial));
            if names && actor_may(conn, &told.actor, action)? {
                first = Some(first.map_or(told.seq, |f| f.min(told.seq)));
                break;
            }
        }
    }
    Ok(first)
}

/// Does any certificate of `actor` allow `action`?
fn actor_may(conn: &Connection, actor: &str, action: crate::permission::Action) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT body FROM certificates WHERE account = ?1")?;
    let mut rows = stmt.query([actor])?;
    while let Some(r) = rows.next()? {
        if signer_may(r.get_ref(0)?.as_bytes().ok(), actor, action) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Does a stored certificate body name `actor` with roles that allow
/// `action`? (Read as JSON here: the certificate module builds on this
/// one.)
fn signer_may(body: Option<&[u8]>, actor: &str, action: crate::permission::Action) -> bool {
    let Some(v) = body.and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok()) else {
        return false;
    };
    let roles = v.get("roles").and_then(serde_json::Value::as_str);
    v.get("account").and_then(serde_json::Value::as_str) == Some(actor)
        && roles
            .and_then(|r| crate::permission::Roles::parse(r).ok())
            .is_some_and(|r| r.allow(action))
}

/// Was certificate `serial` of `account` revoked before event `seq` (a
/// statement dated by its place in the trail: a checkpoint's size, an
/// event's number)?
pub(crate) fn revoked_before(
    conn: &Connection,
    serial: i64,
    account: &str,
    seq: i64,
) -> Result<Option<i64>> {
    Ok(revoked_by(conn, serial, account)?.filter(|r| *r < seq))
}

/// May a statement signed under `serial` (its stored bytes) be believed?
/// Yes while the certificate is in force; after its revocation only if it
/// was kept when the certificate was revoked.
pub(crate) fn check_statement(
    conn: &Connection,
    serial: i64,
    account: &str,
    bytes: &[u8],
) -> Result<()> {
    if !is_revoked(conn, serial, account)? {
        return Ok(());
    }
    let kept = conn
        .prepare_cached("SELECT 1 FROM revocation_kept WHERE serial = ?1 AND digest = ?2")?
        .query_row(params![serial, digest(bytes).to_vec()], |_| Ok(()))
        .optional()?
        .is_some();
    if kept {
        Ok(())
    } else {
        Err(Error::tampered(format!(
            "a statement is signed with certificate {serial} of {account}, which was revoked, and it is not one {account} made before (signed later with a kept copy of the old key)"
        )))
    }
}

/// Check the revocations the vault holds against those the trail names
/// (serial → the revoking event's number and account, from `verify`'s
/// walk over the events): the same certificates, each kept set as its
/// event hashed it. With events archived, a revocation whose event was
/// archived cannot be checked against it (the event was checked before
/// it was archived).
pub(crate) fn check_recorded(
    conn: &Connection,
    named: &HashMap<i64, (i64, String, Named)>,
    archived: bool,
) -> Result<()> {
    let stored: Vec<(i64, String)> = conn
        .prepare("SELECT serial, account FROM revocations ORDER BY serial")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (serial, account) in &stored {
        let Some((seq, by_event, n)) = named.get(serial) else {
            if archived {
                continue;
            }
            return Err(Error::tampered(format!(
                "the vault holds a revocation of certificate {serial} that no audit event made (written outside Kinko)"
            )));
        };
        let kept: Vec<[u8; 32]> = conn
            .prepare("SELECT digest FROM revocation_kept WHERE serial = ?1 ORDER BY digest")?
            .query_map([serial], |r| r.get::<_, Vec<u8>>(0))?
            .map(|d| {
                d.map_err(Error::from).and_then(|d| {
                    d.try_into()
                        .map_err(|_| Error::tampered("a kept statement digest is damaged"))
                })
            })
            .collect::<Result<_>>()?;
        if by_event != account || n.kept != kept.len() || n.hash != kept_hash(*serial, &kept) {
            return Err(Error::tampered(format!(
                "the statements kept when certificate {serial} was revoked are not the ones audit event {seq} recorded (changed outside Kinko)"
            )));
        }
    }
    if let Some((serial, (seq, _, _))) = named
        .iter()
        .find(|(s, _)| !stored.iter().any(|(t, _)| t == *s))
    {
        return Err(Error::tampered(format!(
            "audit event {seq} revoked certificate {serial}, but the vault no longer holds that revocation (deleted outside Kinko)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_names_round_trip() {
        let n = Named {
            serial: 4,
            kept: 12,
            hash: "ab12".into(),
        };
        let detail = format!(
            "reset; 2 documents await recovery; {WORD}{},{}",
            n.to_text(),
            n.to_text()
        );
        assert_eq!(named_in(&detail), Some(vec![n.clone(), n]));
        assert_eq!(named_in("reset; nothing"), None);
        assert_eq!(named_in("revoked=4:x:ab"), None);
        assert_ne!(kept_hash(1, &[[0; 32]]), kept_hash(2, &[[0; 32]]));
    }
}
