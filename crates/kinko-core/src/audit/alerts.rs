//! Alert rules (A5, A6), run on every event as it is appended, inside the
//! same transaction: an alert is raised exactly when its event is written.
//! Raising is itself an event (`alert.raise`, by `kinko`), and so is
//! acknowledging (`alert.ack`, by an officer or manager, with a note).
//!
//! Rules and their policy keys:
//! - `bulk_access`: one person viewed or exported documents more than
//!   `alert.bulk_count` times within `alert.bulk_minutes` (views in the
//!   app's viewer count as much as exports).
//! - `off_hours`: a person acted outside their allowed hours, or on a
//!   weekend or public holiday (unless `alert.holidays` is false).
//! - `failed_signins`: `alert.failed_count` failed sign-ins of one ID
//!   within `alert.failed_minutes`.
//! - `ended_access`: a refused document action by someone whose grant of
//!   that document was revoked or whose roster entry has ended.
//! - `personal_data_export`: a document marked as personal data left the
//!   vault.
//! - `clock_anomaly`: an event's time is earlier than the one before it.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::event::{
    is_content_access, is_export, Event, CONTENT_ACCESS, DENIED, FAILED, OK, SYSTEM, TAMPERED,
};
use crate::error::{Error, Result};
use crate::policy::{self, Hours, Policy};
use crate::trail_facts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    BulkAccess,
    OffHours,
    FailedSignins,
    EndedAccess,
    PersonalDataExport,
    ClockAnomaly,
}

impl Rule {
    pub const ALL: [Rule; 6] = [
        Rule::BulkAccess,
        Rule::OffHours,
        Rule::FailedSignins,
        Rule::EndedAccess,
        Rule::PersonalDataExport,
        Rule::ClockAnomaly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::BulkAccess => "bulk_access",
            Rule::OffHours => "off_hours",
            Rule::FailedSignins => "failed_signins",
            Rule::EndedAccess => "ended_access",
            Rule::PersonalDataExport => "personal_data_export",
            Rule::ClockAnomaly => "clock_anomaly",
        }
    }
}

/// An alert as listed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alert {
    pub id: i64,
    pub rule: String,
    pub actor: String,
    pub object: String,
    /// The event that raised it.
    pub seq: i64,
    pub at: String,
    pub summary: String,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
    pub ack_note: Option<String>,
}

/// Run the rules on event `seq` just written. `clock_back` is the time of
/// the event before it, when that is later than this one's. Each alert is
/// recorded here; its `alert.raise` events are returned for the trail to
/// append after this one.
pub fn on_event(
    conn: &Connection,
    seq: i64,
    e: &Event,
    clock_back: Option<&str>,
) -> Result<Vec<Event>> {
    let mut raised = Vec::new();
    if e.event == "alert.raise" {
        return Ok(raised);
    }
    if let Some(previous) = clock_back {
        let summary = format!(
            "the clock went back: event {seq} is dated {}, earlier than the event before it ({previous})",
            e.at
        );
        raised.push(raise(conn, Rule::ClockAnomaly, e, seq, &summary)?);
    }
    if e.actor == SYSTEM || e.actor == "-" {
        return Ok(raised);
    }
    let policy = Policy::load(conn)?;
    let at = parse_time(&e.at)?;
    for (rule, summary) in [
        bulk_access(conn, &policy, e, at)?,
        off_hours(conn, &policy, e, at)?,
        failed_signins(conn, &policy, e, at)?,
        ended_access(conn, e, at)?,
        personal_data_export(e),
    ]
    .into_iter()
    .flatten()
    {
        raised.push(raise(conn, rule, e, seq, &summary)?);
    }
    Ok(raised)
}

fn parse_time(at: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::tampered(format!("an audit event's time '{at}' is not a time")))
}

fn since(at: DateTime<Utc>, minutes: u64) -> String {
    (at - Duration::minutes(minutes as i64)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Was `rule` already raised for `actor` since `from`? One alert per
/// burst is enough to call a person's attention.
fn raised_since(conn: &Connection, rule: Rule, actor: &str, from: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT 1 FROM alerts WHERE rule = ?1 AND actor = ?2 AND at >= ?3 AND {ALERT_BACKED} LIMIT 1"
        ))?
        .query_row(params![rule.name(), actor, from], |_| Ok(()))
        .optional()?
        .is_some())
}

type Finding = Option<(Rule, String)>;

fn bulk_access(
    conn: &Connection,
    policy: &Policy,
    e: &Event,
    at: DateTime<Utc>,
) -> Result<Finding> {
    if !is_content_access(e) {
        return Ok(None);
    }
    let (limit, minutes) = (
        policy.number("alert.bulk_count"),
        policy.number("alert.bulk_minutes"),
    );
    let from = since(at, minutes);
    let count: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM audit_events WHERE actor = ?1 AND at >= ?2 AND at <= ?3
             AND event IN (?4, ?5) AND outcome = 'ok'",
        )?
        .query_row(
            params![e.actor, from, e.at, CONTENT_ACCESS[0], CONTENT_ACCESS[1]],
            |r| r.get(0),
        )?;
    if count as u64 <= limit || raised_since(conn, Rule::BulkAccess, &e.actor, &from)? {
        return Ok(None);
    }
    Ok(Some((
        Rule::BulkAccess,
        format!(
            "{} viewed or exported documents {count} times within {minutes} minutes (more than {limit})",
            e.actor
        ),
    )))
}

