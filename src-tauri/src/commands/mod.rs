//! App commands: parse, call the core, return. Every command that needs a
//! person goes through [`with_session`], which enforces the idle lock and
//! notes activity; the core then checks the permission. Errors reach the
//! page as `{code, message}`: the code picks the sentence the page shows,
//! the message is the core's one line.

mod calling;
pub(crate) mod connection;
mod contract;
pub(crate) mod documents;
pub(crate) mod oversight;
pub(crate) mod people;
pub(crate) mod start;

/// Every command, as declared in the ACL manifest (build.rs) and granted
/// in capabilities/default.json.
pub const COMMANDS: &[&str] = include!("../command_names.rs");

pub fn register<R: tauri::Runtime>(b: tauri::Builder<R>) -> tauri::Builder<R> {
    b.invoke_handler(tauri::generate_handler![
        start::app_status,
        start::about,
        start::create_vault,
        start::sign_in,
        start::upgrade_vault,
        start::sign_out,
        start::lock,
        start::touch,
        start::change_password,
        start::totp_enroll,
        start::totp_confirm,
        start::token_enrol,
        connection::connection,
        connection::connect,
        connection::connect_collect,
        documents::list_documents,
        documents::show_document,
        documents::pick_file,
        documents::pick_folder,
        documents::import_document,
        documents::cancel_import,
        documents::view_document,
        documents::view_bytes,
        documents::export_document,
        documents::approve_export,
        documents::grant,
        documents::revoke,
        documents::grants_by_person,
        people::list_accounts,
        people::add_account,
        people::account_lifecycle,
        people::reset_account,
        people::certify_account,
        people::set_account_hours,
        people::roster_list,
        people::roster_request_add,
        people::roster_request_remove,
        people::roster_approve,
        people::policy_show,
        people::policy_set,
        oversight::audit_log,
        oversight::audit_verify,
        oversight::audit_checkpoint,
        oversight::alerts,
        oversight::watch_alerts,
        oversight::alert_ack,
        oversight::incidents,
        oversight::incident_add,
        oversight::incident_update,
        oversight::incident_close,
        oversight::status_report,
        contract::disposal_status,
        contract::disposal_plan,
        contract::disposal_approve,
        contract::disposal_execute,
        contract::disposal_confirm,
        contract::disposal_report,
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_is_granted_by_the_capability() {
        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../../capabilities/default.json")).unwrap();
        let granted: Vec<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let mut wanted: Vec<String> = super::COMMANDS
            .iter()
            .map(|c| format!("allow-{}", c.replace('_', "-")))
            .collect();
        // Drag and drop arrives as a window event the page listens for.
        wanted.extend([
            "core:event:allow-listen".into(),
            "core:event:allow-unlisten".into(),
        ]);
        assert_eq!(
            granted, wanted,
            "capabilities/default.json must grant exactly these"
        );
    }

    #[test]
    fn every_app_command_the_actions_list_names_is_registered() {
        for e in kinko_core::actions::LIST {
            if let Some(app) = e.app {
                assert!(
                    super::COMMANDS.contains(&app),
                    "actions::LIST names the app command {app} for {}, which the app does not have",
                    e.method
                );
            }
        }
    }
}
