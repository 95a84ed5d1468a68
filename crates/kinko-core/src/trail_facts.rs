//! State bound to the trail (issue 14). A few facts live as plain rows
//! beside the signed statements: that an export approval was used, that a
//! roster entry ended or its removal waits, which signed policy is the
//! current one, who executed a disposal plan, which certificates were
//! revoked. Someone holding the database key could clear such a row and
//! lift a restriction without it showing.
//!
//! The action that made each fact also wrote its event, and the trail
//! cannot lose an event without it showing: every person's terminal
//! remembers the head it saw (`witness.rs`) and `audit verify` rebuilds
//! the tree. So where such a fact is used, what the trail says of it is
//! read again, and a row that says less than the trail is tampering.
//! Adding an event does not help an attacker here: every rule below only
//! restricts more when the trail shows more. Events archived out of the
//! vault are no longer read: their facts rest on the rows alone.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::permission::Action;

/// One successful event, as the trail holds it.
pub(crate) struct Told {
    pub seq: i64,
    pub actor: String,
    pub detail: String,
}

/// The events of kind `action` on `object` that succeeded, oldest first
/// (through the index `audit_events_object`).
pub(crate) fn ok_events(conn: &Connection, object: &str, action: Action) -> Result<Vec<Told>> {
    events_named(conn, object, action.event())
}

/// The events `actor` wrote of kind `event` on `object` (`kinko` raising
/// an alert), oldest first.
pub(crate) fn ok_events_by(
    conn: &Connection,
    object: &str,
    event: &str,
    actor: &str,
) -> Result<Vec<Told>> {
    let mut told = events_named(conn, object, event)?;
    told.retain(|t| t.actor == actor);
    Ok(told)
}

