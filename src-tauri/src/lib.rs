//! The Tauri 2 shell: one command per user action, each a line or two
//! over kinko-core. No rule lives here: the core checks the session and
//! its permission on every call.

mod commands;

use std::path::PathBuf;
use std::sync::Mutex;

/// What the window's commands share: the vault's place and, once signed
/// in, the session (its keys leave memory when it is dropped).
pub struct AppState {
    pub vault: PathBuf,
    pub session: Mutex<Option<kinko_core::Session>>,
}

/// The vault directory: `--vault DIR`, else `$KINKO_VAULT`, else the
/// user's data directory.
fn vault_dir() -> PathBuf {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--vault" {
            if let Some(v) = args.next() {
                return PathBuf::from(v);
            }
        }
    }
    if let Some(v) = std::env::var_os("KINKO_VAULT") {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".local/share/kinko/vault")
}

/// The app with its commands and state, on any runtime (the tests use the
/// mock runtime).
pub fn builder<R: tauri::Runtime>(b: tauri::Builder<R>, vault: PathBuf) -> tauri::Builder<R> {
    b.manage(AppState {
        vault,
        session: Mutex::new(None),
    })
    .invoke_handler(tauri::generate_handler![
        commands::app_status,
        commands::sign_in,
        commands::sign_out,
        commands::list_documents
    ])
}

pub fn run() {
    // Only test builds may be driven by WebDriver.
    #[cfg(not(debug_assertions))]
    std::env::remove_var("TAURI_WEBVIEW_AUTOMATION");
    builder(tauri::Builder::default(), vault_dir())
        .run(tauri::generate_context!())
        .expect("the Kinko window could not start");
}
