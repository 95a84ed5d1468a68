//! App commands: parse, call the core, return. Errors go to the page as
//! `{code, message}` without internals.

use serde::Serialize;
use tauri::State;

use crate::AppState;

#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl From<kinko_core::Error> for CommandError {
    fn from(e: kinko_core::Error) -> Self {
        CommandError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

type Reply<T> = Result<T, CommandError>;

fn not_signed_in() -> CommandError {
    kinko_core::Error::NotSignedIn("sign in first".into()).into()
}

#[derive(Debug, Serialize)]
pub struct AppStatus {
    pub vault: String,
    pub exists: bool,
    pub signed_in: Option<String>,
}

#[tauri::command]
pub fn app_status(state: State<'_, AppState>) -> Reply<AppStatus> {
    let session = state.session.lock().map_err(|_| not_signed_in())?;
    Ok(AppStatus {
        vault: state.vault.display().to_string(),
        exists: kinko_core::Vault::open(&state.vault).is_ok(),
        signed_in: session.as_ref().map(|s| s.actor().id.clone()),
    })
}

#[tauri::command]
pub fn sign_in(
    state: State<'_, AppState>,
    id: String,
    password: String,
    totp: Option<String>,
) -> Reply<String> {
    let password = kinko_core::Password::new(password);
    let vault = kinko_core::Vault::open(&state.vault)?;
    let terminal = format!("{} (app)", kinko_core::vault::local_terminal());
    let session = vault.sign_in(&id, &password, totp.as_deref(), &terminal)?;
    let name = session.actor().name.clone();
    *state.session.lock().map_err(|_| not_signed_in())? = Some(session);
    Ok(name)
}

#[tauri::command]
pub fn sign_out(state: State<'_, AppState>) -> Reply<()> {
    let taken = state.session.lock().map_err(|_| not_signed_in())?.take();
    if let Some(s) = taken {
        s.end()?;
    }
    Ok(())
}

#[tauri::command]
pub fn list_documents(state: State<'_, AppState>) -> Reply<Vec<kinko_core::DocumentInfo>> {
    let mut guard = state.session.lock().map_err(|_| not_signed_in())?;
    let session = guard.as_mut().ok_or_else(not_signed_in)?;
    Ok(session.list_documents()?)
}
