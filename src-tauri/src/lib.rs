//! The Tauri 2 shell: one command per user action, each a line or two
//! over kinko-core. No rule lives here: the core checks the session and
//! its permission on every call. What the shell owns is the window's
//! life: the one open session, the idle lock (P7), and the document being
//! viewed, which lives in memory only (D4).

mod commands;
mod files;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use commands::COMMANDS;

/// What the window's commands share.
pub struct AppState {
    pub vault: PathBuf,
    /// The signed-in person's session; dropping it wipes their keys.
    pub session: Mutex<Option<kinko_core::Session>>,
    pub activity: Mutex<Activity>,
    /// A document decrypted for the viewer and who decrypted it, until
    /// the page takes it. Always locked after `session`, never before.
    pub viewing: Mutex<Option<(String, kinko_core::viewer::View)>>,
    /// Set by the receipt screen's cancel button; read by the running
    /// import (which holds the session, so this lives beside it).
    pub cancel_import: std::sync::atomic::AtomicBool,
}

/// When the person last did something, and how long the policy lets a
/// session sit idle.
pub struct Activity {
    pub last: Instant,
    pub limit: Duration,
}

impl AppState {
    pub fn new(vault: PathBuf) -> Self {
        AppState {
            vault,
            session: Mutex::new(None),
            activity: Mutex::new(Activity {
                last: Instant::now(),
                limit: Duration::from_secs(15 * 60),
            }),
            viewing: Mutex::new(None),
            cancel_import: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// End the session if it sat idle past the policy's limit: the keys
    /// leave memory and the window shows the lock screen at its next call.
    /// Returns whether it locked.
    pub fn lock_if_idle(&self) -> bool {
        let idle = match self.activity.lock() {
            Ok(a) => a.last.elapsed() > a.limit,
            Err(_) => true,
        };
        if idle {
            self.lock()
        } else {
            false
        }
    }

    /// Lock now: end the session as idle and forget the viewed document.
    pub fn lock(&self) -> bool {
        // The session first, then the view: a viewer call that holds the
        // session finishes storing its view before this clears it.
        let mut session = match self.session.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.forget_view();
        match session.take() {
            Some(s) => {
                // The keys are wiped when `s` drops, whether or not the
                // event could be written.
                let _ = s.end_idle();
                true
            }
            None => false,
        }
    }

    /// Drop a decrypted document the page has not taken (its buffer is
    /// wiped as it drops).
    pub fn forget_view(&self) {
        match self.viewing.lock() {
            Ok(mut v) => drop(v.take()),
            Err(poisoned) => drop(poisoned.into_inner().take()),
        }
    }

    /// Note that the person is active (a long receipt counts).
    pub fn touch(&self) {
        if let Ok(mut a) = self.activity.lock() {
            a.last = Instant::now();
        }
    }
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
    commands::register(
        b.manage(AppState::new(vault))
            .plugin(tauri_plugin_dialog::init()),
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
    // Only debug builds may be driven by WebDriver.
    #[cfg(not(debug_assertions))]
    std::env::remove_var("TAURI_WEBVIEW_AUTOMATION");
    let result = builder(tauri::Builder::default(), vault_dir())
        .setup(|app| {
            watch_idle(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("kinko-app: the window could not start: {e}");
        std::process::exit(1);
    }
}
