//! The shell without a window: the real config and capabilities on the
//! mock runtime, a real vault in a temporary directory. Every command
//! refuses without a session; the first-run, sign-in and TOTP steps work;
//! the core's refusals come back as codes; the lock drops the session; a
//! command the ACL does not list is refused.

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow};

use kinko_test_support::OFFICER_PW as PW;

fn request(cmd: &str, body: Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    }
}

fn call(
    w: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    tauri::test::get_ipc_response(w, request(cmd, body)).map(|r| r.deserialize::<Value>().unwrap())
}

fn app(
    dir: &std::path::Path,
) -> (
    tauri::App<tauri::test::MockRuntime>,
    WebviewWindow<tauri::test::MockRuntime>,
) {
    let app = kinko_app::builder(
        tauri::test::mock_builder(),
        dir.join("vault"),
        Some(dir.join("state")),
    )
    .build(tauri::generate_context!())
    .expect("the app builds on the mock runtime");
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, w)
}

use kinko_test_support::totp_now;

#[test]
fn first_run_sign_in_totp_refusals_and_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, w) = app(tmp.path());

    let status = call(&w, "app_status", json!({})).unwrap();
    assert_eq!(status["exists"], false);
    assert_eq!(status["me"], Value::Null);
    let refused = call(&w, "list_documents", json!({})).unwrap_err();
    assert_eq!(refused["code"], "not_signed_in", "{refused}");

    // First run: a weak password is refused in a sentence; a good one
    // makes the vault and hands back the recovery code once.
    let weak = call(
        &w,
        "create_vault",
        json!({"req": {"officer_id": "kanri", "officer_name": "管理 責任者",
        "council": "○○協議会", "password": "password"}}),
    )
    .unwrap_err();
    assert_eq!(weak["code"], "invalid", "{weak}");
    let made = call(
        &w,
        "create_vault",
        json!({"req": {"officer_id": "kanri", "officer_name": "管理 責任者",
        "council": "○○協議会", "password": PW}}),
    )
    .unwrap();
    assert!(made["recovery_code"].as_str().unwrap().len() >= 20);

    let wrong = call(
        &w,
        "sign_in",
        json!({"id": "kanri", "password": "nope", "totp": null}),
    )
    .unwrap_err();
    assert_eq!(wrong["code"], "bad_credentials");
    // TOTP is required by default: the person is led to enrol first, and
    // nothing else is allowed until they do.
    let me = call(
        &w,
        "sign_in",
        json!({"id": "kanri", "password": PW, "totp": null}),
    )
    .unwrap();
    assert_eq!(me["pending"], "enrol_totp", "{me}");
    assert_eq!(
        call(&w, "list_documents", json!({})).unwrap_err()["code"],
        "not_signed_in"
    );
    let e = call(&w, "totp_enroll", json!({})).unwrap();
    let rows = e["qr"].as_array().unwrap();
    assert!(rows.len() >= 21 && rows.iter().all(|r| r.as_str().unwrap().len() == rows.len()));
    let code = totp_now(e["secret"].as_str().unwrap());
    let me = call(&w, "totp_confirm", json!({"code": code})).unwrap();
    assert_eq!(me["pending"], Value::Null, "{me}");
    assert_eq!(me["roles"], json!(["officer"]));
    assert_eq!(call(&w, "list_documents", json!({})).unwrap(), json!([]));

    let admin = call(
        &w,
        "add_account",
        json!({"id": "sys", "name": "<img src=x onerror=alert(1)>", "roles": "sysadmin"}),
    )
    .unwrap();
    let accounts = call(&w, "list_accounts", json!({})).unwrap();
    assert!(accounts
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "<img src=x onerror=alert(1)>"));
    let missing = call(&w, "view_document", json!({"id": 1})).unwrap_err();
    assert_eq!(missing["code"], "not_found", "{missing}");

    // The lock ends the session: the next call is refused.
    assert_eq!(call(&w, "lock", json!({})).unwrap(), true);
    assert_eq!(
        call(&w, "list_documents", json!({})).unwrap_err()["code"],
        "not_signed_in"
    );
    assert_eq!(
        call(&w, "app_status", json!({})).unwrap()["me"],
        Value::Null
    );

    let me = call(
        &w,
        "sign_in",
        json!({"id": "sys", "password": admin["initial_password"], "totp": null}),
    )
    .unwrap();
    assert_eq!(me["pending"], "change_password");
    call(
        &w,
        "change_password",
        json!({"password": "Zq8!own-Secret-41x"}),
    )
    .unwrap();
    call(&w, "sign_out", json!({})).unwrap();

    // The dialog plugin is registered but none of its commands is granted:
    // the ACL refuses it before its arguments are even read.
    let unlisted = call(&w, "plugin:dialog|open", json!({"options": {}})).unwrap_err();
    eprintln!("refused plugin command: {unlisted}");
    assert!(unlisted.to_string().contains("not allowed"), "{unlisted}");
}

