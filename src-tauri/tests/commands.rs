//! The shell without a window: the real config and capabilities on the
//! mock runtime, a real vault in a temporary directory. Every command
//! refuses without a session; the first-run, sign-in and TOTP steps work;
//! the core's refusals come back as codes; the lock drops the session; a
//! command the ACL does not list is refused.

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

const PW: &str = "Kinko-Vault-7q2x!";

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
    let app = kinko_app::builder(tauri::test::mock_builder(), dir.join("vault"))
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, w)
}

fn totp_now(secret_base32: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(unix)
        .to_string()
}

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
