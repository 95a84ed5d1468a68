//! Oversight: the audit trail (timeline, filters, verification, signed
//! checkpoints), alerts with acknowledgement, the incident register and
//! the monthly status report.

use serde::{Deserialize, Serialize};
use tauri::State;

use kinko_core::incident::{Incident, IncidentFields};

use super::calling::{chosen_folder, with_session, with_session_unattended};
use crate::error::{CommandError, Reply};
use crate::files::write_new;
use crate::state::AppState;

#[derive(Debug, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
pub struct LogFilter {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub event: Option<String>,
    pub object: Option<String>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[tauri::command(async)]
pub fn audit_log(
    state: State<'_, AppState>,
    filter: LogFilter,
) -> Reply<Vec<kinko_core::audit::Record>> {
    let q = kinko_core::audit::Query {
        since: given(filter.since),
        until: given(filter.until),
        actor: given(filter.actor),
        event: given(filter.event),
        object: given(filter.object),
    };
    with_session(&state, |s| s.audit_log(&q))
}

#[tauri::command]
pub async fn audit_verify(
    state: State<'_, AppState>,
) -> Reply<kinko_core::audit::verify::TrailReport> {
    with_session(&state, |s| s.audit_verify(None))
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Saved {
    pub paths: Vec<String>,
}

/// Sign a checkpoint of the trail and save it, to keep apart from the
/// vault (a later verify against it detects a rewritten trail).
#[tauri::command(async)]
pub fn audit_checkpoint(state: State<'_, AppState>, folder: String) -> Reply<Saved> {
    let dir = chosen_folder(&state, &folder)?;
    let c = with_session(&state, |s| s.audit_checkpoint())?;
    let name = format!("kinko-checkpoint-{}.json", c.size);
    let path = write_new(&dir, &name, &c.to_json())?;
    Ok(Saved {
        paths: vec![path.display().to_string()],
    })
}

#[tauri::command(async)]
pub fn alerts(
    state: State<'_, AppState>,
    all: bool,
) -> Reply<Vec<kinko_core::audit::alerts::Alert>> {
    with_session(&state, |s| s.alerts(all))
}

/// Open alerts raised after `after` (at sign-in, 0: every open one), for
/// the badge; the desktop is told of them too. A watch is no activity, and
/// while the session is busy (a long receipt) it waits for the next turn.
#[tauri::command(async)]
pub fn watch_alerts(
    state: State<'_, AppState>,
    after: i64,
) -> Reply<Vec<kinko_core::audit::alerts::Alert>> {
    let fresh = with_session_unattended(&state, |s| s.watch_alerts(after))?.unwrap_or_default();
    crate::desktop::tell_of_alerts(&fresh);
    Ok(fresh)
}

#[tauri::command(async)]
pub fn alert_ack(state: State<'_, AppState>, id: i64, note: String) -> Reply<()> {
    with_session(&state, |s| s.alert_ack(id, note.trim()))
}

#[tauri::command(async)]
pub fn incidents(state: State<'_, AppState>, all: bool) -> Reply<Vec<Incident>> {
    with_session(&state, |s| s.incidents(all))
}

/// What the incident form sends; empty fields are left as they were.
#[derive(Debug, Deserialize, Default)]
pub struct IncidentForm {
    pub detected_at: Option<String>,
    pub reported_at: Option<String>,
    pub summary: Option<String>,
    pub items: Option<String>,
    pub actions: Option<String>,
    pub improvement: Option<String>,
}

impl IncidentForm {
    fn fields(self) -> IncidentFields {
        IncidentFields {
            detected_at: given(self.detected_at),
            reported_at: given(self.reported_at),
            summary: given(self.summary),
            items: given(self.items).map(|i| {
                i.split([',', '、', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
            actions: given(self.actions),
            improvement: given(self.improvement),
        }
    }
}

#[tauri::command(async)]
pub fn incident_add(state: State<'_, AppState>, form: IncidentForm) -> Reply<i64> {
    let f = form.fields();
    with_session(&state, |s| s.incident_add(&f))
}

#[tauri::command(async)]
pub fn incident_update(state: State<'_, AppState>, id: i64, form: IncidentForm) -> Reply<Incident> {
    let f = form.fields();
    with_session(&state, |s| s.incident_update(id, &f))
}

#[tauri::command(async)]
pub fn incident_close(state: State<'_, AppState>, id: i64, note: String) -> Reply<()> {
    with_session(&state, |s| s.incident_close(id, note.trim()))
}

/// 履行状況報告 for a month, saved as a signed printable page.
#[tauri::command]
pub async fn status_report(
    state: State<'_, AppState>,
    month: String,
    folder: String,
) -> Reply<Saved> {
    let dir = chosen_folder(&state, &folder)?;
    let name = format!("kinko-status-{}.html", month.trim());
    if dir.join(&name).exists() {
        return Err(CommandError::invalid(format!(
            "{} already exists; move it away or choose another folder",
            dir.join(&name).display()
        )));
    }
    let files = with_session(&state, |s| s.status_report(month.trim()))?;
    let path = write_new(&dir, &name, files.html.as_bytes())?;
    Ok(Saved {
        paths: vec![path.display().to_string()],
    })
}
