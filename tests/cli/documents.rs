//! Receiving, listing, showing and exporting documents through `kinko`.

use crate::{contains, TestVault};

fn sample(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7919) % 253) as u8).collect()
}

#[test]
fn round_trip_at_chunk_boundaries_and_beyond() {
    let v = TestVault::new();
    for n in [0usize, 1, 65535, 65536, 65537, 5 * 1024 * 1024 + 3] {
        let data = sample(n);
        let src = v.file(&format!("in-{n}"), &data);
        let id = v.import(&src, &[]);
        // To standard output …
        assert_eq!(
            v.boss(&["open", &id, "--out", "-"]).ok().stdout,
            data,
            "size {n} to stdout"
        );
        // … and to a new file.
        let out = v.work(&format!("out-{n}"));
        v.boss(&["open", &id, "--out", out.to_str().unwrap()]).ok();
        assert_eq!(std::fs::read(&out).unwrap(), data, "size {n} to file");
        let shown = v.boss(&["--json", "show", &id]).ok().json();
        assert_eq!(shown["size"], n as u64);
    }
}

#[test]
fn receipt_is_recorded() {
    let v = TestVault::new();
    let src = v.file("名簿.csv", "氏名,住所\n".as_bytes());
    let id = v
        .boss(&[
            "--json",
            "import",
            src.to_str().unwrap(),
            "--from",
            "東京労働局 職業安定課",
            "--purpose",
            "令和8年度 委託契約",
            "--via",
            "USB",
            "--title",
            "受講者名簿",
            "--personal-data",
        ])
        .ok()
        .json()["id"]
        .as_i64()
        .unwrap();
    let d = v.boss(&["--json", "show", &id.to_string()]).ok().json();
    assert_eq!(d["title"], "受講者名簿");
    assert_eq!(d["file_name"], "名簿.csv");
    assert_eq!(d["origin"], "東京労働局 職業安定課");
    assert_eq!(d["via"], "USB");
    assert_eq!(d["purpose"], "令和8年度 委託契約");
    assert_eq!(d["personal_data"], true);
    assert_eq!(d["received_by"], "boss");
    assert_eq!(d["sha256"], sha256_hex("氏名,住所\n".as_bytes()));
    assert_eq!(d["holders"], serde_json::json!(["boss"]));
    let text = v
        .boss(&["--lang", "ja", "show", &id.to_string()])
        .ok()
        .text();
    assert!(text.contains("受領元") && text.contains("東京労働局"));
}

