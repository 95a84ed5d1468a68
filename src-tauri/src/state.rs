//! What the window's commands share: the one open session, the idle
//! lock, the document being viewed, the chooser's handles.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::chooser;

/// What the window's commands share.
pub struct AppState {
    pub vault: PathBuf,
    /// This PC's state folder: its office-server enrolment and replica.
    pub state_dir: Option<PathBuf>,
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
    /// This terminal's PKCS#11 module and token label, when the person
    /// who set it up gave them (`$KINKO_PKCS11_MODULE`,
    /// `$KINKO_TOKEN_LABEL`): never from the vault or the page.
    pub token_module: Option<PathBuf>,
    pub token_label: Option<String>,
}

/// When the person last did something, and how long the policy lets a
/// session sit idle.
pub struct Activity {
    pub last: Instant,
    pub limit: Duration,
}

impl AppState {
    pub fn new(vault: PathBuf, state_dir: Option<PathBuf>) -> Self {
        AppState {
            vault,
            state_dir,
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
            token_module: std::env::var_os("KINKO_PKCS11_MODULE")
                .filter(|m| !m.is_empty())
                .map(PathBuf::from),
            token_label: std::env::var("KINKO_TOKEN_LABEL")
                .ok()
                .filter(|l| !l.is_empty()),
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
            Some(s) if s.on_server() => {
                // On a server the session's end is an append (a turn on
                // the network, up to a minute when the server is slow):
                // written from a thread of its own, so the lock (often on
                // the window's own thread) never waits for it. The keys
                // are wiped when that thread drops `s`.
                std::thread::spawn(move || {
                    let _ = s.end_idle();
                });
                true
            }
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

    /// Whether a session is open now.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// This PC's device when it is enrolled with an office server (the
    /// connection setting): the app then works on the server's vault.
    /// A vault folder at the app's path always wins: an enrolment made
    /// later (here, or by the `kinko` command in the same state folder)
    /// never hides it from the window.
    pub fn enrolled_device(&self) -> kinko_core::Result<Option<kinko_remote::Device>> {
        let Some(state) = &self.state_dir else {
            // No state folder at all: no enrolment either.
            return Ok(None);
        };
        if self.holds_local_vault() {
            return Ok(None);
        }
        let device = kinko_remote::Device::in_state_dir(state);
        Ok(device.server()?.map(|_| device))
    }

    /// Whether a vault folder is at the app's path (`--vault`, or the
    /// default place): the app then works on it, enrolled or not.
    pub fn holds_local_vault(&self) -> bool {
        !matches!(
            kinko_core::Vault::open(&self.vault),
            Err(kinko_core::Error::NoVault(_))
        )
    }

    /// This PC's device (enrolled or not), for the connection setting.
    pub fn device(&self) -> kinko_core::Result<kinko_remote::Device> {
        self.state_dir
            .as_deref()
            .map(kinko_remote::Device::in_state_dir)
            .ok_or_else(|| {
                kinko_core::Error::Invalid("no state folder: set KINKO_STATE_DIR or HOME".into())
            })
    }

    /// The vault the app works on: the office server's, through this
    /// PC's replica, when enrolled; else the folder on this PC.
    pub fn open_vault(&self) -> kinko_core::Result<kinko_core::Vault> {
        match self.enrolled_device()? {
            Some(device) => kinko_remote::terminal::open_vault(&device),
            None => kinko_core::Vault::open_on_terminal(&self.vault),
        }
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
