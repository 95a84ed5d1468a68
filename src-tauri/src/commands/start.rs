//! First run, signing in and out, the lock, and the credential steps a
//! new person is led through (password change, TOTP enrolment).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tauri::State;
use zeroize::Zeroizing;

use super::calling::with_session;
use crate::error::{CommandError, Reply};
use crate::state::AppState;

/// The signed-in person, as the page needs them to pick screens.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Me {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    /// The step they must take before anything else, if any.
    pub pending: Option<kinko_core::Pending>,
    pub notices: Vec<String>,
    pub idle_minutes: u64,
    /// What they may do now (`permission::allowed`, audit event names):
    /// the page shows screens and buttons by it and knows no roles.
    pub allowed: Vec<&'static str>,
    /// Of their keys and the root their keyslot trusts: what they show
    /// the officer, who compares it before certifying them.
    pub key_fingerprint: String,
}

fn me(s: &kinko_core::Session) -> kinko_core::Result<Me> {
    let a = s.actor();
    Ok(Me {
        id: a.id.clone(),
        name: a.name.clone(),
        roles: a.roles.0.iter().map(|r| r.as_str().to_string()).collect(),
        pending: a.pending,
        notices: s.notices().to_vec(),
        idle_minutes: s.idle_minutes()?,
        allowed: s.allowed(),
        key_fingerprint: s.key_fingerprint()?,
    })
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppStatus {
    /// The vault's folder, or the office server's address when this PC
    /// is connected to one.
    pub vault: String,
    pub exists: bool,
    /// Why an existing vault cannot be opened (damage, a newer format).
    pub problem: Option<String>,
    pub me: Option<Me>,
    /// This terminal offers a PKCS#11 token at sign-in (the page asks for
    /// its PIN).
    pub token: bool,
}

/// Where the app stands; never counts as activity.
#[tauri::command(async)]
pub fn app_status(state: State<'_, AppState>) -> Reply<AppStatus> {
    super::calling::blocking(move || {
        state.lock_if_idle();
        let (vault, exists, problem) = where_the_vault_is(&state);
        // Never wait behind a long action (the page polls this): a busy
        // session is reported as busy, and the page asks again later.
        let session = match state.session.try_lock() {
            Ok(s) => s,
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(CommandError::busy());
            }
            Err(std::sync::TryLockError::Poisoned(_)) => {
                return Err(CommandError::invalid(
                    "the app's state is damaged; restart it",
                ));
            }
        };
        Ok(AppStatus {
            vault,
            exists,
            problem,
            me: session.as_ref().map(me).transpose()?,
            token: state.token_module.is_some(),
        })
    })
}

/// The vault's place (a folder, or the office server's address), whether
/// it exists yet, and why it cannot be opened if so.
fn where_the_vault_is(state: &AppState) -> (String, bool, Option<String>) {
    let here = state.vault.display().to_string();
    // A vault folder here is the app's vault, enrolled or not.
    match kinko_core::Vault::open(&state.vault) {
        Ok(_) => return (here, true, None),
        Err(kinko_core::Error::NoVault(_)) => {}
        Err(e) => return (here, true, Some(e.to_string())),
    }
    let device = match state.enrolled_device() {
        Ok(Some(device)) => device,
        Ok(None) => return (here, false, None),
        Err(e) => return (here, true, Some(e.to_string())),
    };
    let place = device
        .server()
        .ok()
        .flatten()
        .map(|r| r.url)
        .unwrap_or_default();
    // A replica made here means the vault exists: no need to ask the
    // server at every look (the page asks often).
    let replica = kinko_remote::terminal::replica_dir(&device);
    if replica.join(kinko_core::vault::KEYSLOTS_FILE).exists() {
        return (place, true, None);
    }
    match kinko_remote::terminal::server_holds_vault(&device) {
        Ok(exists) => (place, exists, None),
        Err(e) => (place, true, Some(e.to_string())),
    }
}

/// The app's CycloneDX SBOM, made by `scripts/sbom.sh` and checked
/// against Cargo.lock by the test command.
const SBOM: &str = include_str!("../../../sbom/kinko-app.cdx.json");

/// Version, algorithms and the dependency inventory (I4); needs no
/// session and reads no vault.
#[tauri::command(async)]
pub fn about() -> Reply<kinko_core::about::About> {
    Ok(kinko_core::about::About::new(
        "kinko-app",
        env!("CARGO_PKG_VERSION"),
        SBOM,
    )?)
}

