//! Edits outside Kinko by someone holding the database key, and forged
//! inbox events, are reported as tampering.

use super::*;

/// Someone with the database key (any account) rewrites the database:
/// the custodian or root key, another person's keys, a certificate. The
/// slot's anchor, the certificate chain and the row-to-slot check catch it.
#[test]
fn database_edits_outside_kinko_are_tampering() {
    for edit in [
        "UPDATE meta SET value = (SELECT hpke_public FROM accounts WHERE id = 'sam') WHERE key = 'custodian_public'",
        "UPDATE meta SET value = (SELECT sign_public FROM accounts WHERE id = 'sam') WHERE key = 'root_public'",
        "UPDATE accounts SET hpke_public = (SELECT hpke_public FROM accounts WHERE id = 'sam') WHERE id = 'boss'",
        "UPDATE certificates SET body = CAST(replace(body, '\"sysadmin\"', '\"officer\"') AS BLOB) WHERE account = 'sam'",
    ] {
        let f = fixture(KdfProfile::Argon2id);
        let mut boss = f.officer();
        let sam = boss.add_account("sam", "Sam", "sysadmin").unwrap();
        let sam_pw = f.activate("sam", &sam.initial_password);
        drop(boss);
        f.raw_db("sam", &sam_pw).execute(edit, []).unwrap();
        let vault = Vault::open(&f.dir).unwrap();
        let who = if edit.contains("id = 'boss'") { ("boss", OFFICER_PW) } else { ("sam", sam_pw.as_str()) };
        let r = vault.sign_in(who.0, &Password::new(who.1), None, "t");
        assert!(matches!(r, Err(Error::Tampered(_))), "{edit}");
        if edit.contains("meta") {
            // Every account notices, not just the one who edited.
            assert!(matches!(vault.sign_in("boss", &Password::new(OFFICER_PW), None, "t"), Err(Error::Tampered(_))));
        }
    }
}

/// A role written on one's own account row is not a role: roles come from
/// the officer's certificate, so the person still acts as certified.
#[test]
fn a_role_written_on_the_row_is_not_acted_on() {
    let f = fixture(KdfProfile::Argon2id);
    let sam = f.officer().add_account("sam", "Sam", "sysadmin").unwrap();
    let sam_pw = f.activate("sam", &sam.initial_password);
    f.raw_db("sam", &sam_pw)
        .execute("UPDATE accounts SET roles = 'officer' WHERE id = 'sam'", [])
        .unwrap();
    let mut s = f.sign_in("sam", &sam_pw);
    assert_eq!(s.actor().roles.to_text(), "sysadmin");
    assert!(s.notices().iter().any(|n| n.contains("awaits the officer")));
    assert!(matches!(
        s.policy_set("lockout.threshold", "100"),
        Err(Error::Denied(_))
    ));
}

/// Anyone can seal to the inbox key; only failed sign-ins are accepted.
#[test]
fn forged_inbox_events_are_recorded_as_tampering() {
    let f = fixture(KdfProfile::Argon2id);
    let slots = KeySlots::load(&f.dir.join("keyslots")).unwrap();
    let forged =
        kinko_core::audit::Event::new("boss", "document.grant", "document:1", "ok", "x", "forged");
    kinko_core::audit::seal_to_inbox(
        &f.dir.join("inbox"),
        &slots.vault_id,
        &slots.inbox_public().unwrap(),
        &forged,
    )
    .unwrap();
    std::fs::write(f.dir.join("inbox").join("zz-garbage.evt"), b"not json").unwrap();
    let mut boss = f.officer();
    let log = boss.audit_log(&Default::default()).unwrap();
    assert!(!log.iter().any(|r| r.event.event == "document.grant"));
    assert_eq!(
        log.iter()
            .filter(|r| r.event.event == "audit.inbox" && r.event.outcome == "tampered")
            .count(),
        2
    );
}