fn sha256_hex(data: &[u8]) -> String {
    // The system's sha256sum is an independent check of the recorded hash.
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn no_plaintext_anywhere_under_the_vault() {
    let v = TestVault::new();
    let marker = b"KINKO-PLAINTEXT-MARKER-7f3a";
    let mut body = sample(200_000);
    body.extend_from_slice(marker);
    body.extend_from_slice(&sample(1000));
    let src = v.file("marked.bin", &body);
    let title = "TITLE-MARKER-91c2";
    let id = v.import(&src, &["--title", title, "--personal-data"]);
    let pw = v.add("hana", "handler");
    v.boss(&["grant", &id, "--to", "hana"]).ok();
    v.as_user("hana", &pw, &["list"]).ok();
    v.boss(&["audit", "log"]).ok();
    for f in v.all_files() {
        let bytes = std::fs::read(&f).unwrap();
        for needle in [&marker[..], title.as_bytes(), b"hana", b"SQLite format 3"] {
            assert!(
                !contains(&bytes, needle),
                "{} holds {:?}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[test]
fn personal_data_leaves_only_under_an_approval() {
    let v = TestVault::new();
    let src = v.file("pd.txt", b"personal");
    let id = v.import(&src, &["--personal-data"]);
    v.boss(&["open", &id, "--out", "-"]).code(4);
    let mgr = v.add("mika", "manager");
    v.as_user("mika", &mgr, &["approve-export", &id, "--ref", "R8-001"])
        .code(4);
    v.boss(&["approve-export", &id, "--ref", "労発0401第1号"])
        .ok();
    assert_eq!(
        v.boss(&["open", &id, "--out", "-"]).ok().stdout,
        b"personal"
    );
    // An approval is used up by the export it allowed.
    v.boss(&["open", &id, "--out", "-"]).code(4);
    let events = v.events();
    let exports: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "document.export")
        .collect();
    assert_eq!(
        exports.iter().filter(|e| e["outcome"] == "denied").count(),
        2
    );
    assert!(exports
        .iter()
        .any(|e| e["outcome"] == "ok" && e["detail"].as_str().unwrap().contains("労発0401第1号")));
}

#[test]
fn export_never_overwrites_an_existing_file() {
    let v = TestVault::new();
    let src = v.file("a.txt", b"new contents");
    let id = v.import(&src, &[]);
    let existing = v.file("existing.txt", b"precious");
    v.boss(&["open", &id, "--out", existing.to_str().unwrap()])
        .code(1);
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
}

#[test]
fn import_killed_midway_leaves_no_half_document() {
    let v = TestVault::new();
    let keep = v.file("keep.txt", b"kept");
    let kept = v.import(&keep, &[]);
    // A large sparse file: costs no disk, takes seconds to encrypt.
    let big = v.work("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(6 * 1024 * 1024 * 1024)
        .unwrap();
    let mut child = v
        .command(
            &[
                "import",
                big.to_str().unwrap(),
                "--from",
                "b",
                "--purpose",
                "p",
            ],
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", crate::OFFICER_PW),
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until ciphertext is being written, then kill without warning.
    let started = std::time::Instant::now();
    loop {
        let writing = std::fs::read_dir(v.dir.join("objects"))
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                e.file_name().to_string_lossy().starts_with(".tmp-")
                    && e.metadata().unwrap().len() > 1 << 20
            });
        if writing {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "import never started writing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "import finished before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let docs = v.boss(&["--json", "list"]).ok().json();
    assert_eq!(
        docs.as_array().unwrap().len(),
        1,
        "no half document is visible"
    );
    let report = v.boss(&["--json", "verify", "--deep"]).ok().json();
    assert_eq!(report["damaged"].as_array().unwrap().len(), 0);
    assert_eq!(report["leftovers"].as_array().unwrap().len(), 1);
    assert_eq!(v.boss(&["open", &kept, "--out", "-"]).ok().stdout, b"kept");
}

/// Peak resident memory (VmHWM, KiB) of a running process, if readable.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `kinko` with a session (no password KDF, whose 64 MiB would hide
/// the measurement) and return the highest peak RSS seen while it ran.
fn peak_while_running(v: &TestVault, token: &str, args: &[&str]) -> u64 {
    let mut child = v
        .command(args, &[("KINKO_SESSION", token)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "kinko {args:?} failed");
            return peak;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn memory_stays_flat_whatever_the_file_size() {
    let v = TestVault::new();
    let token = v
        .boss(&["login"])
        .ok()
        .text()
        .trim()
        .trim_start_matches("export KINKO_SESSION=")
        .to_string();
    let small = v.file("small.bin", &sample(1024));
    let big = v.work("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(256 * 1024 * 1024)
        .unwrap();
    let args = |p: &std::path::Path| {
        vec![
            "import".to_string(),
            p.to_str().unwrap().to_string(),
            "--from".into(),
            "b".into(),
            "--purpose".into(),
            "p".into(),
        ]
    };
    let small_args = args(&small);
    let big_args = args(&big);
    let small_peak = peak_while_running(
        &v,
        &token,
        &small_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let big_peak = peak_while_running(
        &v,
        &token,
        &big_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(big_peak > 0 && small_peak > 0, "could read /proc");
    assert!(
        big_peak < small_peak + 16 * 1024,
        "importing 256 MiB peaked at {big_peak} KiB, a 1 KiB file at {small_peak} KiB"
    );
    let out = v.work("big.out");
    let export_peak =
        peak_while_running(&v, &token, &["open", "2", "--out", out.to_str().unwrap()]);
    assert!(
        export_peak < small_peak + 16 * 1024,
        "export peaked at {export_peak} KiB"
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 256 * 1024 * 1024);
}
