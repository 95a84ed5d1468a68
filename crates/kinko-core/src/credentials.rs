//! The two factors (P5, P6): password rules, history and age, and TOTP
//! (RFC 6238) enrolment and checking.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::account::Password;
use crate::audit;
use crate::crypto::{self, kdf::KdfParams};
use crate::error::{Error, Result};
use crate::policy::Policy;

/// Check a new password against the policy: length, character classes,
/// the bundled list of common passwords (zxcvbn's), and guessability from
/// the person's own ID and name.
pub fn check_password_rules(pw: &Password, policy: &Policy, id: &str, name: &str) -> Result<()> {
    let text = pw.as_str();
    let min = policy.number("password.min_length") as usize;
    if text.chars().count() < min {
        return Err(Error::invalid(format!(
            "the password must be at least {min} characters long"
        )));
    }
    let classes = [
        text.chars().any(|c| c.is_uppercase()),
        text.chars().any(|c| c.is_lowercase()),
        text.chars().any(|c| c.is_ascii_digit()),
        text.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let need = policy.number("password.min_classes") as usize;
    if classes < need {
        return Err(Error::invalid(format!(
            "the password must mix at least {need} of: upper case, lower case, digits, symbols"
        )));
    }
    let mut personal: Vec<&str> = vec![id, name];
    personal.extend(name.split_whitespace());
    personal.extend(id.split(['.', '_', '-']));
    let lower = text.to_lowercase();
    if personal
        .iter()
        .any(|p| p.chars().count() >= 3 && lower.contains(&p.to_lowercase()))
    {
        return Err(Error::invalid(
            "the password must not contain your ID or your name",
        ));
    }
    let entropy = zxcvbn::zxcvbn(text, &personal);
    // zxcvbn does not export its dictionary type, only its Debug name.
    let common = entropy.sequence().iter().any(|m| {
        matches!(&m.pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
            if format!("{:?}", d.dictionary_name) == "Passwords"
                && m.token.chars().count() + 2 >= text.chars().count())
    });
    if common {
        return Err(Error::invalid(
            "the password is on the list of common passwords; choose another",
        ));
    }
    if entropy.score() < zxcvbn::Score::Three {
        return Err(Error::invalid(
            "the password is too easy to guess (it follows a common word, name, date or pattern); choose another",
        ));
    }
    Ok(())
}

/// What marks a password history hash sealed to its person's own key.
const HISTORY_SEALED: &[u8; 4] = b"KPH1";
/// Length of a P-256 HPKE encapsulated key.
const ENC_LEN: usize = 65;

fn history_context(vault_id: &str, account: &str) -> Vec<u8> {
    format!("kinko password history v1\0{vault_id}\0{account}").into_bytes()
}

/// Whose password history: sealed to their own HPKE key (issue 15), so
/// the shared database key reads no one's password hashes.
pub(crate) struct HistoryOwner<'a> {
    pub vault_id: &'a str,
    pub account: &'a str,
    /// Their certified or just-made HPKE public key (to seal).
    pub public: &'a [u8],
}

impl HistoryOwner<'_> {
    fn seal(&self, hash: &[u8]) -> Result<Vec<u8>> {
        let w = crypto::hpke_wrap(
            self.public,
            &history_context(self.vault_id, self.account),
            hash,
        )?;
        Ok([HISTORY_SEALED.as_slice(), &w.enc, &w.ciphertext].concat())
    }
}

/// Open a stored history hash with the person's own private key.
fn open_history(
    vault_id: &str,
    account: &str,
    own: &[u8; 32],
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    // The upgrade to schema 4 sealed every entry: one in the clear was
    // written outside Kinko.
    let Some(sealed) = stored.strip_prefix(HISTORY_SEALED) else {
        return Err(Error::tampered(format!(
            "a password history entry of {account} is in the clear (written outside Kinko)"
        )));
    };
    let bad = || {
        Error::tampered(format!(
            "a password history entry of {account} does not open with their own key"
        ))
    };
    if sealed.len() <= ENC_LEN {
        return Err(bad());
    }
    let (enc, ciphertext) = sealed.split_at(ENC_LEN);
    crypto::hpke_unwrap(
        own,
        &history_context(vault_id, account),
        &crypto::Wrapped {
            enc: enc.to_vec(),
            ciphertext: ciphertext.to_vec(),
        },
    )
    .ok_or_else(bad)
}

