//! How a command talks to its person and its files: output as text or
//! JSON, the signed-in session, files read and written.

use std::io::Write;

use anyhow::Context;
use kinko_core::Vault;
use serde::Serialize;

use crate::args::Global;
use crate::auth;
use crate::failure::Failure;
use crate::text::{table, Lang};

pub(crate) type Out = Result<(), Failure>;

pub(crate) struct Ui {
    pub(crate) json: bool,
    pub(crate) lang: Lang,
}

impl Ui {
    /// Print `value` as JSON, or `human` for people.
    pub(crate) fn show<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> Out {
        let text = if self.json {
            serde_json::to_string_pretty(value).context("serialising output")?
        } else {
            human()
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", text.trim_end()).context("writing to standard output")?;
        Ok(())
    }

    pub(crate) fn t<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        self.lang.t(ja, en)
    }

    /// A list as JSON, or as a table with one row per item.
    pub(crate) fn show_table<T: Serialize>(
        &self,
        items: &[T],
        headers: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) -> Out {
        self.show(&items, || {
            table(headers, &items.iter().map(row).collect::<Vec<_>>())
        })
    }

    /// One record as JSON, or as a two-column table of item and value.
    pub(crate) fn show_record<'a, T: Serialize>(
        &'a self,
        value: &T,
        rows: impl FnOnce() -> Vec<(&'a str, String)>,
    ) -> Out {
        self.show(value, || {
            let rows: Vec<Vec<String>> = rows()
                .into_iter()
                .map(|(k, v)| vec![k.to_string(), v])
                .collect();
            table(&[self.t("項目", "Item"), self.t("値", "Value")], &rows)
        })
    }
}

pub(crate) fn open_vault(g: &Global) -> Result<Vault, Failure> {
    let vault = match &g.server {
        None => Vault::open_on_terminal(&auth::vault_dir(g)?)?,
        Some(url) => kinko_remote::terminal::open_vault(&crate::remote::enrolled_with(url)?)?,
    };
    Ok(match auth::token_access(g)? {
        Some(token) => vault.with_token(token),
        None => vault,
    })
}

pub(crate) fn session(g: &Global) -> Result<kinko_core::Session, Failure> {
    auth::session(&open_vault(g)?, g)
}

/// Read a file the person named (a checkpoint, key, archive or report).
pub(crate) fn read_input(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    Ok(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
}

/// Refuse before acting when an output name is taken, so an action (a
/// new plan replacing an approved one) never happens without its files.
pub(crate) fn refuse_taken(paths: &[&std::path::Path]) -> Out {
    for path in paths {
        if path.exists() {
            return Err(anyhow::anyhow!(
                "{} already exists; choose a new file name",
                path.display()
            )
            .into());
        }
    }
    Ok(())
}

/// Write files the command produced, all or none: a name already taken is
/// refused before anything is written, and each file is readable by its
/// owner only (they may hold personal data or the trail's contents).
pub(crate) fn write_new_files(files: &[(std::path::PathBuf, &[u8])]) -> Out {
    let files: Vec<(&std::path::Path, &[u8])> =
        files.iter().map(|(p, b)| (p.as_path(), *b)).collect();
    Ok(kinko_core::fsutil::write_new_files(&files)?)
}

/// A day a person typed: `YYYY-MM-DD`.
pub(crate) fn date(text: &str) -> Result<chrono::NaiveDate, Failure> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("'{text}' is not a date: write YYYY-MM-DD").into())
}
