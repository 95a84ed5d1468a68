//! A vault on disk and how to get into it: creating one, opening it,
//! signing in with a password, resuming a session from its token.
//!
//! ```text
//! <vault>/kinko.db     SQLCipher database (metadata, grants, audit)
//! <vault>/keyslots     password-sealed keys, apart from the database
//! <vault>/objects/     one encrypted file per document version
//! <vault>/sessions/    sealed key material of open sessions
//! <vault>/inbox/       sealed events from before the database was open
//! ```

use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::account::{self, validate_id, Password};
use crate::audit::{self, Event};
use crate::crypto::{self, kdf::KdfParams, kdf::KdfProfile, HpkeKeyPair, SigningKeyPair};
use crate::db;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keyslots::{KeySlots, SlotSecrets};
use crate::replica::{Replica, Upstream};
use std::sync::Arc;

pub use crate::layout::{DB_FILE, INBOX_DIR, KEYSLOTS_FILE, OBJECTS_DIR, SESSIONS_DIR};

/// What `init` needs.
pub struct InitOptions {
    pub officer_id: String,
    pub officer_name: String,
    pub council: String,
    pub password: Password,
    pub kdf: KdfProfile,
    pub terminal: String,
    /// Policy settings to start with (`init --policy KEY=VALUE`).
    pub policy: Vec<(String, String)>,
}

/// What `init` hands back once: the recovery code is never stored.
pub struct Created {
    pub vault_id: String,
    pub recovery_code: Zeroizing<String>,
}

/// What anyone can learn of a vault without signing in.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStatus {
    pub path: String,
    pub vault_id: String,
    pub accounts_with_keyslots: usize,
    pub kdf: Vec<String>,
}

/// An opened (not yet signed-in) vault.
pub struct Vault {
    pub(crate) dir: PathBuf,
    pub(crate) slots: KeySlots,
    /// Where this terminal remembers what each person saw of the trail
    /// (`witness.rs`); the shell chooses it, outside the vault.
    pub(crate) witness_dir: Option<PathBuf>,
    /// The PKCS#11 token this terminal offers at sign-in (`possession.rs`).
    pub(crate) token: Option<crate::possession::TokenAccess>,
    /// The office server whose log this vault replicates, if any
    /// (`replica.rs`); `dir` is then the replica's folder on this terminal.
    pub(crate) replica: Option<Arc<Replica>>,
}

impl Vault {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Remember, in `state_dir` on this terminal, the trail each person
    /// saw, and check it at their next sign-in (a vault put back to an
    /// earlier copy is noticed). The shells always do; without it a
    /// rollback of the whole vault goes unseen.
    /// [`Vault::open`], remembering in this terminal's state directory
    /// ([`default_state_dir`]) when there is one: what the shells use.
    pub fn open_on_terminal(dir: &Path) -> Result<Self> {
        let vault = Vault::open(dir)?;
        Ok(match default_state_dir() {
            Some(state) => vault.remembering_in(&state),
            None => vault,
        })
    }

    /// Offer `token` at sign-in: a keyslot bound to a token needs it.
    pub fn with_token(mut self, token: crate::possession::TokenAccess) -> Self {
        self.token = Some(token);
        self
    }

    pub fn remembering_in(mut self, state_dir: &Path) -> Self {
        self.witness_dir = Some(state_dir.to_path_buf());
        self
    }

    pub(crate) fn slots(&self) -> &KeySlots {
        &self.slots
    }

    /// Create a vault in `dir` (which must not exist, or be empty) with its
    /// officer. On any failure nothing is left behind.
    pub fn init(dir: &Path, opts: InitOptions) -> Result<Created> {
        validate_id(&opts.officer_id)?;
        account::validate_name(&opts.officer_name)?;
        for (k, v) in &opts.policy {
            crate::policy::validate_setting(k, v)?;
        }
        let policy = crate::policy::Policy::with(&opts.policy);
        crate::credentials::check_password_rules(
            &opts.password,
            &policy,
            &opts.officer_id,
            &opts.officer_name,
        )?;
        let existed = prepare_empty_dir(dir)?;
        let result = create_in(dir, &opts).and_then(|created| {
            crate::layout::make_private(dir)?;
            Ok(created)
        });
        if result.is_err() {
            cleanup_failed_init(dir, existed);
        }
        result
    }