/// Refuse a password used among the last `n` (opened with `own`, the
/// private half of `owner`'s key); then remember this one, sealed.
pub(crate) fn check_and_record_history(
    tx: &Transaction,
    owner: &HistoryOwner<'_>,
    own: &[u8; 32],
    pw: &Password,
    n: u64,
) -> Result<()> {
    let account = owner.account;
    let rows: Vec<(String, Vec<u8>)> = tx
        .prepare(
            "SELECT kdf, hash FROM password_history WHERE account = ?1 ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![account, n as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (kdf, stored) in rows {
        let kdf: KdfParams = serde_json::from_str(&kdf)
            .map_err(|_| Error::tampered("a password history entry is damaged"))?;
        let hash = open_history(owner.vault_id, account, own, &stored)?;
        if kdf.derive(pw.as_bytes())?.as_slice() == hash.as_slice() {
            return Err(Error::invalid(format!(
                "the password was used before; choose one not among your last {n}"
            )));
        }
    }
    record_history(tx, owner, pw)
}

/// Remember a password (as a PBKDF2 hash with its own salt), sealed to
/// its person's own key.
pub(crate) fn record_history(
    tx: &Transaction,
    owner: &HistoryOwner<'_>,
    pw: &Password,
) -> Result<()> {
    let kdf = KdfParams::new(crypto::kdf::KdfProfile::Pbkdf2);
    let hash = kdf.derive(pw.as_bytes())?;
    tx.execute(
        "INSERT INTO password_history (account, at, kdf, hash) VALUES (?1, ?2, ?3, ?4)",
        params![
            owner.account,
            audit::now(),
            serde_json::to_string(&kdf).expect("serialises"),
            owner.seal(hash.as_slice())?
        ],
    )?;
    Ok(())
}

/// The person's keys changed (their first own password made new ones):
/// their history is sealed again to the new key. Entries in the clear
/// from an earlier release are sealed too.
pub(crate) fn reseal_history(
    tx: &Connection,
    vault_id: &str,
    old_own: Option<&[u8; 32]>,
    new: &HistoryOwner<'_>,
) -> Result<()> {
    let rows: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT id, hash FROM password_history WHERE account = ?1")?
        .query_map([new.account], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, stored) in rows {
        let hash = match old_own {
            Some(own) => open_history(vault_id, new.account, own, &stored)?,
            None if stored.starts_with(HISTORY_SEALED) => continue,
            None => Zeroizing::new(stored),
        };
        tx.execute(
            "UPDATE password_history SET hash = ?2 WHERE id = ?1",
            params![id, new.seal(&hash)?],
        )?;
    }
    Ok(())
}

/// Where a password stands against the maximum age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PasswordAge {
    Fine,
    /// Expires in this many days: sign-in warns.
    ExpiresSoon {
        days: i64,
    },
    /// Expired: only `passwd` is allowed.
    Expired,
}

/// Compare when a password was set with the policy's maximum age.
pub fn password_age(
    changed_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age_days: u64,
    warn_days: u64,
) -> PasswordAge {
    if max_age_days == 0 {
        return PasswordAge::Fine;
    }
    let expires = changed_at + chrono::Duration::days(max_age_days as i64);
    if now >= expires {
        return PasswordAge::Expired;
    }
    let left = (expires - now).num_days();
    if left < warn_days as i64 {
        PasswordAge::ExpiresSoon { days: left }
    } else {
        PasswordAge::Fine
    }
}

/// What `totp enroll` hands back once.
#[derive(Serialize)]
pub struct TotpEnrolment {
    pub uri: String,
    pub secret_base32: String,
}

pub(crate) fn totp_for(secret: &[u8], account: &str) -> Result<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account)
        .with_issuer(Some("Kinko"))
        .build()
        .map_err(|e| Error::Crypto(format!("TOTP: {e}")))
}

/// What marks a TOTP secret sealed under its person's own key.
const TOTP_SEALED: &[u8; 4] = b"KTS1";

/// Whose TOTP secret, in which vault: the key's derivation and the AAD.
pub(crate) struct TotpOwner<'a> {
    pub vault_id: &'a str,
    pub account: &'a str,
    /// The person's own private key (from their keyslot).
    pub own: &'a [u8; 32],
}

impl<'a> TotpOwner<'a> {
    /// The acting person's: sealed under their own key.
    pub(crate) fn of(ctx: &'a crate::actor::Ctx) -> Self {
        TotpOwner {
            vault_id: &ctx.vault_id,
            account: &ctx.actor.id,
            own: &ctx.secrets.hpke_secret,
        }
    }

    fn key(&self) -> crypto::Key32 {
        crypto::hkdf(
            self.own,
            b"kinko totp v1",
            &[self.vault_id.as_bytes(), b"\0", self.account.as_bytes()],
        )
    }

    fn aad(&self) -> Vec<u8> {
        format!("kinko totp v1\0{}\0{}", self.vault_id, self.account).into_bytes()
    }

