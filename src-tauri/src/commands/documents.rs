//! Documents: the list, receipt (import) with progress, the in-memory
//! viewer, export under the export rules, and grants.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, Response};
use tauri::State;
use tauri_plugin_dialog::DialogExt;

use super::calling::{chosen_file, chosen_folder, with_session, with_session_then};
use crate::chooser::{scripted_answer, Chosen, Kind};
use crate::error::{CommandError, Reply};
use crate::state::AppState;

#[tauri::command(async)]
pub fn list_documents(state: State<'_, AppState>) -> Reply<Vec<kinko_core::DocumentInfo>> {
    with_session(&state, |s| s.list_documents())
}

#[tauri::command(async)]
pub fn show_document(state: State<'_, AppState>, id: i64) -> Reply<kinko_core::DocumentInfo> {
    with_session(&state, |s| s.show_document(id))
}

/// The system's file chooser: a file to receive. The path stays here;
/// the page gets a one-time handle. None if cancelled.
#[tauri::command]
pub async fn pick_file<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Reply<Option<Chosen>> {
    pick(&app, &state, Kind::File)
}

/// The system's folder chooser: where to save forms, reports and exports.
#[tauri::command]
pub async fn pick_folder<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Reply<Option<Chosen>> {
    pick(&app, &state, Kind::Folder)
}

/// Ask the person (a session is needed) and keep their choice.
fn pick<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    state: &State<'_, AppState>,
    kind: Kind,
) -> Reply<Option<Chosen>> {
    with_session(state, |_| Ok(()))?;
    let picked = scripted_answer().unwrap_or_else(|| {
        let dialog = app.dialog().file();
        match kind {
            Kind::File => dialog.blocking_pick_file(),
            Kind::Folder => dialog.blocking_pick_folder(),
        }
        .and_then(|p| p.into_path().ok())
    });
    Ok(picked.map(|p| state.choices.offer(kind, p)))
}

#[derive(Debug, Deserialize)]
pub struct Receipt {
    /// The chooser's (or a drop's) handle for the file, never a path.
    pub file: String,
    pub origin: String,
    pub via: String,
    pub purpose: String,
    pub title: Option<String>,
    pub personal_data: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Receive a file into the vault, reporting progress as it is encrypted.
#[tauri::command]
pub async fn import_document(
    state: State<'_, AppState>,
    req: Receipt,
    progress: Channel<Progress>,
) -> Reply<i64> {
    let source = chosen_file(&state, &req.file)?;
    let request = kinko_core::ImportRequest {
        source,
        origin: req.origin,
        via: req.via,
        purpose: req.purpose,
        title: req.title.filter(|t| !t.trim().is_empty()),
        personal_data: req.personal_data,
    };
    let mut last = 0u64;
    let activity = &state;
    let mut report = |done: u64, total: u64| {
        // Watching a long receipt is activity: it must not lock meanwhile.
        activity.touch();
        // A message per percent at most: the page needs no more.
        if done == total || done.saturating_sub(last) * 100 >= total.max(1) {
            last = done;
            let _ = progress.send(Progress { done, total });
        }
    };
    state.cancel_import.store(false, Ordering::Relaxed);
    with_session(&state, |s| {
        s.import_cancellable(&request, &mut report, &state.cancel_import)
    })
}

/// Stop the running receipt: the core keeps nothing of it. A plain
/// (main-thread) command: it never waits, and must run even while every
/// worker of the async runtime is busy with a long action.
#[tauri::command]
pub fn cancel_import(state: State<'_, AppState>) -> Reply<()> {
    state.cancel_import.store(true, Ordering::Relaxed);
    Ok(())
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ViewInfo {
    pub id: i64,
    pub title: String,
    pub kind: kinko_core::viewer::ViewKind,
    pub size: usize,
    /// Who views and when: the watermark over every page.
    pub viewer: String,
    pub at: String,
}

/// Decrypt a document into memory for the viewer (logged as a view). The
/// page then takes the bytes with `view_bytes`.
#[tauri::command]
pub async fn view_document(state: State<'_, AppState>, id: i64) -> Reply<ViewInfo> {
    with_session_then(
        &state,
        |s| s.view_document(id),
        |s, view| {
            let info = ViewInfo {
                id: view.id,
                title: view.title.clone(),
                kind: view.kind,
                size: view.bytes.len(),
                viewer: view.viewer.clone(),
                at: view.at.clone(),
            };
            let mut viewing = state
                .viewing
                .lock()
                .map_err(|_| CommandError::invalid("the app's state is damaged; restart it"))?;
            *viewing = Some((s.actor().id.clone(), view));
            Ok(info)
        },
    )
}

/// Hand the decrypted bytes to the page, once, and only to the person
/// who opened them. They travel in memory over the app's IPC channel.
#[tauri::command(async)]
pub fn view_bytes(state: State<'_, AppState>, id: i64) -> Reply<Response> {
    with_session_then(
        &state,
        |_| Ok(()),
        |s, ()| {
            let taken = state
                .viewing
                .lock()
                .map_err(|_| CommandError::invalid("the app's state is damaged; restart it"))?
                .take();
            let mut view = taken
                .filter(|(who, v)| *who == s.actor().id && v.id == id)
                .map(|(_, v)| v)
                .ok_or_else(|| CommandError::invalid("open the document again"))?;
            // Moved, not copied: the only plaintext left in the shell is
            // the response on its way to the page.
            Ok(Response::new(std::mem::take(&mut *view.bytes)))
        },
    )
}

/// Export a document's plaintext to a new file: a logged act under the
/// export rules (personal data needs the officer's approval).
#[tauri::command]
pub async fn export_document(
    state: State<'_, AppState>,
    id: i64,
    folder: String,
) -> Reply<kinko_core::ExportReceipt> {
    let dir = chosen_folder(&state, &folder)?;
    let name = with_session(&state, |s| s.show_document(id))?.file_name;
    // Only the last part of the recorded name, so it cannot lead elsewhere.
    let file = std::path::Path::new(&name)
        .file_name()
        .map(|n| n.to_owned())
        .ok_or_else(|| CommandError::invalid("the document has no usable file name"))?;
    let target = dir.join(file);
    with_session(&state, |s| {
        s.export(id, kinko_core::ExportTarget::File(&target))
    })
}

#[tauri::command(async)]
pub fn approve_export(
    state: State<'_, AppState>,
    id: i64,
    reference: String,
    person: Option<String>,
) -> Reply<i64> {
    let person = person.filter(|p| !p.trim().is_empty());
    with_session(&state, |s| {
        s.approve_export(id, reference.trim(), person.as_deref())
    })
}

#[tauri::command(async)]
pub fn grant(state: State<'_, AppState>, id: i64, person: String) -> Reply<()> {
    with_session(&state, |s| s.grant(id, person.trim()))
}

/// Every grant in force, by person.
#[tauri::command(async)]
pub fn grants_by_person(state: State<'_, AppState>) -> Reply<Vec<kinko_core::grant::Holding>> {
    with_session(&state, |s| s.grants_by_person())
}

#[tauri::command(async)]
pub fn revoke(state: State<'_, AppState>, id: i64, person: String) -> Reply<()> {
    with_session(&state, |s| s.revoke(id, person.trim()))
}
