//! Sessions and credentials: sealed sessions, one per person, password
//! age, the idle limit (P5, P7), and what a session tells the page it may do.

use super::*;

#[test]
fn a_sealed_session_resumes_and_ends() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let token = boss.start_token().unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    let s = vault.resume(&token, "t").unwrap();
    assert_eq!(s.actor().id, "boss");
    s.end().unwrap();
    assert!(matches!(
        vault.resume(&token, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(std::fs::read_dir(f.dir.join("sessions"))
        .unwrap()
        .next()
        .is_none());
    // A forged token opens nothing.
    let forged = format!("{}.AAAA", "0".repeat(32));
    assert!(matches!(
        vault.resume(&forged, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(matches!(
        vault.resume("../../etc/passwd.x", "t"),
        Err(Error::NotSignedIn(_))
    ));
}

#[test]
fn a_new_sign_in_ends_the_earlier_session() {
    let f = fixture(KdfProfile::Argon2id);
    let first = f.officer().start_token().unwrap();
    let second = f.officer().start_token().unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    assert!(matches!(
        vault.resume(&first, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(vault.resume(&second, "t").is_ok());
}

#[test]
fn passwords_change_and_ids_are_never_reissued() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let carol = boss.add_account("carol", "Carol", "manager").unwrap();
    assert!(matches!(
        boss.add_account("carol", "Other Carol", "handler"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        boss.add_account("boss2", "Second officer", "officer"),
        Err(Error::Invalid(_))
    ));
    let mut c = f.sign_in("carol", carol.initial_password.as_str());
    assert!(matches!(
        c.change_password(&Password::new("short")),
        Err(Error::Invalid(_))
    ));
    c.change_password(&Password::new("Mint-Lake-6t1y!e"))
        .unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    assert!(vault
        .sign_in(
            "carol",
            &Password::new(carol.initial_password.as_str()),
            None,
            "t"
        )
        .is_err());
    assert!(vault
        .sign_in("carol", &Password::new("Mint-Lake-6t1y!e"), None, "t")
        .is_ok());
}

/// Open the database as a key holder and run `sql` (to move time back).
fn raw_sql(f: &Fixture, id: &str, pw: &str, sql: &str) {
    f.raw_db(id, pw).execute_batch(sql).unwrap();
}

/// P5: a password past the maximum age allows only `passwd`; one close to
/// it signs in with a warning.
#[test]
fn password_age_warns_then_refuses_all_but_a_change() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    boss.policy_set("password.max_age_days", "30").unwrap();
    let new = boss.add_account("hana", "Hana", "handler").unwrap();
    let pw = f.activate("hana", &new.initial_password);
    let ago = |days: i64| (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    raw_sql(
        &f,
        "boss",
        OFFICER_PW,
        &format!(
            "UPDATE accounts SET password_changed_at = '{}' WHERE id = 'hana'",
            ago(25)
        ),
    );
    let s = f.sign_in("hana", &pw);
    assert!(
        s.notices().iter().any(|n| n.contains("expires in")),
        "{:?}",
        s.notices()
    );
    raw_sql(
        &f,
        "boss",
        OFFICER_PW,
        &format!(
            "UPDATE accounts SET password_changed_at = '{}' WHERE id = 'hana'",
            ago(31)
        ),
    );
    let mut s = f.sign_in("hana", &pw);
    assert!(matches!(s.list_documents(), Err(Error::NotSignedIn(m)) if m.contains("expired")));
    s.change_password(&Password::new("Renewed-Choice-7u!k"))
        .unwrap();
    f.sign_in("hana", "Renewed-Choice-7u!k")
        .list_documents()
        .unwrap();
}

/// P7: a stored session idle longer than the policy allows has ended.
#[test]
fn an_idle_session_ends() {
    let f = fixture(KdfProfile::Argon2id);
    let token = f.officer().start_token().unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    vault.resume(&token, "t").unwrap();
    let old = (chrono::Utc::now() - chrono::Duration::minutes(16)).to_rfc3339();
    raw_sql(
        &f,
        "boss",
        OFFICER_PW,
        &format!("UPDATE sessions SET last_seen_at = '{old}'"),
    );
    assert!(matches!(
        vault.resume(&token, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(
        std::fs::read_dir(f.dir.join("sessions"))
            .unwrap()
            .next()
            .is_none(),
        "key material destroyed"
    );
    let log = f.officer().audit_log(&Default::default()).unwrap();
    assert!(log
        .iter()
        .any(|r| r.event.event == "session.end" && r.event.detail == "idle timeout"));
}

/// The page is told what a person may do (`Session::allowed`), so it
/// decides nothing about roles: a role's actions, and only setting one's
/// credentials while restricted (a new account before its first password).
#[test]
fn a_session_tells_what_its_person_may_do() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let allowed = boss.allowed();
    assert_eq!(
        allowed,
        kinko_core::permission::allowed(&boss.actor().roles.clone())
    );
    assert!(allowed.contains(&"document.import") && allowed.contains(&"report.status"));
    let hana = boss.add_account("hana", "Hana", "handler").unwrap();
    let new = f.sign_in("hana", hana.initial_password.as_str());
    assert_eq!(
        new.allowed(),
        vec![
            "account.passwd",
            "account.totp_enroll",
            "account.totp_confirm",
            "account.token_enrol",
            "policy.show",
            "session.start",
            "session.end",
            "vault.status"
        ]
    );
    let admin = boss.add_account("sam", "Sam", "sysadmin").unwrap();
    let own = f.activate("sam", &admin.initial_password);
    let sam = f.sign_in("sam", &own);
    assert!(sam.allowed().contains(&"account.add"));
    assert!(!sam.allowed().iter().any(|a| a.starts_with("document.")));
}

/// A person's certificate revoked while their session is open (the
/// officer resets them while the app is open): their next action is
/// refused, and the refusal is not signed under the revoked certificate,
/// so the trail still verifies.
#[test]
fn a_session_open_across_a_reset_signs_nothing_under_the_old_certificate() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let hana = boss.add_account("hana", "Hana", "handler").unwrap();
    drop(boss);
    let hana_pw = f.activate("hana", &hana.initial_password);
    let mut open = f.sign_in("hana", &hana_pw);
    open.list_documents().unwrap();
    let mut boss = f.officer();
    boss.reset_account("hana").unwrap();
    assert!(open.list_documents().is_err());
    drop(open);
    boss.audit_verify(None).unwrap();
}
