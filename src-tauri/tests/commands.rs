//! The shell without a window: the real config and capabilities on the
//! mock runtime. Every listed command answers, and refuses without a
//! session; a command the ACL manifest does not list is refused.

use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::webview::InvokeRequest;

fn request(cmd: &str, body: serde_json::Value) -> InvokeRequest {
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

#[test]
fn commands_need_a_session_and_unlisted_ones_are_refused() {
    let tmp = std::env::temp_dir().join(format!("kinko-app-test-{}", std::process::id()));
    let app = kinko_app::builder(tauri::test::mock_builder(), tmp.join("vault"))
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    let status =
        tauri::test::get_ipc_response(&webview, request("app_status", serde_json::json!({})))
            .expect("app_status answers")
            .deserialize::<serde_json::Value>()
            .unwrap();
    assert_eq!(status["exists"], false);
    assert_eq!(status["signed_in"], serde_json::Value::Null);

    let refused =
        tauri::test::get_ipc_response(&webview, request("list_documents", serde_json::json!({})))
            .expect_err("no session, no documents");
    assert_eq!(refused["code"], "not_signed_in", "{refused}");

    let unlisted = tauri::test::get_ipc_response(
        &webview,
        request("plugin:fs|read_file", serde_json::json!({})),
    );
    assert!(unlisted.is_err(), "an unlisted command ran");
}
