//! Personal data off the shared key (issue 15): every account holder can
//! open the database (its key is in every keyslot), so what a handler may
//! not read must not be in it in the clear. Rosters are sealed to the
//! officer, managers and custodian; a document's label (title, file name,
//! origin, way, purpose) to its holders and the officer; password history
//! to its person. Each test works as the insider would: the database
//! opened with a handler's own keyslot, every table and column read.

use crate::TestVault;

const ROSTER_MARKERS: &[&str] = &[
    "ROSTER-ADDRESS-MARKER",
    "1937-11-23",
    "NATIONALITY-MARKER",
    "EDUCATION-MARKER",
    "HISTORY-MARKER",
    "LANGUAGE-MARKER",
];
const LABEL_MARKERS: &[&str] = &[
    "TITLE-MARKER",
    "FILENAME-MARKER",
    "ORIGIN-MARKER",
    "VIA-MARKER",
    "PURPOSE-MARKER",
];

/// Every value of every row of every table, as text (blobs lossily).
fn every_value(db: &rusqlite::Connection) -> Vec<(String, String)> {
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut values = Vec::new();
    for table in tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    _ => continue,
                };
                values.push((table.clone(), text));
            }
        }
    }
    values
}

/// Mika (a manager, `password`) asks for `id` on the worker roster with
/// the roster markers; returns the request's number.
fn worker_request(v: &TestVault, password: &str, id: &str) -> String {
    let args = [
        "roster",
        "request",
        "add",
        id,
        "--roster",
        "worker",
        "--name",
        id,
        "--address",
        "ROSTER-ADDRESS-MARKER 東京都",
        "--birth-date",
        "1937-11-23",
        "--department",
        "相談課",
        "--position",
        "主任",
        "--education",
        "EDUCATION-MARKER",
        "--work-history",
        "HISTORY-MARKER",
        "--native-language",
        "LANGUAGE-MARKER",
        "--nationality",
        "NATIONALITY-MARKER",
    ];
    let req = v.as_user("mika", password, &args).ok().text();
    req.trim().to_string()
}

/// The vault of the test: a manager (mika) and a handler (hana), a worker
/// entry approved and one pending, a document the officer received and one
/// mika received and granted to hana, both carrying the label markers.
fn vault_with_markers() -> (TestVault, String, String, String) {
    let v = TestVault::new();
    let mika = v.add("mika", "manager");
    let hana = v.add("hana", "handler");
    let req = worker_request(&v, &mika, "hana");
    v.boss(&[
        "roster",
        "approve",
        &req,
        "--ref",
        "労発1207第1号",
        "--date",
        "2026-12-07",
    ])
    .ok();
    // A request still waiting holds the same data.
    worker_request(&v, &mika, "mika");
    let source = v.file("FILENAME-MARKER.txt", b"contents");
    let label = [
        "--title",
        "TITLE-MARKER 山田太郎様",
        "--via",
        "VIA-MARKER",
        "--personal-data",
    ];
    let doc = v.import(&source, &label);
    let hanas = v
        .as_user(
            "mika",
            &mika,
            &[
                "import",
                source.to_str().unwrap(),
                "--from",
                "ORIGIN-MARKER",
                "--purpose",
                "PURPOSE-MARKER",
                "--title",
                "TITLE-MARKER 2",
            ],
        )
        .ok()
        .text()
        .trim()
        .to_string();
    v.as_user("mika", &mika, &["grant", &hanas, "--to", "hana"])
        .ok();
    let _ = doc;
    (v, mika, hana, hanas)
}