#[derive(Debug, Deserialize)]
pub struct NewVault {
    pub officer_id: String,
    pub officer_name: String,
    pub council: String,
    pub password: Zeroizing<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedVault {
    pub vault_id: String,
    /// Shown once; never stored.
    pub recovery_code: String,
}

/// First run: create the vault with its Information Management Officer.
#[tauri::command]
pub async fn create_vault(state: State<'_, AppState>, req: NewVault) -> Reply<CreatedVault> {
    super::calling::blocking(move || {
        let opts = kinko_core::InitOptions {
            officer_id: req.officer_id.trim().to_string(),
            officer_name: req.officer_name.trim().to_string(),
            council: req.council.trim().to_string(),
            password: kinko_core::Password::new(req.password.to_string()),
            kdf: kinko_core::crypto::kdf::KdfProfile::Argon2id,
            terminal: terminal(),
            policy: Vec::new(),
        };
        let created = match state.enrolled_device()? {
            Some(device) => kinko_remote::terminal::create_vault(&device, opts)?,
            None => kinko_core::Vault::init(&state.vault, opts)?,
        };
        Ok(CreatedVault {
            vault_id: created.vault_id,
            recovery_code: created.recovery_code.to_string(),
        })
    })
}

/// The terminal's token, with the PIN the person typed, offered at
/// sign-in (a keyslot bound to a token needs it).
fn with_token(
    state: &AppState,
    vault: kinko_core::Vault,
    pin: Option<Zeroizing<String>>,
) -> kinko_core::Vault {
    match (&state.token_module, pin.filter(|p| !p.is_empty())) {
        (Some(module), Some(pin)) => vault.with_token(kinko_core::possession::TokenAccess {
            module: module.clone(),
            pin,
            token_label: state.token_label.clone(),
        }),
        _ => vault,
    }
}

fn terminal() -> String {
    format!("{} (app)", kinko_core::vault::local_terminal())
}

/// Sign in; the session stays open in the app until sign-out or the lock.
#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    id: String,
    password: Zeroizing<String>,
    totp: Option<String>,
    pin: Option<Zeroizing<String>>,
) -> Reply<Me> {
    super::calling::blocking(move || {
        let password = kinko_core::Password::new(password.to_string());
        let vault = with_token(&state, state.open_vault()?, pin);
        let session = vault.sign_in(id.trim(), &password, totp.as_deref(), &terminal())?;
        let who = me(&session)?;
        state.forget_view();
        if let Ok(mut a) = state.activity.lock() {
            a.last = Instant::now();
            a.limit = Duration::from_secs(who.idle_minutes.max(1) * 60);
        }
        let mut guard = state
            .session
            .lock()
            .map_err(|_| CommandError::invalid("the app's state is damaged; restart it"))?;
        let earlier = guard.replace(session);
        // Under the session's lock, so no earlier action can see it down.
        state.set_open(true);
        drop(guard);
        state.choices.forget();
        if let Some(s) = earlier {
            let _ = s.end();
        }
        Ok(who)
    })
}

/// Upgrade a vault an earlier release made (the officer, once, with the
/// recovery code); the page signs in afterwards as usual.
#[tauri::command]
pub async fn upgrade_vault(
    state: State<'_, AppState>,
    id: String,
    password: Zeroizing<String>,
    totp: Option<String>,
    recovery_code: Zeroizing<String>,
) -> Reply<kinko_core::upgrade::UpgradeReport> {
    super::calling::blocking(move || {
        let password = kinko_core::Password::new(password.to_string());
        let vault = state.open_vault()?;
        Ok(vault.upgrade(
            id.trim(),
            &password,
            totp.as_deref(),
            recovery_code.trim(),
            &terminal(),
        )?)
    })
}

#[tauri::command(async)]
pub fn sign_out(state: State<'_, AppState>) -> Reply<()> {
    super::calling::blocking(move || {
        let mut session = state
            .session
            .lock()
            .map_err(|_| CommandError::invalid("the app's state is damaged; restart it"))?;
        state.forget_view();
        state.choices.forget();
        state.set_open(false);
        if let Some(s) = session.take() {
            s.end()?;
        }
        Ok(())
    })
}

/// The page's idle timer ran out: end the session now.
// A plain (main-thread) command: the lock never waits (see
// `AppState::lock`), and must take effect even while every worker of the
// async runtime is busy with a long action.
#[tauri::command]
pub fn lock(state: State<'_, AppState>) -> Reply<bool> {
    Ok(state.lock())
}

/// The person is active in the window (reading, scrolling) without
/// calling anything: keep the session from locking.
#[tauri::command(async)]
pub fn touch(state: State<'_, AppState>) -> Reply<()> {
    with_session(&state, |s| s.touch())
}

#[tauri::command]
pub async fn change_password(state: State<'_, AppState>, password: Zeroizing<String>) -> Reply<Me> {
    let password = kinko_core::Password::new(password.to_string());
    with_session(&state, |s| {
        s.change_password(&password)?;
        me(s)
    })
}

#[derive(Debug, Serialize)]
pub struct Enrolment {
    pub uri: String,
    pub secret: String,
    /// The QR code of `uri`, one string of '1' (dark) and '0' per row.
    pub qr: Vec<String>,
}

#[tauri::command(async)]
pub fn totp_enroll(state: State<'_, AppState>) -> Reply<Enrolment> {
    let e = with_session(&state, |s| s.totp_enroll())?;
    let code = qrcode::QrCode::new(e.uri.as_bytes()).map_err(|_| {
        CommandError::invalid("the enrolment code could not be drawn; type the secret instead")
    })?;
    let width = code.width();
    let qr = code
        .to_colors()
        .chunks(width)
        .map(|row| {
            row.iter()
                .map(|c| if *c == qrcode::Color::Dark { '1' } else { '0' })
                .collect()
        })
        .collect();
    Ok(Enrolment {
        uri: e.uri,
        secret: e.secret_base32,
        qr,
    })
}

/// Bind the signed-in person's keyslot to this terminal's token (the
/// password again, and the token's PIN).
#[tauri::command(async)]
pub fn token_enrol(
    state: State<'_, AppState>,
    password: Zeroizing<String>,
    pin: Zeroizing<String>,
) -> Reply<Me> {
    let module = state.token_module.clone().ok_or_else(|| {
        CommandError::invalid(
            "this terminal offers no token: its PKCS#11 module is set where the app is installed ($KINKO_PKCS11_MODULE)",
        )
    })?;
    let access = kinko_core::possession::TokenAccess {
        module,
        pin,
        token_label: state.token_label.clone(),
    };
    let password = kinko_core::Password::new(password.to_string());
    with_session(&state, |s| {
        s.token_enrol(&password, &access)?;
        me(s)
    })
}

#[tauri::command(async)]
pub fn totp_confirm(state: State<'_, AppState>, code: String) -> Reply<Me> {
    with_session(&state, |s| {
        s.totp_confirm(&code)?;
        me(s)
    })
}
