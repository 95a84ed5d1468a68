//! `kinko about`: the version, the algorithms in use and the dependency
//! inventory (I4). The inventory is the CycloneDX SBOM in `sbom/`, embedded
//! at build time; `scripts/sbom.sh --check` in the test command keeps it
//! equal to Cargo.lock.

use std::io::Write;

use anyhow::Context;

use crate::text::table;
use crate::ui::{Out, Ui};

const SBOM: &str = include_str!("../../../sbom/kinko-cli.cdx.json");

pub fn about(ui: &Ui, sbom: bool) -> Out {
    if sbom {
        let mut out = std::io::stdout().lock();
        out.write_all(SBOM.as_bytes())
            .context("writing to standard output")?;
        return Ok(());
    }
    let about = kinko_core::about::About::new("kinko", env!("CARGO_PKG_VERSION"), SBOM)?;
    ui.show(&about, || {
        let algorithms: Vec<Vec<String>> = about
            .algorithms
            .iter()
            .map(|a| {
                vec![
                    a.purpose.to_string(),
                    a.algorithm.clone(),
                    a.id.to_string(),
                    ui.t(
                        if a.cryptrec { "○" } else { "－" },
                        if a.cryptrec { "yes" } else { "no" },
                    )
                    .to_string(),
                ]
            })
            .collect();
        let deps: Vec<Vec<String>> = about
            .components
            .iter()
            .map(|c| vec![c.name.clone(), c.version.clone(), c.license.clone()])
            .collect();
        format!(
            "Kinko (金庫) {}\n{}: {}\n\n{}\n{}\n\n{} ({}, {} {})\n{}\n{}",
            about.version,
            ui.t("通信", "Network"),
            ui.t(
                "なし（Kinko はネットワーク接続を行いません）",
                about.network
            ),
            ui.t("使用している暗号アルゴリズム", "Algorithms in use"),
            table(
                &[
                    ui.t("用途", "Purpose"),
                    ui.t("方式", "Algorithm"),
                    ui.t("識別子", "Id"),
                    ui.t("CRYPTREC 推奨", "CRYPTREC list"),
                ],
                &algorithms,
            ),
            ui.t("依存ソフトウェア一覧", "Dependency inventory"),
            about.sbom_format,
            about.components.len(),
            ui.t("件", "components"),
            table(
                &[
                    ui.t("名前", "Name"),
                    ui.t("版", "Version"),
                    ui.t("ライセンス", "License")
                ],
                &deps,
            ),
            ui.t(
                "完全な SBOM（CycloneDX JSON）: kinko about --sbom",
                "The full SBOM (CycloneDX JSON): kinko about --sbom",
            ),
        )
    })
}
