//! The app's connection setting (issue 16): this PC as a terminal of an
//! office server. Enrolled, the app works on the server's vault through
//! its replica, with the same screens and rules; not enrolled, on the
//! vault folder of this PC, and it opens no network socket.

use serde::Serialize;
use tauri::State;

use crate::error::{CommandError, Reply};
use crate::state::AppState;

/// Where this PC stands with an office server.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Connection {
    /// The server it is enrolled with.
    pub server: Option<String>,
    /// Its terminal ID there.
    pub terminal: Option<String>,
    /// The code the system administrator approves, while it waits.
    pub waiting: Option<String>,
    /// A vault folder is on this PC: the app works on it, and offers no
    /// connection.
    pub local_vault: bool,
}

fn connection_of(state: &AppState) -> kinko_core::Result<Connection> {
    if state.holds_local_vault() {
        return Ok(Connection {
            server: None,
            terminal: None,
            waiting: None,
            local_vault: true,
        });
    }
    let device = state.device()?;
    let record = device.server()?;
    let pending = device.pending()?;
    Ok(Connection {
        server: record.as_ref().map(|r| r.url.clone()),
        terminal: record.map(|r| r.terminal),
        waiting: pending.map(|p| p.code),
        local_vault: false,
    })
}

/// This PC's connection setting; asks no server.
#[tauri::command(async)]
pub fn connection(state: State<'_, AppState>) -> Reply<Connection> {
    Ok(connection_of(&state)?)
}

/// Change the connection with `change`, refused while someone is signed
/// in or while a vault folder is on this PC (connecting would hide it).
/// The session's lock is held through the whole change, so no sign-in
/// completes in between; the setting as it then stands is the answer.
fn change_connection(
    state: &AppState,
    change: impl FnOnce(&kinko_remote::Device) -> kinko_core::Result<()>,
) -> Reply<Connection> {
    let session = state
        .session
        .lock()
        .map_err(|_| CommandError::invalid("the app's state is damaged; restart it"))?;
    if session.is_some() || state.is_open() {
        return Err(CommandError::invalid(
            "sign out before connecting this PC to an office server",
        ));
    }
    if state.holds_local_vault() {
        return Err(CommandError::invalid(format!(
            "this PC holds a vault at {}; the app works on it and is not connected to an office server",
            state.vault.display()
        )));
    }
    change(&state.device()?)?;
    drop(session);
    Ok(connection_of(state)?)
}

/// Enrol this PC with an office server: its address, the CA fingerprint
/// the server's administrator gave, and a one-time token if one was
/// given (without one, the PC waits for its code to be approved).
#[tauri::command]
pub async fn connect(
    state: State<'_, AppState>,
    url: String,
    fingerprint: String,
    token: Option<String>,
) -> Reply<Connection> {
    super::calling::blocking(move || {
        change_connection(&state, |device| {
            kinko_remote::enrol(
                device,
                &kinko_remote::Enrolment {
                    url: url.trim().to_string(),
                    ca_fingerprint: fingerprint.trim().to_string(),
                    token: token
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty()),
                    name: kinko_core::vault::local_terminal(),
                    account: None,
                },
            )?;
            Ok(())
        })
    })
}

/// Ask whether the waiting enrolment was approved; collects the
/// certificate if it was.
#[tauri::command]
pub async fn connect_collect(state: State<'_, AppState>) -> Reply<Connection> {
    super::calling::blocking(move || {
        change_connection(&state, |device| {
            kinko_remote::collect(device)?;
            Ok(())
        })
    })
}