/// The marker scan: the database opened with a handler's key holds none
/// of the roster's or the labels' personal data, in any table; the people
/// entitled still read all of it through Kinko.
#[test]
fn a_handlers_database_key_reveals_no_roster_or_label() {
    let (v, mika, hana, hanas) = vault_with_markers();
    let db = v.raw_db("hana", &hana);
    let values = every_value(&db);
    assert!(values.len() > 100, "the scan read the tables");
    for marker in ROSTER_MARKERS.iter().chain(LABEL_MARKERS) {
        let found: Vec<&String> = values
            .iter()
            .filter(|(_, text)| text.contains(marker))
            .map(|(table, _)| table)
            .collect();
        assert!(found.is_empty(), "{marker} readable in {found:?}");
    }
    // Password history: sealed to its person's key.
    let clear: i64 = db
        .query_row(
            "SELECT count(*) FROM password_history WHERE substr(hash, 1, 4) != CAST('KPH1' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(clear, 0, "a password hash is under the shared key only");

    // The officer reads the rosters and every label.
    let rosters = v.boss(&["--json", "roster", "list"]).ok().text();
    assert!(rosters.contains("ROSTER-ADDRESS-MARKER"), "{rosters}");
    assert!(rosters.contains("NATIONALITY-MARKER"), "{rosters}");
    let pending = v
        .boss(&["--json", "roster", "list", "--pending"])
        .ok()
        .text();
    assert!(pending.contains("EDUCATION-MARKER"), "{pending}");
    let listed = v.boss(&["--json", "list"]).ok().text();
    for marker in LABEL_MARKERS {
        assert!(
            listed.contains(marker),
            "the officer's list lacks {marker}: {listed}"
        );
    }
    // A manager reads the rosters, the label of what she holds and no
    // label of a document she does not hold; a handler reads the label of
    // what was granted to her.
    let managers = v
        .as_user("mika", &mika, &["--json", "roster", "list"])
        .ok()
        .text();
    assert!(managers.contains("HISTORY-MARKER"), "{managers}");
    let list = v.as_user("mika", &mika, &["--json", "list"]).ok().json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for doc in list {
        if doc["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(hanas.as_str()) {
            assert_eq!(doc["title"], "TITLE-MARKER 2", "{doc}");
        } else {
            assert_eq!(doc["label_hidden"], true, "{doc}");
            assert!(!doc.to_string().contains("MARKER"), "{doc}");
        }
    }
    let own = v
        .as_user("hana", &hana, &["--json", "show", &hanas])
        .ok()
        .json();
    assert_eq!(own["title"], "TITLE-MARKER 2");
    assert_eq!(own["origin"], "ORIGIN-MARKER");
    // The handler may not read the rosters at all.
    v.as_user("hana", &hana, &["roster", "list"]).code(4);
}

/// The insider swaps the catalogue's public key for a key pair of her own,
/// so that the next label sealed for the officer opens for her: the next
/// receipt is refused as tampering and nothing is sealed to her key.
#[test]
fn a_circle_key_swapped_by_hand_seals_nothing() {
    let (v, _, hana, _) = vault_with_markers();
    let own = kinko_core::crypto::HpkeKeyPair::generate();
    let db = v.raw_db("hana", &hana);
    db.execute(
        "UPDATE circles SET public_key = ?1 WHERE name = 'catalogue'",
        [&own.public],
    )
    .unwrap();
    drop(db);
    let f = v.file("next.txt", b"next");
    let r = v
        .boss(&[
            "import",
            f.to_str().unwrap(),
            "--from",
            "bureau",
            "--purpose",
            "contract",
            "--title",
            "NEXT-MARKER",
        ])
        .code(5);
    assert!(r.stderr.contains("catalogue key"), "{}", r.stderr);
    let db = v.raw_db("hana", &hana);
    let documents: i64 = db
        .query_row("SELECT count(*) FROM documents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(documents, 2, "nothing was received");
}

/// The insider wraps a roster key of her own to the officer (so that the
/// roster records the officer seals next would open for her): the
/// officer's next roster read is refused as tampering.
#[test]
fn a_circle_key_wrapped_to_a_member_by_hand_is_refused() {
    let (v, _, hana, _) = vault_with_markers();
    let own = kinko_core::crypto::HpkeKeyPair::generate();
    let db = v.raw_db("hana", &hana);
    let vault_id: Vec<u8> = db
        .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let vault_id = String::from_utf8(vault_id).unwrap();
    let officer: Vec<u8> = db
        .query_row(
            "SELECT hpke_public FROM accounts WHERE id = 'boss'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let context = format!("kinko circle v1\0{vault_id}\0roster\0boss");
    let w =
        kinko_core::crypto::hpke_wrap(&officer, context.as_bytes(), own.secret.as_slice()).unwrap();
    db.execute(
        "UPDATE circle_wraps SET enc = ?1, ciphertext = ?2 WHERE circle = 'roster' AND holder = 'boss'",
        rusqlite::params![w.enc, w.ciphertext],
    )
    .unwrap();
    drop(db);
    let r = v.boss(&["roster", "list"]).code(5);
    assert!(
        r.stderr.contains("not the one the officer made"),
        "{}",
        r.stderr
    );
}

/// The vault's ID and the public key of `circle`, as the insider reads them.
fn circle_public(db: &rusqlite::Connection, circle: &str) -> (String, Vec<u8>) {
    let vault_id: Vec<u8> = db
        .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let public: Vec<u8> = db
        .query_row(
            "SELECT public_key FROM circles WHERE name = ?1",
            [circle],
            |r| r.get(0),
        )
        .unwrap();
    (String::from_utf8(vault_id).unwrap(), public)
}

/// Seal `plaintext` to a circle as Kinko does (anyone can: the key is public).
fn seal_to(public: &[u8], context: &str, plaintext: &[u8]) -> Vec<u8> {
    let w = kinko_core::crypto::hpke_wrap(public, context.as_bytes(), plaintext).unwrap();
    [w.enc, w.ciphertext].concat()
}

/// Anyone may seal to a circle, so the insider seals a made-up title for
/// the officer to read, and made-up fields into a waiting roster request
/// for the officer to approve: both are refused as tampering, since only
/// the receiver and the requester signed what they sealed.
#[test]
fn a_label_or_request_sealed_by_someone_else_is_refused() {
    let (v, mika, hana, _) = vault_with_markers();
    let db = v.raw_db("hana", &hana);
    let (vault_id, catalogue) = circle_public(&db, "catalogue");
    let doc: i64 = db
        .query_row("SELECT min(id) FROM documents", [], |r| r.get(0))
        .unwrap();
    let fake = serde_json::json!({
        "title": "FORGED-TITLE", "file_name": "x.pdf", "origin": "o", "via": "v", "purpose": "p",
    });
    let context = format!("kinko sealed v1\0{vault_id}\0catalogue\0the label of document {doc}");
    db.execute(
        "UPDATE documents SET label_catalogue = ?1 WHERE id = ?2",
        rusqlite::params![
            seal_to(&catalogue, &context, fake.to_string().as_bytes()),
            doc
        ],
    )
    .unwrap();
    let r = v.boss(&["list"]).code(5);
    assert!(
        r.stderr.contains(&format!("label of document {doc}")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("FORGED"));

    // A waiting request, its fields replaced with the insider's own.
    let req = v
        .as_user(
            "mika",
            &mika,
            &[
                "roster",
                "request",
                "add",
                "mika",
                "--name",
                "mika",
                "--address",
                "東京都",
                "--birth-date",
                "1980-01-01",
                "--department",
                "d",
                "--position",
                "p",
            ],
        )
        .ok()
        .text()
        .trim()
        .to_string();
    let (_, roster) = circle_public(&db, "roster");
    let fields = serde_json::json!({
        "name": "mika", "department": "d", "position": "p",
        "address": "FORGED-ADDRESS", "birth_date": "1980-01-01",
    });
    let context =
        format!("kinko sealed v1\0{vault_id}\0roster\0the fields of roster request {req}");
    db.execute(
        "UPDATE roster_requests SET fields = ?1 WHERE id = ?2",
        rusqlite::params![
            seal_to(&roster, &context, fields.to_string().as_bytes()),
            req
        ],
    )
    .unwrap();
    drop(db);
    let r = v
        .boss(&[
            "roster",
            "approve",
            &req,
            "--ref",
            "r",
            "--date",
            "2026-12-07",
        ])
        .code(5);
    assert!(
        r.stderr.contains(&format!("roster request {req}")),
        "{}",
        r.stderr
    );
}

/// The insider deletes the officer's wrap of the roster key: that is
/// tampering, named, not "you hold no key yet".
#[test]
fn a_deleted_circle_wrap_is_tampering() {
    let (v, _, hana, _) = vault_with_markers();
    v.raw_db("hana", &hana)
        .execute(
            "DELETE FROM circle_wraps WHERE circle = 'roster' AND holder = 'boss'",
            [],
        )
        .unwrap();
    let r = v.boss(&["roster", "list"]).code(5);
    assert!(r.stderr.contains("roster key is missing"), "{}", r.stderr);
}

/// The insider sets the schema version back and drops the circles, so
/// that the officer's upgrade would seal the empty clear columns under new
/// keys (every title lost, vouched for by the officer): refused.
#[test]
fn a_schema_set_back_by_hand_is_not_sealed_again() {
    let (v, _, hana, _) = vault_with_markers();
    v.raw_db("hana", &hana)
        .execute_batch("DROP TABLE circle_wraps; DROP TABLE circles; PRAGMA user_version = 3;")
        .unwrap();
    let r = v
        .run_env(
            &["upgrade"],
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", crate::OFFICER_PW),
                ("KINKO_RECOVERY_CODE", &v.recovery_code()),
            ],
        )
        .code(5);
    assert!(r.stderr.contains("sealed before"), "{}", r.stderr);
}

/// A failed receipt's event names no file: file names are often personal
/// data, and every auditor reads the trail.
#[test]
fn a_failed_receipt_names_no_file_in_the_trail() {
    let v = TestVault::new();
    let missing = v.work("山田太郎様 離職票.pdf");
    v.boss(&[
        "import",
        missing.to_str().unwrap(),
        "--from",
        "b",
        "--purpose",
        "p",
    ])
    .code(1);
    let trail = serde_json::to_string(&v.events()).unwrap();
    assert!(trail.contains("document.import"), "the failure is logged");
    assert!(!trail.contains("山田太郎"), "{trail}");
}