    /// The secret as stored: sealed under a key only the person's own
    /// keys give (issue 15: the shared database key reads no one's TOTP
    /// secret, so nobody computes another person's codes).
    pub(crate) fn seal(&self, secret: &[u8]) -> Vec<u8> {
        let mut stored = TOTP_SEALED.to_vec();
        stored.extend(crypto::seal(&self.key(), &self.aad(), secret));
        stored
    }

    /// The secret from what is stored, and whether it was stored in the
    /// clear (by an earlier release; sealed again at its next use).
    pub(crate) fn open(&self, stored: &[u8]) -> Result<(Zeroizing<Vec<u8>>, bool)> {
        match stored.strip_prefix(TOTP_SEALED) {
            Some(sealed) => crypto::open(&self.key(), &self.aad(), sealed)
                .map(|s| (s, false))
                .ok_or_else(|| {
                    Error::tampered(format!(
                        "the one-time code secret of {} does not open with their own key",
                        self.account
                    ))
                }),
            None => Ok((Zeroizing::new(stored.to_vec()), true)),
        }
    }
}

/// Seal `account`'s TOTP secret again under new own keys (the first
/// password of their own makes new ones).
pub(crate) fn reseal_totp(tx: &Connection, old: &TotpOwner<'_>, new: &TotpOwner<'_>) -> Result<()> {
    let stored: Option<Vec<u8>> = tx
        .query_row(
            "SELECT totp_secret FROM accounts WHERE id = ?1",
            [old.account],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if let Some(stored) = stored {
        let (secret, _) = old.open(&stored)?;
        tx.execute(
            "UPDATE accounts SET totp_secret = ?2 WHERE id = ?1",
            params![old.account, new.seal(&secret)],
        )?;
    }
    Ok(())
}

/// Check a TOTP code for an account, accepting each time step once: the
/// matched step must be later than the last one accepted. Returns whether
/// the account has TOTP on at all.
pub(crate) fn check_totp(
    conn: &Connection,
    owner: &TotpOwner<'_>,
    code: Option<&str>,
) -> Result<bool> {
    let account = owner.account;
    let row: Option<(Option<Vec<u8>>, bool, i64)> = conn
        .query_row(
            "SELECT totp_secret, totp_enabled, totp_last_step FROM accounts WHERE id = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((Some(stored), true, last_step)) = row else {
        return Ok(false);
    };
    let (secret, in_the_clear) = owner.open(&stored)?;
    if in_the_clear {
        conn.execute(
            "UPDATE accounts SET totp_secret = ?2 WHERE id = ?1",
            params![account, owner.seal(&secret)],
        )?;
    }
    let code =
        code.ok_or_else(|| Error::NotSignedIn("a one-time code is required (KINKO_TOTP)".into()))?;
    let totp = totp_for(&secret, account)?;
    let now = Utc::now().timestamp() as u64;
    match totp.check(code.trim(), now) {
        Some(step) if (step as i64) > last_step => {
            conn.execute(
                "UPDATE accounts SET totp_last_step = ?2 WHERE id = ?1",
                params![account, step as i64],
            )?;
            Ok(true)
        }
        Some(_) => Err(Error::NotSignedIn(
            "that one-time code was already used; wait for the next one".into(),
        )),
        None => Err(Error::NotSignedIn("the one-time code is wrong".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE policy (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .unwrap();
        Policy::load(&conn).unwrap()
    }

    #[test]
    fn password_rules() {
        let p = policy();
        let ok = |s: &str| check_password_rules(&Password::new(s), &p, "tanaka", "Tanaka Hanako");
        assert!(ok("Kq7#mVx2-pLr9").is_ok());
        assert!(ok("Sh0rt!").is_err(), "too short");
        assert!(ok("alllowercaseletters").is_err(), "one class");
        assert!(ok("Password123!").is_err(), "common");
        assert!(
            ok("Tanaka-Hanako-2026").is_err(),
            "from the person's own name"
        );
        assert!(ok("Qwertyuiop123").is_err(), "keyboard pattern");
    }

    #[test]
    fn password_age_warns_then_expires() {
        let set = Utc::now();
        let day = chrono::Duration::days(1);
        assert_eq!(password_age(set, set + day * 10, 90, 14), PasswordAge::Fine);
        assert_eq!(
            password_age(set, set + day * 80, 90, 14),
            PasswordAge::ExpiresSoon { days: 10 }
        );
        assert_eq!(
            password_age(set, set + day * 90, 90, 14),
            PasswordAge::Expired
        );
        assert_eq!(
            password_age(set, set + day * 9000, 0, 14),
            PasswordAge::Fine
        );
    }
}
