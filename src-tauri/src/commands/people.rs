//! Accounts (the system administrator), the rosters with their pending
//! requests and the bureau's approvals, and the policy.

use serde::Serialize;
use tauri::State;

use kinko_core::account::Lifecycle;
use kinko_core::roster::{Roster, RosterFields};

use super::calling::with_session;
use crate::error::{CommandError, Reply};
use crate::state::AppState;

#[tauri::command(async)]
pub fn list_accounts(state: State<'_, AppState>) -> Reply<Vec<kinko_core::AccountInfo>> {
    with_session(&state, |s| s.list_accounts())
}

/// A new or reset account's initial password, shown once.
#[derive(Debug, Serialize)]
pub struct Issued {
    pub id: String,
    pub initial_password: String,
}

impl From<kinko_core::NewAccount> for Issued {
    fn from(new: kinko_core::NewAccount) -> Self {
        Issued {
            id: new.id,
            initial_password: new.initial_password.as_str().to_string(),
        }
    }
}

#[tauri::command(async)]
pub fn add_account(
    state: State<'_, AppState>,
    id: String,
    name: String,
    roles: String,
) -> Reply<Issued> {
    with_session(&state, |s| {
        s.add_account(id.trim(), name.trim(), roles.trim())
    })
    .map(Issued::from)
}

/// The officer vouches for an account, comparing the key fingerprint the
/// person's own screen shows.
#[tauri::command(async)]
pub fn certify_account(
    state: State<'_, AppState>,
    id: String,
    fingerprint: String,
) -> Reply<kinko_core::Certified> {
    with_session(&state, |s| {
        s.certify_account(id.trim(), Some(fingerprint.trim()))
    })
}

#[tauri::command(async)]
pub fn account_lifecycle(state: State<'_, AppState>, id: String, what: String) -> Reply<()> {
    let what = match what.as_str() {
        "suspend" => Lifecycle::Suspend,
        "resume" => Lifecycle::Resume,
        "disable" => Lifecycle::Disable,
        "unlock" => Lifecycle::Unlock,
        other => {
            return Err(CommandError::invalid(format!(
                "unknown account action {other}"
            )))
        }
    };
    with_session(&state, |s| s.account_lifecycle(id.trim(), what))
}

#[tauri::command(async)]
pub fn reset_account(state: State<'_, AppState>, id: String) -> Reply<Issued> {
    with_session(&state, |s| s.reset_account(id.trim())).map(Issued::from)
}

#[tauri::command(async)]
pub fn set_account_hours(
    state: State<'_, AppState>,
    id: String,
    hours: Option<String>,
) -> Reply<()> {
    let hours = hours.filter(|h| !h.trim().is_empty());
    with_session(&state, |s| s.set_account_hours(id.trim(), hours.as_deref()))
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Rosters {
    pub entries: Vec<kinko_core::roster::Entry>,
    pub requests: Vec<kinko_core::roster::Request>,
}

#[tauri::command(async)]
pub fn roster_list(state: State<'_, AppState>) -> Reply<Rosters> {
    let (entries, requests) = with_session(&state, |s| s.roster_list())?;
    Ok(Rosters { entries, requests })
}

#[tauri::command(async)]
pub fn roster_request_add(
    state: State<'_, AppState>,
    roster: Roster,
    person: String,
    fields: RosterFields,
) -> Reply<i64> {
    with_session(&state, |s| {
        s.roster_request_add(roster, person.trim(), &fields)
    })
}

#[tauri::command(async)]
pub fn roster_request_remove(
    state: State<'_, AppState>,
    roster: Roster,
    person: String,
) -> Reply<i64> {
    with_session(&state, |s| s.roster_request_remove(roster, person.trim()))
}

#[tauri::command(async)]
pub fn roster_approve(
    state: State<'_, AppState>,
    request: i64,
    reference: String,
    date: String,
) -> Reply<()> {
    let date = super::calling::date("the approval date", &date)?.to_string();
    with_session(&state, |s| {
        s.roster_approve(request, reference.trim(), &date)
    })
}

#[tauri::command(async)]
pub fn policy_show(state: State<'_, AppState>) -> Reply<Vec<kinko_core::policy::PolicyEntry>> {
    with_session(&state, |s| s.policy_show())
}

#[tauri::command(async)]
pub fn policy_set(state: State<'_, AppState>, key: String, value: String) -> Reply<()> {
    with_session(&state, |s| s.policy_set(key.trim(), value.trim()))?;
    // A new idle limit applies at once.
    if key.trim() == "session.idle_minutes" {
        if let Ok(minutes) = value.trim().parse::<u64>() {
            if let Ok(mut a) = state.activity.lock() {
                a.limit = std::time::Duration::from_secs(minutes.max(1) * 60);
            }
        }
    }
    Ok(())
}
