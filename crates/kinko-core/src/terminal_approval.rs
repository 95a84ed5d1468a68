//! Approving a terminal of an office server as a rule, not as the
//! server's say-so (issue 16, 仕様 6.5.3).
//!
//! The system administrator (or the officer) approves a waiting terminal
//! from theirs: their terminal asks the server what waits under the code,
//! and the signed `device.approve` event names the digest of that
//! terminal's key. The server approves only the request whose key has
//! that digest, in the transaction that appends the event's unit, and
//! keeps the unit's number beside the terminal (`approved_in`).
//!
//! The server cannot read a unit, so a modified terminal could still ask
//! it to approve with a unit that holds no such event. `audit verify`
//! catches that: every terminal the server says a unit approved must have
//! a signed event of an officer or system administrator naming its key.
//! Terminals the operator enrolled on the server box (by token, or
//! approving there) carry no unit and are counted, not matched: the
//! operator can enrol a terminal, and it opens nothing without a person's
//! keyslot (`docs/server.md`).

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::permission::{Action, Role};
use crate::replica::{KnownTerminal, WaitingDevice};

/// A code as a person typed it, checked and upper-cased before anything
/// is recorded: it reaches the trail and the server's address only as
/// letters, digits and dashes.
pub(crate) fn checked_code(code: &str) -> Result<String> {
    let code = code.trim().to_ascii_uppercase();
    let plain = !code.is_empty()
        && code.len() <= 16
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !plain {
        return Err(Error::Invalid(
            "that is not an approval code (such as FKYJ-HVV9)".into(),
        ));
    }
    Ok(code)
}

/// A key digest as the server must give it: 64 lower-case hex digits.
fn is_digest(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the server said waits under `code`, checked before it goes into a
/// signed event: the code asked for, a well-formed key digest, and a name
/// and account without control characters.
pub(crate) fn checked_waiting(code: &str, w: WaitingDevice) -> Result<WaitingDevice> {
    let plain = |s: &str| s.len() <= 64 && !s.chars().any(char::is_control);
    let fits = w.code.eq_ignore_ascii_case(code)
        && is_digest(&w.key)
        && plain(&w.name)
        && w.account.as_deref().is_none_or(plain);
    if !fits {
        return Err(Error::Server(format!(
            "the server described the terminal waiting with code {code} in a way Kinko does not accept"
        )));
    }
    Ok(w)
}

/// The object of an approval's event: the key it binds.
pub(crate) fn object(key: &str) -> String {
    format!("device:{key}")
}

/// The detail of an approval's event, for people reading the trail.
pub(crate) fn detail(w: &WaitingDevice) -> String {
    format!(
        "code={} name={} account={}",
        w.code,
        w.name,
        w.account.as_deref().unwrap_or("-")
    )
}

/// What `audit verify` found of the server's terminals.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TerminalsChecked {
    /// Terminals a unit approved, each matched with a signed approval.
    pub approved: u64,
    /// Terminals the operator enrolled on the server box.
    pub enrolled_by_operator: u64,
}

/// Match every terminal the server says a unit approved with an approval
/// event in the trail: signed (the trail's verification checks that), by
/// someone whose certificate let them approve, naming the terminal's key.
pub(crate) fn check(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    listed: &[KnownTerminal],
) -> Result<TerminalsChecked> {
    let mut found = TerminalsChecked::default();
    // One key, one terminal: an approval of a key vouches for one.
    let mut seen = std::collections::HashMap::new();
    for t in listed {
        if let Some(key) = &t.key {
            if let Some(other) = seen.insert(key.as_str(), t.id.as_str()) {
                return Err(Error::tampered(format!(
                    "terminals {} and {} hold one key: an approval vouches for one terminal",
                    printable(other),
                    printable(&t.id)
                )));
            }
        }
    }
    for t in listed {
        let Some(unit) = t.approved_in else {
            found.enrolled_by_operator += 1;
            continue;
        };
        let vouched = match &t.key {
            Some(key) if is_digest(key) => vouched_for(conn, vault_id, root, key)?,
            _ => false,
        };
        if !vouched {
            return Err(Error::tampered(format!(
                "the server says unit {unit} of the log approved terminal {} ({}), \
                 but no signed approval by the officer or a system administrator names its key",
                printable(&t.id),
                printable(&t.name)
            )));
        }
        found.approved += 1;
    }
    Ok(found)
}

/// Did a successful approval event name the key `key`, signed by its
/// actor under a certificate that let them approve terminals (the
/// officer's or a system administrator's) and was not revoked before that
/// event? The trail's verification checks each event's signature
/// against the certificate its `signer_serial` names.
fn vouched_for(conn: &Connection, vault_id: &str, root: &[u8], key: &str) -> Result<bool> {
    let approvals: Vec<(i64, String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT seq, actor, signer_serial FROM audit_events
             WHERE object = ?1 AND event = ?2 AND outcome = 'ok' ORDER BY seq",
        )?
        .query_map(
            rusqlite::params![object(key), Action::DeviceApprove.event()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, actor, serial) in approvals {
        let Some(serial) = serial else { continue };
        let cert = crate::cert::by_serial(conn, vault_id, root, serial)?;
        let may = cert.body.account == actor
            && (cert.roles.has(Role::Sysadmin) || cert.roles.has(Role::Officer));
        if may && crate::revocation::revoked_before(conn, serial, &actor, seq)?.is_none() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The server's words without control characters, for a message.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(code: &str, key: &str, name: &str) -> WaitingDevice {
        WaitingDevice {
            code: code.into(),
            name: name.into(),
            account: Some("hana".into()),
            key: key.into(),
        }
    }

    #[test]
    fn codes_are_plain_and_upper_cased() {
        assert_eq!(checked_code(" abcd-ef23 ").unwrap(), "ABCD-EF23");
        for bad in ["", "AB/CD", "ABCD EFGH", "A\u{1b}[2J", "ABCDEFGHIJKLMNOPQ"] {
            assert!(checked_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn what_the_server_says_waits_is_checked() {
        let key = "a".repeat(64);
        assert!(checked_waiting("ABCD-EFGH", waiting("ABCD-EFGH", &key, "pc-1")).is_ok());
        // Another code, a key that is no digest, a name with escapes.
        assert!(checked_waiting("ABCD-EFGH", waiting("ZZZZ-EFGH", &key, "pc-1")).is_err());
        assert!(checked_waiting("ABCD-EFGH", waiting("ABCD-EFGH", "ab", "pc-1")).is_err());
        assert!(checked_waiting("ABCD-EFGH", waiting("ABCD-EFGH", &"A".repeat(64), "pc")).is_err());
        assert!(checked_waiting("ABCD-EFGH", waiting("ABCD-EFGH", &key, "pc\u{1b}[2J")).is_err());
    }
}