    /// Open the vault at `dir`: it must hold a keyslots file and a database.
    pub fn open(dir: &Path) -> Result<Self> {
        let slots_path = dir.join(KEYSLOTS_FILE);
        if !slots_path.exists() || !dir.join(DB_FILE).exists() {
            return Err(Error::NoVault(dir.to_path_buf()));
        }
        if dir.join(crate::layout::REPLICA_MARKER).exists() {
            // Written here, a change would never reach the server's log.
            return Err(Error::Invalid(format!(
                "{} is a terminal's copy of an office server's vault, not a vault folder: work on it through the server",
                dir.display()
            )));
        }
        crate::layout::make_private(dir)?;
        let slots = KeySlots::load(&slots_path)?;
        Ok(Vault {
            dir: dir.to_path_buf(),
            slots,
            witness_dir: None,
            token: None,
            replica: None,
        })
    }

    /// Open the vault an office server holds, through this terminal's
    /// replica in `dir` (made here on first use: the server's newest
    /// keyslots now, the database from the log at sign-in).
    pub fn open_replica(dir: &Path, upstream: Arc<dyn Upstream>) -> Result<Self> {
        let state = upstream.state()?;
        let vault = state.vault.ok_or_else(|| {
            Error::NoVault(PathBuf::from(
                "the office server (it holds no vault yet: `kinko init` makes one there)",
            ))
        })?;
        let keyslots = state
            .keyslots
            .ok_or_else(|| Error::tampered("the office server holds a vault but no keyslots"))?;
        prepare_replica_dir(dir)?;
        let slots_path = dir.join(KEYSLOTS_FILE);
        crate::fsutil::write_atomic(&slots_path, &keyslots)?;
        let slots = KeySlots::load(&slots_path)?;
        if slots.vault_id != vault.vault_id {
            return Err(Error::tampered(format!(
                "the office server's keyslots are for vault {}, its log for vault {}",
                slots.vault_id, vault.vault_id
            )));
        }
        crate::layout::make_private(dir)?;
        let replica = Replica::new(upstream, &vault.vault_id, dir);
        // Checked once the replica has caught up: these must be the
        // newest keyslots the log carries.
        replica.opened_with_keyslots(&keyslots);
        Ok(Vault {
            dir: dir.to_path_buf(),
            replica: Some(Arc::new(replica)),
            slots,
            witness_dir: None,
            token: None,
        })
    }

    /// Create a vault on an office server: made in this terminal's
    /// replica folder `dir` as a local one would be, then its whole
    /// database and keyslots sent as the log's first unit.
    pub fn init_on_server(
        dir: &Path,
        opts: InitOptions,
        upstream: Arc<dyn Upstream>,
    ) -> Result<Created> {
        if upstream.state()?.vault.is_some() {
            return Err(Error::VaultExists(PathBuf::from("the office server")));
        }
        if dir.exists() {
            // A replica of an earlier vault (one the server no longer
            // holds) makes way for the new one.
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let officer = opts.officer_id.clone();
        let password = Password::new(opts.password.as_str());
        let created = Vault::init(dir, opts)?;
        let published = (|| {
            mark_replica(dir)?;
            let slots = KeySlots::load(&dir.join(KEYSLOTS_FILE))?;
            // The database key, from the officer's slot just made.
            let (secrets, _) = slots.unlock(&officer, password.as_bytes(), None)?;
            let replica = Replica::new(upstream, &slots.vault_id, dir);
            let mut conn = db::open(&dir.join(DB_FILE), &secrets.db_key)?;
            replica.guard(&mut conn, &secrets.db_key)?;
            replica.publish_new(&conn, db::SCHEMA_VERSION)
        })();
        if let Err(e) = published {
            let _ = std::fs::remove_dir_all(dir);
            return Err(e);
        }
        Ok(created)
    }

    pub fn public_status(&self) -> PublicStatus {
        let mut kdf: Vec<String> = self
            .slots
            .slots
            .values()
            .map(|s| format!("{:?}", s.kdf.profile()).to_lowercase())
            .collect();
        kdf.sort();
        kdf.dedup();
        PublicStatus {
            path: self.dir.display().to_string(),
            vault_id: self.slots.vault_id.clone(),
            accounts_with_keyslots: self.slots.slots.len(),
            kdf,
        }
    }

    pub(crate) fn seal_to_inbox(&self, event: &Event) -> Result<()> {
        audit::seal_to_inbox(
            &self.dir.join(INBOX_DIR),
            &self.slots.vault_id,
            &self.slots.inbox_public()?,
            event,
        )
    }
}

/// Ensure `dir` exists and is empty; returns whether it already existed.
pub(crate) fn prepare_empty_dir(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::VaultExists(dir.to_path_buf()));
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            fsutil::create_private_dir(dir)?;
            Ok(false)
        }
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// A replica's folder, made where missing (0700, with the folders a
/// vault has), and marked as one.
fn prepare_replica_dir(dir: &Path) -> Result<()> {
    for p in [
        dir.to_path_buf(),
        dir.join(OBJECTS_DIR),
        dir.join(SESSIONS_DIR),
        dir.join(INBOX_DIR),
    ] {
        if std::fs::symlink_metadata(&p).is_err() {
            fsutil::create_private_dir(&p)?;
        }
    }
    mark_replica(dir)
}

