//! Where the vault is and who is acting: the session token, or an ID and
//! a password from the environment, standard input or the terminal.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{anyhow, Context};
use kinko_core::{vault::local_terminal, Password, Session, Vault};

use crate::args::Global;
use crate::failure::Failure;

/// `--vault`, else the core's default (`$KINKO_VAULT`, else the user's
/// data directory), the same as the app's.
pub fn vault_dir(g: &Global) -> anyhow::Result<PathBuf> {
    match &g.vault {
        Some(v) => Ok(v.clone()),
        None => kinko_core::vault::default_dir()
            .map_err(|e| anyhow!("{e}: use --vault DIR or set KINKO_VAULT")),
    }
}

/// Lines of standard input, read once, for `--password-stdin` (the first
/// line is the password; `passwd` takes the new one from the second).
static STDIN_LINES: Mutex<Option<Vec<String>>> = Mutex::new(None);

fn stdin_line(index: usize) -> anyhow::Result<Option<String>> {
    let mut guard = STDIN_LINES
        .lock()
        .map_err(|_| anyhow!("standard input lock poisoned"))?;
    if guard.is_none() {
        let lines = std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()
            .context("reading standard input")?;
        *guard = Some(lines);
    }
    Ok(guard.as_ref().and_then(|l| l.get(index).cloned()))
}

/// A secret from an environment variable, a line of stdin or the terminal.
fn secret(
    env: &str,
    stdin_index: Option<usize>,
    prompt: &str,
    confirm: bool,
) -> anyhow::Result<Password> {
    if let Ok(v) = std::env::var(env) {
        return Ok(Password::new(v));
    }
    if let Some(i) = stdin_index {
        return stdin_line(i)?.map(Password::new).ok_or_else(|| {
            anyhow!(
                "--password-stdin was given but standard input has no line {}",
                i + 1
            )
        });
    }
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "no password: set {env}, use --password-stdin, or run in a terminal"
        ));
    }
    let first = Password::new(rpassword::prompt_password(prompt).context("reading the password")?);
    if confirm {
        let again = rpassword::prompt_password("  (again): ").context("reading the password")?;
        if again != first.as_str() {
            return Err(anyhow!("the two passwords differ"));
        }
    }
    Ok(first)
}

/// The password of the person signing in.
pub fn password(g: &Global, prompt: &str, confirm: bool) -> anyhow::Result<Password> {
    secret(
        "KINKO_PASSWORD",
        g.password_stdin.then_some(0),
        prompt,
        confirm,
    )
}

/// A new password (`passwd`).
pub fn new_password(g: &Global, prompt: &str) -> anyhow::Result<Password> {
    secret(
        "KINKO_NEW_PASSWORD",
        g.password_stdin.then_some(1),
        prompt,
        true,
    )
}

/// The terminal's token, when a PKCS#11 module is given: its PIN from
/// `$KINKO_TOKEN_PIN`, else asked at the terminal.
pub fn token_access(g: &Global) -> anyhow::Result<Option<kinko_core::possession::TokenAccess>> {
    let Some(module) = &g.pkcs11_module else {
        return Ok(None);
    };
    let pin = secret("KINKO_TOKEN_PIN", None, "Token PIN: ", false)?;
    Ok(Some(kinko_core::possession::TokenAccess {
        module: module.clone(),
        pin: zeroize::Zeroizing::new(pin.as_str().to_string()),
        token_label: g.token_label.clone(),
    }))
}

/// A session: resumed from `$KINKO_SESSION`, or signed in for this run.
pub fn session(vault: &Vault, g: &Global) -> Result<Session, Failure> {
    let terminal = local_terminal();
    if let Ok(token) = std::env::var("KINKO_SESSION") {
        if !token.is_empty() {
            return signed_in(vault.resume(&token, &terminal)?);
        }
    }
    let Some(user) = &g.user else {
        return Err(kinko_core::Error::NotSignedIn(
            "no session: run `kinko login` and set KINKO_SESSION, or give --user (or KINKO_USER)"
                .into(),
        )
        .into());
    };
    let pw = password(g, &format!("Password for {user}: "), false)?;
    signed_in(vault.sign_in(user, &pw, totp().as_deref(), &terminal)?)
}

/// The one-time code, from `$KINKO_TOTP`.
pub fn totp() -> Option<String> {
    std::env::var("KINKO_TOTP")
        .ok()
        .filter(|c| !c.trim().is_empty())
}

/// Tell the person what the core wants them to know, on stderr.
pub fn signed_in(s: Session) -> Result<Session, Failure> {
    for n in s.notices() {
        eprintln!("kinko: {n}");
    }
    Ok(s)
}

/// A package passphrase: `$KINKO_PASSPHRASE`, or asked at the terminal
/// (twice when it is being set).
pub fn passphrase(confirm: bool) -> anyhow::Result<Password> {
    secret("KINKO_PASSPHRASE", None, "Passphrase: ", confirm)
}

/// The recovery code, only if `$KINKO_RECOVERY_CODE` holds one.
pub fn recovery_code_from_env() -> Option<String> {
    std::env::var("KINKO_RECOVERY_CODE")
        .ok()
        .filter(|c| !c.trim().is_empty())
}

/// The recovery code: `$KINKO_RECOVERY_CODE`, or asked at the terminal.
pub fn recovery_code() -> anyhow::Result<Password> {
    secret("KINKO_RECOVERY_CODE", None, "Recovery code: ", false)
}

/// One line typed at the terminal (not a secret: shown as typed).
pub fn line(prompt: &str) -> anyhow::Result<String> {
    use std::io::Write;
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let mut text = String::new();
    std::io::stdin()
        .read_line(&mut text)
        .context("reading from the terminal")?;
    Ok(text.trim().to_string())
}