/// An officer signed in with TOTP enrolled, in a new vault.
fn officer(w: &WebviewWindow<tauri::test::MockRuntime>) {
    call(
        w,
        "create_vault",
        json!({"req": {"officer_id": "kanri", "officer_name": "管理 責任者",
        "council": "○○協議会", "password": PW}}),
    )
    .unwrap();
    call(
        w,
        "sign_in",
        json!({"id": "kanri", "password": PW, "totp": null}),
    )
    .unwrap();
    let e = call(w, "totp_enroll", json!({})).unwrap();
    let code = totp_now(e["secret"].as_str().unwrap());
    call(w, "totp_confirm", json!({"code": code})).unwrap();
}

/// The receipt form for `import_document`, naming the file by `file`.
fn receipt(file: &str) -> Value {
    json!({"req": {"file": file, "origin": "局", "via": "USB", "purpose": "研修",
    "title": null, "personal_data": false}, "progress": "__CHANNEL__:1"})
}

/// Script in the page (an XSS, an inspector) sends raw paths: every
/// command that reads or writes a file refuses them, because a path
/// reaches a command only as a handle the shell's chooser handed out.
#[test]
fn no_command_takes_a_path_from_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, w) = app(tmp.path());
    officer(&w);
    let secret = tmp.path().join("id_rsa");
    std::fs::write(&secret, b"PRIVATE KEY MARKER").unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (file, folder) = (secret.display().to_string(), out.display().to_string());
    let attempts = [
        ("import_document", receipt(&file)),
        ("import_document", receipt("../../id_rsa")),
        ("export_document", json!({"id": 1, "folder": folder})),
        ("audit_checkpoint", json!({"folder": folder})),
        (
            "status_report",
            json!({"month": "2026-11", "folder": folder}),
        ),
        (
            "disposal_plan",
            json!({"form": {"executor": "kanri", "confirmer": "kanri", "items": [],
            "planned_date": "2026-12-25", "returned": false, "folder": folder}}),
        ),
        ("disposal_report", json!({"folder": folder})),
    ];
    for (cmd, body) in attempts {
        let refused = call(&w, cmd, body).unwrap_err();
        assert_eq!(refused["code"], "invalid", "{cmd}: {refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("with the chooser"),
            "{cmd}: {refused}"
        );
        // The page shows the core's lead for the code, in either language.
        assert!(
            refused["lead"]["ja"].as_str().unwrap().contains("入力内容"),
            "{refused}"
        );
    }
    assert_eq!(call(&w, "list_documents", json!({})).unwrap(), json!([]));
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "nothing written"
    );
}

/// The lock takes effect at once, even while a long receipt holds the
/// session: the receipt is cancelled and keeps nothing, the session ends,
/// and the call that was running shows nothing.
#[test]
fn the_lock_cancels_a_running_receipt_and_ends_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, w) = app(tmp.path());
    officer(&w);
    let big = tmp.path().join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap(); // 1 GiB, sparse: long to encrypt
    let state = w.state::<kinko_app::AppState>();
    let handle = state
        .choices
        .offer(kinko_app::chooser::Kind::File, big.clone())
        .handle;
    let w2 = w.clone();
    let receipt = std::thread::spawn(move || call(&w2, "import_document", receipt(&handle)));
    // Wait until the receipt holds the session, then lock.
    while state.session.try_lock().is_ok() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(state.lock(), "the lock must report a session it ends");
    let ended = receipt.join().unwrap().unwrap_err();
    assert!(
        ["locked", "cancelled"].contains(&ended["code"].as_str().unwrap()),
        "{ended}"
    );
    assert!(state.session.lock().unwrap().is_none(), "the session ended");
    assert_eq!(
        call(&w, "list_documents", json!({})).unwrap_err()["code"],
        "not_signed_in"
    );
    assert_eq!(
        files_under(&tmp.path().join("vault/objects")),
        0,
        "the cancelled receipt left an object"
    );
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files_under(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A5: the page's alert watch. At first it hands over every open alert,
/// then only newer ones; it is no activity (the window's idle clock does
/// not move); and while the person's own work holds the session it does
/// not wait (nothing now, the next turn asks again).
#[test]
fn the_alert_watch_hands_over_new_alerts_and_is_no_activity() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, w) = app(tmp.path());
    officer(&w);
    assert_eq!(
        call(&w, "watch_alerts", json!({"after": 0})).unwrap(),
        json!([])
    );
    call(
        &w,
        "policy_set",
        json!({"key": "alert.bulk_count", "value": "1"}),
    )
    .unwrap();
    let state = w.state::<kinko_app::AppState>();
    let note = tmp.path().join("note.txt");
    std::fs::write(&note, "氏名,住所\n").unwrap();
    let handle = state
        .choices
        .offer(kinko_app::chooser::Kind::File, note.clone())
        .handle;
    let id = call(&w, "import_document", receipt(&handle))
        .unwrap()
        .as_i64()
        .unwrap();
    for _ in 0..2 {
        call(&w, "view_document", json!({"id": id})).unwrap();
    }
    let before = state.activity.lock().unwrap().last;
    let told = call(&w, "watch_alerts", json!({"after": 0})).unwrap();
    let told = told.as_array().unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["rule"], "bulk_access");
    assert_eq!(
        state.activity.lock().unwrap().last,
        before,
        "a watch is no activity"
    );
    let newest = told[0]["id"].as_i64().unwrap();
    assert_eq!(
        call(&w, "watch_alerts", json!({"after": newest})).unwrap(),
        json!([]),
        "nothing new"
    );
    // The person's own work holds the session: the watch does not wait.
    // A watch that waited would never answer while the session is held:
    // the answer must come within seconds, with the session still held.
    let held = state.session.lock().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let w2 = w.clone();
    std::thread::spawn(move || {
        let _ = tx.send(call(&w2, "watch_alerts", json!({"after": 0})));
    });
    let answered = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the watch waited on a busy session");
    drop(held);
    assert_eq!(
        answered.unwrap(),
        json!([]),
        "a busy session is not waited for"
    );
}

