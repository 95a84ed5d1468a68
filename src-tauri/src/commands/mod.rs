//! App commands: parse, call the core, return. Every command that needs a
//! person goes through [`with_session`], which enforces the idle lock and
//! notes activity; the core then checks the permission. Errors reach the
//! page as `{code, message}`: the code picks the sentence the page shows,
//! the message is the core's one line.

mod contract;
mod documents;
mod oversight;
mod people;
mod start;

use serde::Serialize;
use tauri::State;

use crate::AppState;

/// Every command, as declared in the ACL manifest (build.rs) and granted
/// in capabilities/default.json.
pub const COMMANDS: &[&str] = include!("../command_names.rs");

pub fn register<R: tauri::Runtime>(b: tauri::Builder<R>) -> tauri::Builder<R> {
    b.invoke_handler(tauri::generate_handler![
        start::app_status,
        start::about,
        start::create_vault,
        start::sign_in,
        start::sign_out,
        start::lock,
        start::touch,
        start::change_password,
        start::totp_enroll,
        start::totp_confirm,
        documents::list_documents,
        documents::show_document,
        documents::pick_file,
        documents::pick_folder,
        documents::import_document,
        documents::cancel_import,
        documents::view_document,
        documents::view_bytes,
        documents::export_document,
        documents::approve_export,
        documents::grant,
        documents::revoke,
        documents::grants_by_person,
        people::list_accounts,
        people::add_account,
        people::account_lifecycle,
        people::reset_account,
        people::set_account_hours,
        people::roster_list,
        people::roster_request_add,
        people::roster_request_remove,
        people::roster_approve,
        people::policy_show,
        people::policy_set,
        oversight::audit_log,
        oversight::audit_verify,
        oversight::audit_checkpoint,
        oversight::alerts,
        oversight::alert_ack,
        oversight::incidents,
        oversight::incident_add,
        oversight::incident_update,
        oversight::incident_close,
        oversight::status_report,
        contract::disposal_status,
        contract::disposal_plan,
        contract::disposal_approve,
        contract::disposal_execute,
        contract::disposal_confirm,
        contract::disposal_report,
    ])
}

/// A refusal as the page receives it: the code, the core's lead for it
/// (the one list both shells use) and the detail line.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub lead: kinko_core::error::Lead,
    pub message: String,
}

impl CommandError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        CommandError {
            code,
            lead: kinko_core::error::lead(code),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        CommandError::new("invalid", message)
    }

    fn not_signed_in() -> Self {
        CommandError::new("not_signed_in", "sign in first")
    }

    /// A long action holds the session; ask again when it is done.
    pub fn busy() -> Self {
        CommandError::new(
            "busy",
            "the app is busy with a long action; try again when it is done",
        )
    }
}

impl From<kinko_core::Error> for CommandError {
    fn from(e: kinko_core::Error) -> Self {
        CommandError {
            code: e.code(),
            lead: e.lead(),
            message: e.to_string(),
        }
    }
}

pub type Reply<T> = Result<T, CommandError>;

/// Run `work` with the signed-in session: refuse if there is none or it
/// sat idle past the policy's limit (then it is ended first), and note
/// the activity.
pub fn with_session<T>(
    state: &State<'_, AppState>,
    work: impl FnOnce(&mut kinko_core::Session) -> kinko_core::Result<T>,
) -> Reply<T> {
    with_session_then(state, work, |_, value| Ok(value))
}

/// Like [`with_session`], for a shell step that must happen while the
/// session is still held (storing a decrypted view before a lock can
/// clear it).
pub fn with_session_then<T, U>(
    state: &State<'_, AppState>,
    work: impl FnOnce(&mut kinko_core::Session) -> kinko_core::Result<T>,
    then: impl FnOnce(&kinko_core::Session, T) -> Reply<U>,
) -> Reply<U> {
    if state.lock_if_idle() {
        return Err(locked());
    }
    let mut guard = state
        .session
        .lock()
        .map_err(|_| CommandError::not_signed_in())?;
    if state.is_locking() {
        // The window locked while this call waited for the session.
        state.end_locked(&mut guard);
        return Err(CommandError::not_signed_in());
    }
    let session = guard.as_mut().ok_or_else(CommandError::not_signed_in)?;
    state.touch();
    let shown = work(session)
        .map_err(CommandError::from)
        .and_then(|v| then(session, v));
    if state.is_locking() {
        // Locked while this ran: show nothing of it (a view it stored is
        // forgotten with the session).
        state.end_locked(&mut guard);
        return Err(locked());
    }
    shown
}

fn locked() -> CommandError {
    CommandError::new("locked", "the app locked; sign in again")
}

/// The folder behind a handle the chooser gave the page.
pub fn chosen_folder(state: &State<'_, AppState>, handle: &str) -> Reply<std::path::PathBuf> {
    state.choices.take(handle, crate::chooser::Kind::Folder)
}

/// The file behind a handle the chooser (or a drop) gave the page.
pub fn chosen_file(state: &State<'_, AppState>, handle: &str) -> Reply<std::path::PathBuf> {
    state.choices.take(handle, crate::chooser::Kind::File)
}

/// A date typed as YYYY-MM-DD.
pub fn date(what: &str, text: &str) -> Reply<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CommandError::invalid(format!("{what} must be a date like 2026-11-25")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_is_granted_by_the_capability() {
        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../../capabilities/default.json")).unwrap();
        let granted: Vec<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let mut wanted: Vec<String> = super::COMMANDS
            .iter()
            .map(|c| format!("allow-{}", c.replace('_', "-")))
            .collect();
        // Drag and drop arrives as a window event the page listens for.
        wanted.extend([
            "core:event:allow-listen".into(),
            "core:event:allow-unlisten".into(),
        ]);
        assert_eq!(
            granted, wanted,
            "capabilities/default.json must grant exactly these"
        );
    }
}
