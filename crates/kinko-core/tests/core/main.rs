//! Core-level tests against real vault files in temporary directories,
//! one file per topic; the fixture and the helpers they share are here.

use std::path::{Path, PathBuf};

use kinko_core::crypto::{self, kdf::KdfProfile, Wrapped};
use kinko_core::keyslots::KeySlots;
use kinko_core::vault::InitOptions;
use kinko_core::{Error, ImportRequest, Password, Session, Vault};

mod audit;
mod backup;
mod documents;
mod fuzz;
mod permissions;
mod rekey;
mod sessions;
mod tampering;

use kinko_test_support::OFFICER_PW;

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    work: PathBuf,
    recovery_code: String,
}

fn fixture(kdf: KdfProfile) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let created = Vault::init(
        &dir,
        InitOptions {
            officer_id: "boss".into(),
            officer_name: "Officer".into(),
            council: "Test council".into(),
            password: Password::new(OFFICER_PW),
            kdf,
            terminal: "test".into(),
            policy: vec![("totp.required".into(), "false".into())],
        },
    )
    .unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        work,
        recovery_code: created.recovery_code.to_string(),
    }
}

impl Fixture {
    fn sign_in(&self, id: &str, pw: &str) -> Session {
        Vault::open(&self.dir)
            .unwrap()
            .sign_in(id, &Password::new(pw), None, "test")
            .unwrap()
    }

    fn officer(&self) -> Session {
        self.sign_in("boss", OFFICER_PW)
    }

    /// Sign in with the initial password and set one's own (the initial
    /// one allows nothing else); returns the new password.
    fn activate(&self, id: &str, initial: &Password) -> String {
        let own = format!("Zq8!own-Secret-{}", id.len());
        let mut s = self.sign_in(id, initial.as_str());
        assert!(matches!(
            s.list_documents(),
            Err(Error::NotSignedIn(_)) | Err(Error::Denied(_))
        ));
        s.change_password(&Password::new(own.as_str())).unwrap();
        // The new keys the person made take effect once the officer
        // certifies them, comparing the fingerprint their screen shows.
        let fingerprint = s.key_fingerprint().unwrap();
        self.officer()
            .certify_account(id, Some(&fingerprint))
            .unwrap();
        own
    }

    /// Open the database as someone holding `id`'s keyslot and a SQLCipher
    /// tool would: with the raw database key, outside Kinko.
    fn raw_db(&self, id: &str, pw: &str) -> rusqlite::Connection {
        kinko_test_support::raw_db(&self.dir, id, pw)
    }

    /// Put `id` on the approved handler roster.
    fn roster(&self, id: &str) {
        let mut boss = self.officer();
        let fields = kinko_core::roster::RosterFields {
            name: id.into(),
            department: "d".into(),
            position: "p".into(),
            address: Some("a".into()),
            birth_date: Some("1990-01-01".into()),
            ..Default::default()
        };
        let req = boss
            .roster_request_add(kinko_core::roster::Roster::Handler, id, &fields)
            .unwrap();
        boss.roster_approve(req, "ref-1", "2026-04-01").unwrap();
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.work.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn request(&self, source: &Path) -> ImportRequest {
        ImportRequest {
            source: source.to_path_buf(),
            origin: "bureau".into(),
            via: "usb".into(),
            purpose: "contract".into(),
            title: None,
            personal_data: false,
        }
    }
}

fn no_progress() -> impl FnMut(u64, u64) {
    |_, _| {}
}

fn vault_id(f: &Fixture) -> String {
    KeySlots::load(&f.dir.join("keyslots")).unwrap().vault_id
}

fn restore_request<'a>(
    backup: &'a Path,
    to: &'a Path,
    id: &'a str,
    password: &'a Password,
    recovery_code: &'a str,
) -> kinko_core::backup::RestoreRequest<'a> {
    kinko_core::backup::RestoreRequest {
        backup,
        to,
        id,
        password,
        totp: None,
        terminal: "test",
        recovery_code: Some(recovery_code),
        token: None,
    }
}
