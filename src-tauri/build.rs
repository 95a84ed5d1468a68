//! Declare every app command in the ACL manifest, so that each is checked
//! against the capabilities and nothing unlisted can be called.

const COMMANDS: &[&str] = include!("src/command_names.rs");

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
