//! The end of the contract: plan (別添1) → the bureau's approval →
//! execution → confirmation by a second person → completion report
//! (別添2). Each step is the core's; the screen shows who did it and when.

use serde::Deserialize;
use tauri::State;

use kinko_core::disposal::{PlanRequest, PlanState};

use super::calling::{chosen_folder, date, with_session};
use super::oversight::Saved;
use crate::error::{CommandError, Reply};
use crate::files::write_new;
use crate::state::AppState;

#[tauri::command(async)]
pub fn disposal_status(state: State<'_, AppState>) -> Reply<Option<PlanState>> {
    match with_session(&state, |s| s.disposal_status()) {
        Ok(p) => Ok(Some(p)),
        // No plan yet is a state, not an error, for the screen.
        Err(e) if e.code == "not_found" => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PlanForm {
    pub executor: String,
    pub confirmer: String,
    /// Document numbers, or empty for everything.
    pub items: Vec<i64>,
    pub planned_date: String,
    pub returned: bool,
    /// The chooser's handle for the folder to save into.
    pub folder: String,
}

/// Names for a printable page and its signed JSON twin, refused if taken.
fn free_pair(dir: &std::path::Path, stem: &str) -> Reply<(String, String)> {
    let (html, json) = (format!("{stem}.html"), format!("{stem}.json"));
    for n in [&html, &json] {
        if dir.join(n).exists() {
            return Err(CommandError::invalid(format!(
                "{} already exists; move it away or choose another folder",
                dir.join(n).display()
            )));
        }
    }
    Ok((html, json))
}

#[tauri::command]
pub async fn disposal_plan(state: State<'_, AppState>, form: PlanForm) -> Reply<Saved> {
    let dir = chosen_folder(&state, &form.folder)?;
    let planned_date = date("the planned completion date", &form.planned_date)?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let (html, json) = free_pair(&dir, &format!("kinko-disposal-plan-{stamp}"))?;
    let items = (!form.items.is_empty()).then_some(form.items.as_slice());
    let files = with_session(&state, |s| {
        s.disposal_plan(&PlanRequest {
            executor: form.executor.trim(),
            confirmer: form.confirmer.trim(),
            items,
            planned_date: Some(planned_date),
            returned: form.returned,
        })
    })?;
    let a = write_new(&dir, &html, files.html.as_bytes())?;
    let b = write_new(&dir, &json, files.json.as_bytes())?;
    Ok(Saved {
        paths: vec![a.display().to_string(), b.display().to_string()],
    })
}

#[tauri::command(async)]
pub fn disposal_approve(
    state: State<'_, AppState>,
    reference: String,
    approved_on: String,
    sha256: String,
) -> Reply<i64> {
    let day = date("the approval date", &approved_on)?;
    // The SHA-256 is typed from the printed plan; the core requires it.
    with_session(&state, |s| {
        s.disposal_approve(reference.trim(), day, &sha256)
    })
}

#[tauri::command]
pub async fn disposal_execute(state: State<'_, AppState>) -> Reply<PlanState> {
    with_session(&state, |s| s.disposal_execute())
}

#[tauri::command]
pub async fn disposal_confirm(
    state: State<'_, AppState>,
    recovery_code: zeroize::Zeroizing<String>,
) -> Reply<PlanState> {
    with_session(&state, |s| s.disposal_confirm(Some(recovery_code.as_str())))
}

#[tauri::command]
pub async fn disposal_report(state: State<'_, AppState>, folder: String) -> Reply<Saved> {
    let dir = chosen_folder(&state, &folder)?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let (html, json) = free_pair(&dir, &format!("kinko-disposal-report-{stamp}"))?;
    let r = with_session(&state, |s| s.disposal_report())?;
    let a = write_new(&dir, &html, r.html.as_bytes())?;
    let b = write_new(&dir, &json, r.json.as_bytes())?;
    Ok(Saved {
        paths: vec![a.display().to_string(), b.display().to_string()],
    })
}