/// Mark `dir` as a replica: [`Vault::open`] refuses it as a vault folder.
fn mark_replica(dir: &Path) -> Result<()> {
    let marker = dir.join(crate::layout::REPLICA_MARKER);
    if std::fs::symlink_metadata(&marker).is_err() {
        fsutil::write_atomic(&marker, b"kinko replica v1\n")?;
    }
    Ok(())
}

pub(crate) fn cleanup_failed_init(dir: &Path, existed: bool) {
    if existed {
        for name in [
            DB_FILE,
            "kinko.db-wal",
            "kinko.db-shm",
            KEYSLOTS_FILE,
            crate::lockout::FILE,
        ] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        for name in [OBJECTS_DIR, SESSIONS_DIR, INBOX_DIR] {
            let _ = std::fs::remove_dir_all(dir.join(name));
        }
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn create_in(dir: &Path, opts: &InitOptions) -> Result<Created> {
    for sub in [OBJECTS_DIR, SESSIONS_DIR, INBOX_DIR] {
        fsutil::create_private_dir(&dir.join(sub))?;
    }
    let vault_id = crypto::hex(&crypto::random::<16>());
    let db_key = crypto::random_key();
    let inbox = HpkeKeyPair::generate();
    let custodian = HpkeKeyPair::generate();
    let officer_hpke = HpkeKeyPair::generate();
    let officer_sign = SigningKeyPair::generate();
    // Before schema 3 a vault-wide audit key signed checkpoints and
    // reports; now each person signs with their own key. The anchor still
    // names an audit key (its format is shared with upgraded vaults, whose
    // old checkpoints it checks), so a new vault gets one whose private
    // half is never kept: nobody can sign with it.
    let audit_key = SigningKeyPair::generate();
    let pseudonym_key = crypto::random_key();

    // The root of every certificate: its private half only the recovery
    // code opens; its public half is in every keyslot's anchor.
    let root = SigningKeyPair::generate();
    let root_sealed = crypto::hpke_wrap(
        &custodian.public,
        &crate::cert::root_context(&vault_id),
        &*root.secret,
    )?;

    let custodian_slot = crypto::hpke_wrap(
        &custodian.public,
        &custodian_db_context(&vault_id),
        &*db_key,
    )?;
    let mut slots = KeySlots::new(&vault_id, &inbox.public, &custodian.public, &custodian_slot);
    let anchor = crate::keyslots::anchor(&crate::keyslots::VaultFacts {
        vault_id: vault_id.clone(),
        custodian_public: custodian.public.clone(),
        inbox_public: inbox.public.clone(),
        audit_public: audit_key.public.clone(),
        root_public: root.public.clone(),
    });
    let secrets = SlotSecrets {
        db_key: *db_key,
        hpke_secret: *officer_hpke.secret,
        sign_secret: *officer_sign.secret,
        anchor,
    };
    slots.set(
        &opts.officer_id,
        opts.password.as_bytes(),
        KdfParams::new(opts.kdf),
        &secrets,
        None,
    )?;

    let mut conn = db::open(&dir.join(DB_FILE), &db_key)?;
    db::create_schema(&conn)?;
    let tx = conn.transaction()?;
    let now = audit::now();
    for (k, v) in [
        ("vault_id", vault_id.as_bytes().to_vec()),
        ("council", opts.council.as_bytes().to_vec()),
        ("state", b"active".to_vec()),
        ("created_at", now.as_bytes().to_vec()),
        ("inbox_secret", inbox.secret.to_vec()),
        ("inbox_public", inbox.public.clone()),
        ("custodian_public", custodian.public.clone()),
        ("audit_public", audit_key.public.clone()),
        ("audit_pseudonym_key", pseudonym_key.to_vec()),
        ("root_public", root.public.clone()),
        (
            "root_sealed",
            [root_sealed.enc, root_sealed.ciphertext].concat(),
        ),
    ] {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![k, v],
        )?;
    }
    tx.execute(
        "INSERT INTO accounts (id, name, roles, hpke_public, sign_public, must_change_password, password_changed_at, created_at, created_by)
         VALUES (?1, ?2, 'officer', ?3, ?4, 0, ?5, ?5, ?1)",
        params![opts.officer_id, opts.officer_name, officer_hpke.public, officer_sign.public, now],
    )?;
    crate::cert::issue(
        &tx,
        &vault_id,
        &crate::cert::Issuer {
            name: crate::cert::ROOT,
            serial: None,
            secret: &root.secret,
        },
        &crate::cert::Subject {
            account: &opts.officer_id,
            name: &opts.officer_name,
            roles: "officer",
            hpke_public: &officer_hpke.public,
            sign_public: &officer_sign.public,
        },
    )?;
    tx.execute(
        "INSERT INTO key_epochs (epoch, suite, started_at, started_by, finished_at) VALUES (1, ?1, ?2, ?3, ?2)",
        params![crypto::stream::SUITE_AES256GCM, now, opts.officer_id],
    )?;
    let officer = format!("account:{}", opts.officer_id);
    let by = audit::EventSigner::new(
        &vault_id,
        &root.public,
        &opts.officer_id,
        Some(1),
        &officer_sign.secret,
    )?;
    audit::append(
        &tx,
        &Event::new(
            &opts.officer_id,
            "vault.init",
            &format!("vault:{vault_id}"),
            audit::OK,
            &opts.terminal,
            &format!("schema {}", db::SCHEMA_VERSION),
        ),
        &by,
    )?;
    audit::append(
        &tx,
        &Event::new(
            &opts.officer_id,
            "account.add",
            &officer,
            audit::OK,
            &opts.terminal,
            "roles=officer",
        ),
        &by,
    )?;
    audit::append(
        &tx,
        &Event::new(
            &opts.officer_id,
            "account.certify",
            &officer,
            audit::OK,
            &opts.terminal,
            "serial=1 roles=officer by=root",
        ),
        &by,
    )?;
    for (k, v) in &opts.policy {
        let old = crate::policy::store(&tx, k, v)?;
        audit::append(
            &tx,
            &Event::new(
                &opts.officer_id,
                "policy.set",
                &format!("policy:{k}"),
                audit::OK,
                &opts.terminal,
                &format!("{k}: {old} -> {v}"),
            ),
            &by,
        )?;
    }
    let officer_signer = crate::grant::Signer {
        vault_id: &vault_id,
        account: &opts.officer_id,
        serial: 1,
        secret: &officer_sign.secret,
    };
    crate::policy::sign_settings(&tx, &officer_signer)?;
    // Rosters and document labels are sealed to circles the officer
    // starts in (`circle.rs`); managers join when certified.
    for circle in crate::circle::Circle::ALL {
        crate::circle::create(
            &tx,
            &officer_signer,
            circle,
            &custodian.public,
            &[(&opts.officer_id, &officer_hpke.public)],
        )?;
    }
    crate::policy::sync_lockout(&crate::policy::Policy::load(&tx)?, dir)?;
    crate::credentials::record_history(
        &tx,
        &crate::credentials::HistoryOwner {
            vault_id: &vault_id,
            account: &opts.officer_id,
            public: &officer_hpke.public,
        },
        &opts.password,
    )?;
    tx.commit()?;
    drop(conn);
    slots.save(&dir.join(KEYSLOTS_FILE))?;
    Ok(Created {
        vault_id,
        recovery_code: recovery_code(&custodian.secret),
    })
}

/// HPKE context of the custodian's copy of the database key.
pub(crate) fn custodian_db_context(vault_id: &str) -> Vec<u8> {
    format!("kinko custodian db-key v1\0{vault_id}").into_bytes()
}

/// The custodian's private key as a code a person can write down: base32
/// of the key and a 2-byte checksum, in groups of five.
fn recovery_code(secret: &[u8; 32]) -> Zeroizing<String> {
    let mut raw = Zeroizing::new(secret.to_vec());
    raw.extend_from_slice(&crypto::sha256(secret)[..2]);
    let enc = Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&raw));
    let groups: Vec<&str> = enc
        .as_bytes()
        .chunks(5)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect();
    Zeroizing::new(groups.join("-"))
}

