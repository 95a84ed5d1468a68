//! How every command calls the core: through the one open session (the
//! idle lock first, activity noted), with paths only from the chooser's
//! handles.

use tauri::State;

use crate::error::{CommandError, Reply};
use crate::state::AppState;

/// Run blocking work from a command: the core's calls to an office
/// server use a blocking HTTP client, which may not run, nor be dropped,
/// on one of the async runtime's workers as it is; `block_in_place` hands
/// the worker's other tasks to another worker for the time. Outside the
/// runtime (the main thread, the idle watcher) it simply runs.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

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
    blocking(|| with_session_here(state, work, then))
}

fn with_session_here<T, U>(
    state: &State<'_, AppState>,
    work: impl FnOnce(&mut kinko_core::Session) -> kinko_core::Result<T>,
    then: impl FnOnce(&kinko_core::Session, T) -> Reply<U>,
) -> Reply<U> {
    if state.lock_if_idle() {
        return Err(CommandError::locked());
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
        return Err(CommandError::locked());
    }
    shown
}

/// Run `work`, which the program does on its own (a watch), with the
/// signed-in session: the same refusals as [`with_session`], but no
/// activity is noted, and a session busy with the person's own work is
/// not waited for (`None`: ask again later).
pub fn with_session_unattended<T>(
    state: &State<'_, AppState>,
    work: impl FnOnce(&mut kinko_core::Session) -> kinko_core::Result<T>,
) -> Reply<Option<T>> {
    blocking(|| unattended_here(state, work))
}

fn unattended_here<T>(
    state: &State<'_, AppState>,
    work: impl FnOnce(&mut kinko_core::Session) -> kinko_core::Result<T>,
) -> Reply<Option<T>> {
    if state.lock_if_idle() {
        return Err(CommandError::locked());
    }
    let mut guard = match state.session.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        Err(std::sync::TryLockError::Poisoned(_)) => return Err(CommandError::not_signed_in()),
    };
    if state.is_locking() {
        state.end_locked(&mut guard);
        return Err(CommandError::not_signed_in());
    }
    let session = guard.as_mut().ok_or_else(CommandError::not_signed_in)?;
    let value = work(session).map_err(CommandError::from)?;
    if state.is_locking() {
        state.end_locked(&mut guard);
        return Err(CommandError::locked());
    }
    Ok(Some(value))
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
