//! The possession factor bound to the keys (issue 15, P6): a PKCS#11
//! token, here SoftHSM2 (Debian `softhsm2`, which the test command
//! installs), each test with tokens of its own in a private folder.
//! Once bound, the keyslot opens with password and token together, and
//! with the password alone nothing opens, even from the files.

use std::path::PathBuf;
use std::process::Command;

use kinko_core::keyslots::KeySlots;

use crate::TestVault;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "1234";

/// SoftHSM2 with its tokens in a folder of the test's own.
struct SoftHsm {
    _dir: tempfile::TempDir,
    conf: PathBuf,
}

impl SoftHsm {
    /// A configuration with one initialised token per label.
    fn with_tokens(labels: &[&str]) -> SoftHsm {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        for label in labels {
            let out = Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", label])
                .args(["--so-pin", "12345678", "--pin", PIN])
                .env("SOFTHSM2_CONF", &conf)
                .output()
                .expect("softhsm2-util runs (the test command installs softhsm2)");
            assert!(out.status.success(), "{out:?}");
        }
        SoftHsm { _dir: dir, conf }
    }

    /// What a terminal with this token gives Kinko, as `user` with `password`.
    fn env<'a>(
        &'a self,
        user: &'a str,
        password: &'a str,
        pin: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("KINKO_USER", user),
            ("KINKO_PASSWORD", password),
            ("SOFTHSM2_CONF", self.conf.to_str().unwrap()),
            ("KINKO_PKCS11_MODULE", MODULE),
            ("KINKO_TOKEN_PIN", pin),
        ]
    }
}

/// Hana binds her keyslot to her token: her document opens with password
/// and token; without the token, with a wrong PIN or with another token
/// it does not; with the files alone her password opens nothing, even
/// with the token's entry cut out of her slot; a new password keeps the
/// token.
#[test]
fn a_slot_bound_to_a_token_opens_only_with_password_and_token() {
    let hsm = SoftHsm::with_tokens(&["hana-card"]);
    let other = SoftHsm::with_tokens(&["someone-else"]);
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("d.txt", b"TOKEN-GUARDED"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();

    let enrolled = v
        .run_env(&["--json", "token", "enrol"], &hsm.env("hana", &hana, PIN))
        .ok()
        .json();
    assert_eq!(enrolled["token"], "hana-card");
    let opened = v
        .run_env(&["open", &doc, "--out", "-"], &hsm.env("hana", &hana, PIN))
        .ok();
    assert_eq!(opened.stdout, b"TOKEN-GUARDED");

    // The password alone: refused, saying the token is needed.
    let r = v.as_user("hana", &hana, &["list"]).code(3);
    assert!(r.stderr.contains("token 'hana-card'"), "{}", r.stderr);
    // A wrong PIN; another token.
    let r = v
        .run_env(&["list"], &hsm.env("hana", &hana, "9999"))
        .code(3);
    assert!(r.stderr.contains("PIN"), "{}", r.stderr);
    let r = v.run_env(&["list"], &other.env("hana", &hana, PIN)).code(3);
    assert!(
        r.stderr.contains("does not hold this account's key"),
        "{}",
        r.stderr
    );

    // From the files: the slot does not open with the password alone, nor
    // with its token entry removed (the token's secret is in the key).
    let path = v.dir.join("keyslots");
    let slots = KeySlots::load(&path).unwrap();
    assert!(matches!(
        slots.unlock("hana", hana.as_bytes(), None),
        Err(kinko_core::Error::TokenNeeded(_))
    ));
    let mut cut = slots.clone();
    let name = cut.slot_name("hana");
    cut.slots.get_mut(&name).unwrap().token = None;
    assert!(matches!(
        cut.unlock("hana", hana.as_bytes(), None),
        Err(kinko_core::Error::BadCredentials)
    ));

    // A new password keeps the token; the old one opens nothing.
    let new = "Zq8!newer-Secret-7";
    let mut env = hsm.env("hana", &hana, PIN);
    env.push(("KINKO_NEW_PASSWORD", new));
    v.run_env(&["passwd"], &env).ok();
    v.run_env(&["list"], &hsm.env("hana", new, PIN)).ok();
    v.as_user("hana", new, &["list"]).code(3);
    v.run_env(&["list"], &hsm.env("hana", &hana, PIN)).code(3);
}

/// The officer requires a token of everyone: an account without one may
/// only bind one, then works as before.
#[test]
fn the_officer_can_require_a_token_of_everyone() {
    let hsm = SoftHsm::with_tokens(&["hana-card"]);
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    v.boss(&["policy", "set", "token.required", "true"]).ok();
    let r = v.as_user("hana", &hana, &["list"]).code(3);
    assert!(r.stderr.contains("kinko token enrol"), "{}", r.stderr);
    v.run_env(&["token", "enrol"], &hsm.env("hana", &hana, PIN))
        .ok();
    v.run_env(&["list"], &hsm.env("hana", &hana, PIN)).ok();
    // The officer too, at his next sign-in.
    let r = v.boss(&["list"]).code(3);
    assert!(r.stderr.contains("kinko token enrol"), "{}", r.stderr);
}
