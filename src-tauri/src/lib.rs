//! The Tauri 2 shell: one command per user action, each a line or two
//! over kinko-core. No rule lives here: the core checks the session and
//! its permission on every call. What the shell owns is the window's
//! life: the one open session, the idle lock (P7), and the document being
//! viewed, which lives in memory only (D4).

pub mod chooser;
mod commands;
mod desktop;
mod error;
mod files;
mod page_types;
mod state;
mod window;

use std::path::PathBuf;
use std::time::Duration;

pub use commands::COMMANDS;
pub use state::{Activity, AppState};

/// The value of `--NAME VALUE` on the app's command line.
fn argument(name: &str) -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next().map(PathBuf::from);
        }
    }
    None
}

/// The vault directory: `--vault DIR`, else the core's default (the same
/// as the `kinko` command's: `$KINKO_VAULT`, else the user's data
/// directory).
fn vault_dir() -> PathBuf {
    argument("--vault").unwrap_or_else(|| {
        kinko_core::vault::default_dir().unwrap_or_else(|_| PathBuf::from("kinko-vault"))
    })
}

/// This PC's state folder (its office-server enrolment and replica, what
/// it remembers of each trail): `--state-dir DIR`, else the core's
/// default (`$KINKO_STATE_DIR`, else the user's state directory).
fn state_dir() -> Option<PathBuf> {
    argument("--state-dir").or_else(kinko_core::vault::default_state_dir)
}

/// The app with its commands and state, on any runtime (the tests use the
/// mock runtime). Files dropped on the window stay in the shell: the page
/// is given handles (`kinko://dropped`), never sends paths back.
pub fn builder<R: tauri::Runtime>(
    b: tauri::Builder<R>,
    vault: PathBuf,
    state_dir: Option<PathBuf>,
) -> tauri::Builder<R> {
    commands::register(
        b.manage(AppState::new(vault, state_dir))
            .plugin(tauri_plugin_dialog::init())
            .on_webview_event(|webview, event| {
                use tauri::{DragDropEvent, Emitter, Manager, WebviewEvent};
                if let WebviewEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                    let state = webview.state::<AppState>();
                    let dropped: Vec<chooser::Chosen> = paths
                        .iter()
                        .filter(|p| p.is_file())
                        .map(|p| state.choices.offer(chooser::Kind::File, p.clone()))
                        .collect();
                    let _ = webview.emit("kinko://dropped", dropped);
                }
            }),
    )
}

/// Check the idle lock every few seconds, so the keys leave memory on
/// time even when the window makes no calls.
fn watch_idle(app: &tauri::AppHandle) {
    use tauri::Manager;
    let app = app.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(5));
        app.state::<AppState>().lock_if_idle();
    });
}

pub fn run() {
    // First, before GTK or any thread: no inspector, no automation.
    window::clear_inspection_variables();
    let result = builder(tauri::Builder::default(), vault_dir(), state_dir())
        .setup(|app| {
            use tauri::{Emitter, Manager};
            let handle = app.handle().clone();
            app.state::<AppState>().set_on_lock(Box::new(move || {
                let _ = handle.emit("kinko://locked", ());
            }));
            window::sandbox_every_web_context();
            window::open_main(app)?;
            watch_idle(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("kinko-app: the window could not start: {e}");
        std::process::exit(1);
    }
}