fn off_hours(conn: &Connection, policy: &Policy, e: &Event, at: DateTime<Utc>) -> Result<Finding> {
    // A failed sign-in from the inbox is dated as its sealer wrote, and
    // anyone can seal one: its time frames nobody.
    if super::event::from_the_inbox(e) {
        return Ok(None);
    }
    let account: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT roles, hours FROM accounts WHERE id = ?1")?
        .query_row([&e.actor], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((roles, own)) = account else {
        return Ok(None);
    };
    let local = at.with_timezone(&crate::time::japan());
    let day_off = policy::is_day_off(local.date_naive());
    let roles = crate::permission::Roles::parse(&roles)?;
    let own = own.map(|h| Hours::parse(&h)).transpose()?;
    let outside = policy::check_hours(policy, &roles, own, local).is_err();
    let holiday = day_off && policy.flag("alert.holidays");
    if !(outside || holiday) {
        return Ok(None);
    }
    if raised_since(conn, Rule::OffHours, &e.actor, &since(at, 60))? {
        return Ok(None);
    }
    let when = local.format("%Y-%m-%d %H:%M");
    let why = if outside {
        "outside the allowed hours"
    } else {
        "on a weekend or public holiday"
    };
    Ok(Some((
        Rule::OffHours,
        format!(
            "{} acted ({}) {why}, at {when} Japan time",
            e.actor, e.event
        ),
    )))
}

fn failed_signins(
    conn: &Connection,
    policy: &Policy,
    e: &Event,
    at: DateTime<Utc>,
) -> Result<Finding> {
    if e.event != "session.signin"
        || !(e.outcome == FAILED || e.outcome == TAMPERED || e.outcome == DENIED)
    {
        return Ok(None);
    }
    let (limit, minutes) = (
        policy.number("alert.failed_count"),
        policy.number("alert.failed_minutes"),
    );
    let from = since(at, minutes);
    let count: i64 = conn.prepare_cached("SELECT count(*) FROM audit_events WHERE actor = ?1 AND at >= ?2 AND at <= ?3 AND event = 'session.signin' AND outcome <> 'ok'")?.query_row(params![e.actor, from, e.at],
        |r| r.get(0),
    )?;
    if (count as u64) < limit || raised_since(conn, Rule::FailedSignins, &e.actor, &from)? {
        return Ok(None);
    }
    Ok(Some((
        Rule::FailedSignins,
        format!(
            "{count} failed sign-ins as {} within {minutes} minutes",
            e.actor
        ),
    )))
}

fn ended_access(conn: &Connection, e: &Event, at: DateTime<Utc>) -> Result<Finding> {
    if e.outcome != DENIED || !e.event.starts_with("document.") {
        return Ok(None);
    }
    // Revoked, and not granted again since.
    let last = |event: &str, detail: String| -> Result<i64> {
        Ok(conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM audit_events WHERE event = ?1 AND outcome = 'ok' AND object = ?2 AND detail = ?3")?.query_row(params![event, e.object, detail],
            |r| r.get(0),
        )?)
    };
    let revoked_at = last("document.revoke", format!("from={}", e.actor))?;
    let revoked = revoked_at > last("document.grant", format!("to={}", e.actor))?;
    let roster_ended = conn
        .prepare_cached("SELECT 1 FROM roster_entries WHERE person = ?1 AND ended_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM roster_entries WHERE person = ?1 AND ended_at IS NULL) LIMIT 1")?.query_row([&e.actor],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let why = match (revoked, roster_ended) {
        (_, true) => "whose roster entry has ended",
        (true, false) => "whose grant of it was revoked",
        (false, false) => return Ok(None),
    };
    if raised_since(conn, Rule::EndedAccess, &e.actor, &since(at, 10))? {
        return Ok(None);
    }
    Ok(Some((
        Rule::EndedAccess,
        format!("{} {why} tried {} on {}", e.actor, e.event, e.object),
    )))
}

fn personal_data_export(e: &Event) -> Finding {
    (is_export(e) && e.detail.starts_with("personal data")).then(|| {
        (
            Rule::PersonalDataExport,
            format!(
                "{} took personal data out of the vault: {} ({})",
                e.actor, e.object, e.detail
            ),
        )
    })
}

/// Record the alert; its `alert.raise` event is for the caller to append.
fn raise(conn: &Connection, rule: Rule, e: &Event, seq: i64, summary: &str) -> Result<Event> {
    conn.prepare_cached("INSERT INTO alerts (rule, actor, object, seq, at, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![rule.name(), e.actor, e.object, seq, e.at, summary],
    )?;
    let id = conn.last_insert_rowid();
    Ok(Event::new(
        SYSTEM,
        "alert.raise",
        &format!("alert:{id}"),
        OK,
        &e.terminal,
        &alert_detail(rule.name(), summary),
    ))
}

/// Alerts, newest first; only the unacknowledged unless `all`.
pub fn list(conn: &Connection, all: bool) -> Result<Vec<Alert>> {
    let found = select(conn, "?1 OR acked_by IS NULL", params![all])?;
    check_alerts(conn, &found)?;
    Ok(found)
}

/// Open alerts numbered after `after`, oldest first (for a watcher).
pub fn open_after(conn: &Connection, after: i64) -> Result<Vec<Alert>> {
    let mut found = select(conn, "id > ?1 AND acked_by IS NULL", params![after])?;
    check_alerts(conn, &found)?;
    found.reverse();
    Ok(found)
}

/// Alerts raised between two times (for the reports), newest first.
pub fn between(conn: &Connection, from: &str, to: &str) -> Result<Vec<Alert>> {
    let found = select(conn, "at >= ?1 AND at < ?2", params![from, to])?;
    check_alerts(conn, &found)?;
    Ok(found)
}

fn select(conn: &Connection, filter: &str, args: impl rusqlite::Params) -> Result<Vec<Alert>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, rule, actor, object, seq, at, summary, acked_by, acked_at, ack_note FROM alerts
         WHERE {filter} ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map(args, |r| {
        Ok(Alert {
            id: r.get(0)?,
            rule: r.get(1)?,
            actor: r.get(2)?,
            object: r.get(3)?,
            seq: r.get(4)?,
            at: r.get(5)?,
            summary: r.get(6)?,
            acked_by: r.get(7)?,
            acked_at: r.get(8)?,
            ack_note: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The detail of an `alert.raise` event: the rule and the summary.
pub(crate) fn alert_detail(rule: &str, summary: &str) -> String {
    format!("{rule}: {summary}")
}

/// Alerts are rows; each was raised with its `alert.raise` event and
/// acknowledged with its `alert.ack` event, in the same transaction. A row
/// the trail does not back (made by hand: to look raised, so a rule stays
/// quiet, or acknowledged by someone who did not), one that says other
/// than its event, or a row deleted (numbers are never reused, so a gap
/// or a raise event past the last row shows it) is tampering. Rows whose
/// events were archived rest on themselves.
pub(crate) fn check_alerts(conn: &Connection, rows: &[Alert]) -> Result<()> {
    let first_kept: i64 = conn
        .prepare_cached("SELECT coalesce(min(seq), 0) FROM audit_events")?
        .query_row([], |r| r.get(0))?;
    let archived = trail_facts::archived(conn)?;
    for a in rows {
        if archived && a.seq < first_kept {
            continue;
        }
        let object = format!("alert:{}", a.id);
        let raised = trail_facts::ok_events_by(conn, &object, "alert.raise", SYSTEM)?;
        let says = alert_detail(&a.rule, &a.summary);
        let trigger: Option<(String, String)> = conn
            .prepare_cached("SELECT actor, at FROM audit_events WHERE seq = ?1")?
            .query_row([a.seq], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let same_trigger = trigger.is_some_and(|(actor, at)| actor == a.actor && at == a.at);
        if !same_trigger || !raised.iter().any(|t| t.detail == says) {
            return Err(Error::tampered(format!(
                "alert {} is not the alert the trail raised (its rule, summary, person or time differ from its events)",
                a.id
            )));
        }
        if let Some(by) = &a.acked_by {
            if !trail_facts::ok_events(conn, &object, crate::permission::Action::AlertAck)?
                .iter()
                .any(|t| &t.actor == by)
            {
                return Err(Error::tampered(format!(
                    "alert {} says {by} acknowledged it, and the trail holds no such acknowledgement",
                    a.id
                )));
            }
        }
    }
    let (count, last): (i64, i64) = conn
        .prepare_cached("SELECT count(*), coalesce(max(id), 0) FROM alerts")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let next_raised =
        !trail_facts::ok_events_by(conn, &format!("alert:{}", last + 1), "alert.raise", SYSTEM)?
            .is_empty();
    if count != last || next_raised {
        return Err(Error::tampered(
            "an alert was deleted: the trail raised more alerts than the vault lists",
        ));
    }
    Ok(())
}

/// Whether alert row `id` (rule, summary) is backed by its raise event:
/// the rules' once-per-window check believes only such rows.
pub(crate) const ALERT_BACKED: &str = "EXISTS (SELECT 1 FROM audit_events e
     WHERE e.object = 'alert:' || alerts.id AND e.event = 'alert.raise' AND e.outcome = 'ok'
       AND e.actor = 'kinko' AND e.detail = alerts.rule || ': ' || alerts.summary)
     AND EXISTS (SELECT 1 FROM audit_events t
     WHERE t.seq = alerts.seq AND t.at = alerts.at AND t.actor = alerts.actor)";
