//! README.md's command blocks run as written (issue 15): every ```sh block
//! but the first, in order, in one shell, in an empty home with the
//! received `名簿.csv` in the working folder and the built `kinko` first on
//! PATH. The person at the keyboard types only the officer's password,
//! which the harness hands over as `$KINKO_PASSWORD`; everything else the
//! blocks need they make themselves. Between two blocks time passes (the
//! README's sections are months apart): the harness waits for the next
//! one-time-code step, so a sign-in in a later block is not a replay of
//! the code an earlier one used.
//!
//! The first block is the two commands that set up a machine and run every
//! check: `.ci/run` runs the second (this test is part of it), and its
//! first builds and starts the window, which the window e2e drives.

use std::path::Path;
use std::process::Command;

/// The ```sh blocks of a Markdown text, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(
        current.is_none(),
        "README.md has a ```sh block that is never closed"
    );
    // A shell block written another way would be skipped without a word.
    for other in ["```bash", "```shell", "```console", "~~~"] {
        assert!(
            !markdown.lines().any(|l| l.trim_start().starts_with(other)),
            "README.md has a {other} block: write command blocks as ```sh, so this test runs them"
        );
    }
    blocks
}

fn tool_present(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_command_block_of_the_readme_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 2, "README.md has no command blocks to run");
    assert!(
        blocks[0].contains("scripts/app.sh") && blocks[0].contains("scripts/test.sh"),
        "README.md must start with its two commands:\n{}",
        blocks[0]
    );
    for tool in ["jq", "oathtool", "bash"] {
        assert!(
            tool_present(tool),
            "{tool} is missing: bash scripts/setup.sh installs it"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let (home, work, bin) = (
        tmp.path().join("home"),
        tmp.path().join("work"),
        tmp.path().join("bin"),
    );
    for d in [&home, &work, &bin] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(
        work.join("名簿.csv"),
        "氏名,住所\n山田 太郎,東京都千代田区1-1\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(crate::kinko_bin(), bin.join("kinko")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // One shell for all blocks, so what one block set (the session, the
    // code's secret) holds in the next, as when a person reads on.
    // inherit_errexit: a failure inside $(…) stops the script too.
    let mut script = String::from("set -euo pipefail\nshopt -s inherit_errexit\n");
    for (n, block) in blocks.iter().enumerate().skip(1) {
        script.push_str(&format!(
            "echo '=== README block {n}' >&2\nset -x\n{block}set +x\n"
        ));
        if n + 1 < blocks.len() {
            // The next one-time-code step (30 s) and half a second more.
            script.push_str("sleep $(( 31 - $(date +%s) % 30 ))\n");
        }
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path)
        .env("LANG", "C.UTF-8")
        .env("KINKO_PASSWORD", kinko_test_support::OFFICER_PW)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a README block failed (exit {:?}):\n{}\n--- stdout ---\n{}",
        out.status.code(),
        stderr
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stdout)
    );
    // What the blocks say they make is there.
    for made in [
        "名簿-控え.csv",
        "監査報告.html",
        "履行状況報告.html",
        "計画書.html",
        "完了報告書.html",
    ] {
        assert!(work.join(made).is_file(), "{made} was not written");
    }
    assert_eq!(
        std::fs::read(work.join("名簿-控え.csv")).unwrap(),
        std::fs::read(work.join("名簿.csv")).unwrap()
    );
}