/// Read a recovery code back into the custodian's private key.
pub fn parse_recovery_code(code: &str) -> Result<Zeroizing<[u8; 32]>> {
    let compact: Zeroizing<String> = Zeroizing::new(
        code.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    );
    let raw = Zeroizing::new(
        data_encoding::BASE32_NOPAD
            .decode(compact.as_bytes())
            .map_err(|_| Error::invalid("the recovery code has characters that are not in it"))?,
    );
    if raw.len() != 34 || crypto::sha256(&raw[..32])[..2] != raw[32..] {
        return Err(Error::invalid(
            "the recovery code is mistyped (its checksum does not match)",
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&raw[..32]);
    Ok(key)
}

/// Where a vault lives when no directory is named: `$KINKO_VAULT`, else
/// `kinko/vault` in the user's data directory (`$XDG_DATA_HOME`, else
/// `~/.local/share`). The command and the app both use this, so they
/// always open the same vault.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(v) = std::env::var_os("KINKO_VAULT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(v));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            Error::invalid("no vault directory: name one, or set KINKO_VAULT or HOME")
        })?;
    Ok(data.join("kinko").join("vault"))
}

/// Where this terminal keeps what it remembers of each vault's trail
/// (`witness.rs`): `$KINKO_STATE_DIR`, else `kinko` in the user's state
/// directory (`$XDG_STATE_HOME`, else `~/.local/state`). Outside every
/// vault on purpose: a copy of the vault put back must not bring it back.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("KINKO_STATE_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(v));
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|d| d.join("kinko"))
}

