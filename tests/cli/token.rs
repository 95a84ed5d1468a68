//! The possession factor bound to the keys (issue 15, P6): a PKCS#11
//! token, here SoftHSM2 (Debian `softhsm2`, which the test command
//! installs), each test with tokens of its own in a private folder.
//! Once bound, the keyslot opens with password and token together, and
//! with the password alone nothing opens, even from the files.

use kinko_core::keyslots::KeySlots;

use crate::TestVault;

use kinko_test_support::{SoftHsm, SOFTHSM_MODULE as MODULE, TOKEN_PIN as PIN};

/// What a terminal with `hsm`'s token gives Kinko, as `user` with
/// `password` and `pin`.
fn env<'a>(
    hsm: &'a SoftHsm,
    user: &'a str,
    password: &'a str,
    pin: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("KINKO_USER", user),
        ("KINKO_PASSWORD", password),
        ("SOFTHSM2_CONF", hsm.conf.to_str().unwrap()),
        ("KINKO_PKCS11_MODULE", MODULE),
        ("KINKO_TOKEN_PIN", pin),
    ]
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
        .run_env(
            &["--json", "token", "enrol"],
            &env(&hsm, "hana", &hana, PIN),
        )
        .ok()
        .json();
    assert_eq!(enrolled["token"], "hana-card");
    let opened = v
        .run_env(
            &["open", &doc, "--out", "-"],
            &env(&hsm, "hana", &hana, PIN),
        )
        .ok();
    assert_eq!(opened.stdout, b"TOKEN-GUARDED");

    // The password alone: refused, saying the token is needed.
    let r = v.as_user("hana", &hana, &["list"]).code(3);
    assert!(r.stderr.contains("token 'hana-card'"), "{}", r.stderr);
    // A wrong PIN; another token.
    let r = v
        .run_env(&["list"], &env(&hsm, "hana", &hana, "9999"))
        .code(3);
    assert!(r.stderr.contains("PIN"), "{}", r.stderr);
    let r = v
        .run_env(&["list"], &env(&other, "hana", &hana, PIN))
        .code(3);
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
    let mut changing = env(&hsm, "hana", &hana, PIN);
    changing.push(("KINKO_NEW_PASSWORD", new));
    v.run_env(&["passwd"], &changing).ok();
    v.run_env(&["list"], &env(&hsm, "hana", new, PIN)).ok();
    v.as_user("hana", new, &["list"]).code(3);
    v.run_env(&["list"], &env(&hsm, "hana", &hana, PIN)).code(3);
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
    v.run_env(&["token", "enrol"], &env(&hsm, "hana", &hana, PIN))
        .ok();
    v.run_env(&["list"], &env(&hsm, "hana", &hana, PIN)).ok();
    // The officer too, at his next sign-in.
    let r = v.boss(&["list"]).code(3);
    assert!(r.stderr.contains("kinko token enrol"), "{}", r.stderr);
}