/// The events of kind `event` (its name in the trail) on `object` that
/// succeeded, oldest first.
pub(crate) fn events_named(conn: &Connection, object: &str, event: &str) -> Result<Vec<Told>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, actor, detail FROM audit_events
         WHERE object = ?1 AND event = ?2 AND outcome = 'ok' ORDER BY seq",
    )?;
    let rows = stmt.query_map(rusqlite::params![object, event], |r| {
        Ok(Told {
            seq: r.get(0)?,
            actor: r.get(1)?,
            detail: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What an export event's detail says of the approval it used.
pub(crate) fn approval_used_detail(approval: i64, reference: &str) -> String {
    format!("personal data; approval={approval} ref={reference}")
}

/// What the event of a failed export says when it gave its approval back.
pub(crate) fn approval_returned_detail(approval: i64, why: &str) -> String {
    format!("{why}; export approval {approval} was returned")
}

/// The export event that used approval `approval` of document `doc` and
/// did not give it back, if the trail shows one.
pub(crate) fn approval_used(conn: &Connection, doc: i64, approval: i64) -> Result<Option<i64>> {
    let object = format!("document:{doc}");
    let used = format!("approval={approval} ");
    let returned = approval_returned_detail(approval, "");
    let uses: Vec<i64> = ok_events(conn, &object, Action::DocumentOpen)?
        .into_iter()
        .filter(|t| t.detail.contains(&used))
        .map(|t| t.seq)
        .collect();
    // A return is written with the export's failure as its outcome.
    let returns: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM audit_events WHERE object = ?1 AND event = ?2
             AND outcome != 'ok' AND detail LIKE '%' || ?3",
        )?
        .query_row(
            rusqlite::params![object, Action::DocumentOpen.event(), returned],
            |r| r.get(0),
        )?;
    Ok((uses.len() as i64 > returns)
        .then(|| uses.last().copied())
        .flatten())
}

/// Where a person stands on a roster, as its events tell it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RosterTold {
    /// The event that ended the person's last entry, if it was ended.
    pub ended: Option<i64>,
    /// The request to remove them that waits for the bureau, if any.
    pub removing: Option<i64>,
}

/// Replay the requests and approvals of `person` on `roster` (`handler`,
/// `worker`): an approved removal ends the entry, an approved addition
/// starts a new one, a removal request waits until a removal is approved.
pub(crate) fn roster_told(conn: &Connection, roster: &str, person: &str) -> Result<RosterTold> {
    let object = format!("roster:{roster}:{person}");
    let mut steps: Vec<(i64, Step)> = Vec::new();
    for t in ok_events(conn, &object, Action::RosterRequest)? {
        if t.detail
            .split(';')
            .next()
            .is_some_and(|d| d.ends_with(" remove"))
        {
            steps.push((t.seq, Step::RemovalAsked));
        }
    }
    for t in ok_events(conn, &object, Action::RosterApprove)? {
        if t.detail.starts_with("remove ") {
            steps.push((t.seq, Step::Removed));
        } else if t.detail.starts_with("add ") {
            steps.push((t.seq, Step::Added));
        }
    }
    steps.sort_unstable_by_key(|(seq, _)| *seq);
    let mut told = RosterTold::default();
    for (seq, step) in steps {
        match step {
            Step::RemovalAsked => told.removing = Some(seq),
            Step::Removed => {
                told.ended = Some(seq);
                told.removing = None;
            }
            Step::Added => told.ended = None,
        }
    }
    Ok(told)
}

enum Step {
    RemovalAsked,
    Removed,
    Added,
}

/// The rows say `person` is on `roster`: the trail must not show the
/// entry ended, nor (when `no_removal` says the rows hold no removal
/// request either) a removal waiting.
pub(crate) fn check_roster_current(
    conn: &Connection,
    roster: &str,
    person: &str,
    no_removal: bool,
) -> Result<()> {
    let told = roster_told(conn, roster, person)?;
    if let Some(seq) = told.ended {
        return Err(Error::tampered(format!(
            "audit event {seq} ended the {roster} roster entry of {person}, but the vault holds it as current (changed outside Kinko)"
        )));
    }
    match told.removing {
        Some(seq) if no_removal => Err(Error::tampered(format!(
            "audit event {seq} asked for {person}'s removal from the {roster} roster, but the vault holds no such request (deleted outside Kinko)"
        ))),
        _ => Ok(()),
    }
}

/// What a policy change's event says of the policy it signed.
pub(crate) fn policy_detail(change: &str, statement: &[u8]) -> String {
    format!("{change}; policy={}", policy_digest(statement))
}

fn policy_digest(statement: &[u8]) -> String {
    crate::crypto::hex(&crate::crypto::sha256(statement)[..16])
}

/// The stored policy statement must be the one the last policy change
/// signed: an older statement of the officer's put back (a setting as it
/// was before a change) is tampering.
pub(crate) fn check_policy_current(conn: &Connection, statement: &[u8]) -> Result<()> {
    let last: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, detail FROM audit_events
             WHERE object >= 'policy:' AND object < 'policy;' AND event = ?1 AND outcome = 'ok'
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([Action::PolicySet.event()], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some((seq, detail)) = last else {
        return Ok(());
    };
    // Changes made before this rule named no policy.
    let Some(named) = detail.rsplit_once("; policy=").map(|(_, d)| d) else {
        return Ok(());
    };
    if named != policy_digest(statement) {
        return Err(Error::tampered(format!(
            "the vault's policy is not the one audit event {seq} set (an earlier policy was put back outside Kinko)"
        )));
    }
    Ok(())
}

/// Who executed disposal plan `plan`, as the trail tells it; the row must
/// say the same. The two-person rule (the confirmer is not the executor)
/// is judged on this.
pub(crate) fn executor_of(conn: &Connection, plan: i64, row: Option<&str>) -> Result<String> {
    let prefix = format!("plan {plan}: ");
    let told = ok_events(conn, "disposal", Action::DisposalExecute)?
        .into_iter()
        .rev()
        .find(|t| t.detail.starts_with(&prefix));
    match (told, row) {
        (Some(t), Some(r)) if t.actor == r => Ok(t.actor),
        (Some(t), _) => Err(Error::tampered(format!(
            "audit event {} shows {} executed disposal plan {plan}, but the vault names {} (changed outside Kinko)",
            t.seq,
            t.actor,
            row.unwrap_or("nobody")
        ))),
        // The execution's event was archived with the old events.
        (None, Some(r)) if archived(conn)? => Ok(r.to_string()),
        (None, _) => Err(Error::tampered(format!(
            "the trail shows no execution of disposal plan {plan}, but the vault holds it as executed (changed outside Kinko)"
        ))),
    }
}

/// Were events archived out of the vault (their facts then rest on the
/// rows)?
pub(crate) fn archived(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit_nodes WHERE level = 0)")?
        .query_row([], |r| r.get(0))?)
}
