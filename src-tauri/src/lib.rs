//! The Tauri 2 shell: one command per user action, each a line or two
//! over kinko-core. No rule lives here: the core checks the session and
//! its permission on every call. What the shell owns is the window's
//! life: the one open session, the idle lock (P7), and the document being
//! viewed, which lives in memory only (D4).

pub mod chooser;
mod commands;
mod files;
mod window;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Set by the receipt screen's cancel button (and by the lock); read
    /// by the running import (which holds the session, so this lives
    /// beside it).
    pub cancel_import: AtomicBool,
    /// Set the moment the window locks, before the session is free to be
    /// taken: an action still running then ends without showing anything
    /// and drops the session itself.
    pub locking: AtomicBool,
    /// Whether a session is open (mirrors `session`, readable while a
    /// long action holds it).
    open: AtomicBool,
    /// Files and folders the person chose, behind one-time handles.
    pub choices: chooser::Choices,
    /// Tells the page at once that the window locked (an event, set up
    /// with the window).
    on_lock: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
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
            cancel_import: AtomicBool::new(false),
            locking: AtomicBool::new(false),
            open: AtomicBool::new(false),
            choices: chooser::Choices::default(),
            on_lock: Mutex::new(None),
        }
    }

    /// What to call when the window locks (the shell emits an event).
    pub fn set_on_lock(&self, notify: Box<dyn Fn() + Send + Sync>) {
        if let Ok(mut n) = self.on_lock.lock() {
            *n = Some(notify);
        }
    }

    /// End the session if it sat idle past the policy's limit: the keys
    /// leave memory and the window shows the lock screen at its next call.
    /// Returns whether it locked.
    pub fn lock_if_idle(&self) -> bool {
        if !self.open.load(Ordering::SeqCst) {
            return false; // nobody to lock
        }
        if self.is_locking() {
            // Locked already (the page was told), but an action that
            // finished as the lock came may have left the session: end it.
            if let Ok(mut session) = self.session.try_lock() {
                self.end_locked(&mut session);
            }
            return false;
        }
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

    /// Lock now. The flag goes up, the running receipt is cancelled, the
    /// viewed document and the choices are dropped and the page is told,
    /// all at once; the session ends now if it is free, else the action
    /// holding it ends it as it finishes (see `commands::with_session`).
    pub fn lock(&self) -> bool {
        if !self.open.load(Ordering::SeqCst) {
            self.forget_view();
            self.choices.forget();
            return false;
        }
        self.locking.store(true, Ordering::SeqCst);
        self.cancel_import.store(true, Ordering::SeqCst);
        self.forget_view();
        self.choices.forget();
        if let Ok(notify) = self.on_lock.lock() {
            if let Some(n) = notify.as_ref() {
                n();
            }
        }
        match self.session.try_lock() {
            Ok(mut session) => self.end_locked(&mut session),
            Err(std::sync::TryLockError::Poisoned(p)) => self.end_locked(&mut p.into_inner()),
            // Busy: the action that holds it sees the flag and ends it.
            Err(std::sync::TryLockError::WouldBlock) => true,
        }
    }

    /// End the session under its lock once the window locked. The view is
    /// forgotten again: an action that finished meanwhile may have stored
    /// one.
    pub fn end_locked(&self, session: &mut Option<kinko_core::Session>) -> bool {
        self.forget_view();
        self.open.store(false, Ordering::SeqCst);
        self.locking.store(false, Ordering::SeqCst);
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

    /// A session was opened (`true`, under the session's lock) or ended
    /// (`false`); either way the lock flag comes down.
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
        self.locking.store(false, Ordering::SeqCst);
    }

    /// Whether the window locked since the session was opened.
    pub fn is_locking(&self) -> bool {
        self.locking.load(Ordering::SeqCst)
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

/// The vault directory: `--vault DIR`, else the core's default (the same
/// as the `kinko` command's: `$KINKO_VAULT`, else the user's data
/// directory).
fn vault_dir() -> PathBuf {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--vault" {
            if let Some(v) = args.next() {
                return PathBuf::from(v);
            }
        }
    }
    kinko_core::vault::default_dir().unwrap_or_else(|_| PathBuf::from("kinko-vault"))
}

/// The app with its commands and state, on any runtime (the tests use the
/// mock runtime). Files dropped on the window stay in the shell: the page
/// is given handles (`kinko://dropped`), never sends paths back.
pub fn builder<R: tauri::Runtime>(b: tauri::Builder<R>, vault: PathBuf) -> tauri::Builder<R> {
    commands::register(
        b.manage(AppState::new(vault))
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
    let result = builder(tauri::Builder::default(), vault_dir())
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