/// The user and machine an action came from (A1: terminal).
pub fn local_terminal() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| os_uid());
    format!("{user}@{host}")
}

/// The numeric user id, when the environment names no user.
fn os_uid() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata("/proc/self") {
            return format!("uid{}", m.uid());
        }
    }
    "unknown".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_code_round_trips_and_catches_typos() {
        let key = crypto::random_key();
        let code = recovery_code(&key);
        assert_eq!(*parse_recovery_code(&code).unwrap(), *key);
        assert_eq!(*parse_recovery_code(&code.to_lowercase()).unwrap(), *key);
        let mut typo: Vec<char> = code.chars().collect();
        typo[3] = if typo[3] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        assert!(parse_recovery_code(&typo).is_err());
    }
}

/// A vault's state as a signed-in person sees it (`kinko status`).
#[derive(Debug, Clone, Serialize)]
pub struct VaultStatus {
    #[serde(flatten)]
    pub public: PublicStatus,
    pub council: String,
    pub state: String,
    pub created_at: String,
    pub accounts: i64,
    pub documents: i64,
    pub audit_events: i64,
    pub last_event_at: Option<String>,
    pub last_checkpoint: Option<String>,
    /// SHA-256 of the signed-in person's signing key: what their signed
    /// reports, checkpoints and archives name (`kinko verify-report
    /// --key`); the bureau registers the officer's.
    pub report_key_fingerprint: String,
    /// The fingerprint of the signed-in person's keys and the root their
    /// keyslot trusts: what the officer compares before certifying them.
    pub key_fingerprint: String,
    /// Whether the officer has certified these keys.
    pub certified: bool,
}
