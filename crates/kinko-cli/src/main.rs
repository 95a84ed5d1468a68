//! `kinko`: parses arguments, calls kinko-core, prints. No rule lives here.
//!
//! Exit codes (CLI.md): 0 done, 1 failed, 2 usage, 3 not signed in or
//! wrong credentials, 4 not permitted, 5 integrity failure or tampering.

mod about;
mod args;
mod audit;
mod auth;
mod backup;
mod commands;
mod device;
mod disposal;
mod failure;
mod incident;
mod keys;
mod remote;
mod text;
mod ui;

use std::process::ExitCode;

use clap::Parser;
use kinko_core::Kind;

use crate::failure::Failure;
use crate::text::Lang;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let lang = Lang::pick(cli.global.lang.as_deref());
    match commands::run(cli, lang) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Exit(code)) => ExitCode::from(code),
        Err(Failure::Edge(e)) => {
            eprintln!("kinko: {}", one_line(&format!("{e:#}")));
            ExitCode::from(1)
        }
        Err(Failure::Core(e)) => {
            let mut message = one_line(&e.to_string());
            if let Some(field) = e.field_name() {
                message = format!("{message} ({})", args::flag_for(field));
            }
            // In Japanese the core's lead (what happened, what to do)
            // comes first; the detail is the core's own line.
            match lang {
                Lang::Ja => eprintln!("kinko: {} {message}", e.lead().ja),
                Lang::En => eprintln!("kinko: {message}"),
            }
            ExitCode::from(match e.kind() {
                Kind::Failed => 1,
                Kind::Auth => 3,
                Kind::Denied => 4,
                Kind::Integrity => 5,
            })
        }
    }
}

/// Errors are one line on stderr, whatever the source said.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