/// A terminal that offers a token (SoftHSM2, `$KINKO_PKCS11_MODULE` where
/// the app starts): the app binds the person's keyslot to it (password
/// again, and the PIN); from then on the app signs in with the PIN typed
/// beside the password, and not without it.
#[test]
fn the_app_binds_and_signs_in_with_the_terminals_token() {
    let tmp = tempfile::tempdir().unwrap();
    let hsm = kinko_test_support::SoftHsm::with_tokens(&["kanri-card"]);
    // Read by the app when it starts; only this test uses SoftHSM2.
    std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
    std::env::set_var("KINKO_PKCS11_MODULE", kinko_test_support::SOFTHSM_MODULE);
    let (_app, w) = app(tmp.path());
    std::env::remove_var("KINKO_PKCS11_MODULE");
    assert_eq!(call(&w, "app_status", json!({})).unwrap()["token"], true);

    call(
        &w,
        "create_vault",
        json!({"req": {"officer_id": "kanri", "officer_name": "管理 責任者",
        "council": "○○協議会", "password": PW}}),
    )
    .unwrap();
    let sign_in = |pin: Value| {
        call(
            &w,
            "sign_in",
            json!({"id": "kanri", "password": PW, "totp": null, "pin": pin}),
        )
    };
    sign_in(Value::Null).unwrap();
    let wrong = call(
        &w,
        "token_enrol",
        json!({"password": "Not-Mine-42!x", "pin": "1234"}),
    )
    .unwrap_err();
    assert_eq!(wrong["code"], "invalid", "{wrong}");
    call(&w, "token_enrol", json!({"password": PW, "pin": "1234"})).unwrap();
    call(&w, "sign_out", json!({})).unwrap();

    let without = sign_in(Value::Null).unwrap_err();
    assert_eq!(without["code"], "token_needed", "{without}");
    let bad_pin = sign_in(json!("9999")).unwrap_err();
    assert_eq!(bad_pin["code"], "not_signed_in", "{bad_pin}");
    let me = sign_in(json!("1234")).unwrap();
    assert_eq!(me["id"], "kanri");
}

#[test]
fn the_connection_setting_keeps_nothing_from_a_failed_enrolment_and_never_hides_a_vault_here() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, w) = app(tmp.path());
    let empty = json!({"server": null, "terminal": null, "waiting": null, "local_vault": false});
    assert_eq!(call(&w, "connection", json!({})).unwrap(), empty);
    // No server answers on this port: one sentence, nothing kept, and the
    // app still works on this PC's vault.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = call(
        &w,
        "connect",
        json!({"url": format!("https://127.0.0.1:{port}"), "fingerprint": "ab".repeat(32), "token": "t"}),
    )
    .unwrap_err();
    assert!(
        refused["message"].as_str().unwrap().contains("127.0.0.1"),
        "{refused}"
    );
    assert_eq!(call(&w, "connection", json!({})).unwrap(), empty);
    let status = call(&w, "app_status", json!({})).unwrap();
    assert_eq!(
        status["vault"],
        tmp.path().join("vault").display().to_string()
    );
    // Signed in, the setting does not change under the person.
    officer(&w);
    let busy = call(
        &w,
        "connect",
        json!({"url": format!("https://127.0.0.1:{port}"), "fingerprint": "ab".repeat(32), "token": null}),
    )
    .unwrap_err();
    assert!(
        busy["message"].as_str().unwrap().contains("sign out"),
        "{busy}"
    );
    // Signed out, a vault folder on this PC is never hidden by a
    // connection: none is offered, and none is made.
    call(&w, "sign_out", json!({})).unwrap();
    assert_eq!(
        call(&w, "connection", json!({})).unwrap()["local_vault"],
        true
    );
    let hidden = call(
        &w,
        "connect",
        json!({"url": format!("https://127.0.0.1:{port}"), "fingerprint": "ab".repeat(32), "token": "t"}),
    )
    .unwrap_err();
    assert!(
        hidden["message"]
            .as_str()
            .unwrap()
            .contains("holds a vault"),
        "{hidden}"
    );
}
