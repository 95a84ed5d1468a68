//! The audit-trail benchmark: a vault of `n` events spread over a year
//! (the scale of a busy council), each measurement beside a peer.

use chrono::{Duration, NaiveDate, Utc};
use kinko_core::audit::{self, report, verify, Event};
use kinko_core::keyslots::KeySlots;
use rusqlite::{params, Connection};

use super::{time, PASSWORD};

/// The `i`th synthetic event: mostly listing and opening documents, now
/// and then failing to sign in; one every `step`. Every event is the
/// officer's (`bench`), since each must carry the signature of the person
/// who acted and the benchmark vault has one certified person.
fn event(i: usize, start: chrono::DateTime<Utc>, step: Duration) -> Event {
    let actor = "bench".to_string();
    let (name, object, outcome) = match i % 10 {
        0..=5 => ("document.list", "documents".to_string(), "ok"),
        6..=8 => ("document.export", format!("document:{}", i % 500), "ok"),
        _ if i % 50 == 9 => ("session.signin", format!("account:{actor}"), "failed"),
        _ => ("session.signin", format!("account:{actor}"), "ok"),
    };
    let mut e = Event::new(&actor, name, &object, outcome, "bench@host", "");
    e.at = (start + step * i as i32).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    e
}

fn peer_insert(conn: &Connection, seq: usize, e: &Event) {
    conn.execute(
        "INSERT INTO bench_peer (seq, at, actor, event, object, outcome, terminal, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq as i64, e.at, e.actor, e.event, e.object, e.outcome, e.terminal, e.detail],
    )
    .unwrap();
}

/// The unsigned path: what `audit::append` did before events were signed
/// (leaf, tree, recorded size, alert rules), in a vault of its own, so the
/// cost of the signature and its chain shows beside it in the same run.
fn unsigned_append(conn: &Connection, e: &Event) {
    let size: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM audit_events")
        .unwrap()
        .query_row([], |r| r.get(0))
        .unwrap();
    audit::recorded_size(conn).unwrap();
    let seq = size + 1;
    let leaf = audit::tree::leaf_hash(&e.leaf_bytes(seq));
    conn.prepare_cached(
        "INSERT INTO audit_events (seq, at, actor, event, object, outcome, terminal, detail, leaf)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .unwrap()
    .execute(params![
        seq,
        e.at,
        e.actor,
        e.event,
        e.object,
        e.outcome,
        e.terminal,
        e.detail,
        leaf.to_vec()
    ])
    .unwrap();
    audit::tree::append(conn, size as u64, leaf).unwrap();
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('audit_size', ?1)
         ON CONFLICT(key) DO UPDATE SET value = ?1",
    )
    .unwrap()
    .execute([(seq as u64).to_be_bytes().to_vec()])
    .unwrap();
    for raised in audit::alerts::on_event(conn, seq, e, None).unwrap() {
        unsigned_append(conn, &raised);
    }
}

fn per_second(label: &str, count: usize, secs: f64) {
    println!(
        "{label:<52} {:>9.0} events/s  ({count} in {secs:.2} s)",
        count as f64 / secs
    );
}

fn seconds(label: &str, secs: f64) {
    println!("{label:<52} {secs:>9.3} s");
}

pub fn run(n: usize) {
    println!("Kinko audit benchmark, {n} events over a year\n");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    super::new_vault(&dir);
    let slots = KeySlots::load(&dir.join("keyslots")).unwrap();
    let (secrets, _) = slots.unlock("bench", PASSWORD.as_bytes(), None).unwrap();
    let conn = kinko_core::db::open(&dir.join("kinko.db"), &secrets.db_key).unwrap();
    let root_key: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'root_public'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let by = audit::EventSigner::new(
        &slots.vault_id,
        &root_key,
        "bench",
        Some(1),
        &secrets.sign_secret,
    )
    .unwrap();
    conn.execute_batch(
        "CREATE TABLE bench_peer (seq INTEGER PRIMARY KEY, at TEXT, actor TEXT, event TEXT,
         object TEXT, outcome TEXT, terminal TEXT, detail TEXT);
         CREATE INDEX bench_peer_at ON bench_peer(at);",
    )
    .unwrap();
    let start = Utc::now() + Duration::seconds(1);
    let step = Duration::milliseconds(365 * 24 * 3600 * 1000 / n.max(1) as i64);
    let mut next = 0usize;

    // The unsigned path runs in a vault of its own.
    let unsigned_dir = tmp.path().join("unsigned");
    super::new_vault(&unsigned_dir);
    let unsigned_secrets = KeySlots::load(&unsigned_dir.join("keyslots"))
        .unwrap()
        .unlock("bench", PASSWORD.as_bytes(), None)
        .unwrap()
        .0;
    let unsigned =
        kinko_core::db::open(&unsigned_dir.join("kinko.db"), &unsigned_secrets.db_key).unwrap();

    // One event per durable commit: what a person's action costs.
    let single = 2_000.min(n);
    let (_, secs) = time(|| {
        for i in 0..single {
            let tx = conn.unchecked_transaction().unwrap();
            peer_insert(&tx, i + 1, &event(i, start, step));
            tx.commit().unwrap();
        }
    });
    per_second("peer: bare insert, one durable commit each", single, secs);
    let (_, secs) = time(|| {
        for i in 0..single {
            let tx = unsigned.unchecked_transaction().unwrap();
            unsigned_append(&tx, &event(i, start, step));
            tx.commit().unwrap();
        }
    });
    per_second("peer: append unsigned, one commit each", single, secs);
    let (_, secs) = time(|| {
        for i in 0..single {
            let tx = conn.unchecked_transaction().unwrap();
            audit::append(&tx, &event(next + i, start, step), &by).unwrap();
            tx.commit().unwrap();
        }
    });
    next += single;
    per_second(
        "append (leaf, tree, alerts, signature), one commit each",
        single,
        secs,
    );
    signature_cost(&slots.vault_id, &secrets.sign_secret);

    // The rest in durable commits of 1,000 (a bulk import's rate).
    let batch = 1_000;
    let rest = n - next;
    conn.execute("DELETE FROM bench_peer", []).unwrap();
    let peer_count = rest.min(200_000);
    let (_, secs) = time(|| {
        for chunk in (0..peer_count).collect::<Vec<_>>().chunks(batch) {
            let tx = conn.unchecked_transaction().unwrap();
            for &i in chunk {
                peer_insert(&tx, i + 1, &event(i, start, step));
            }
            tx.commit().unwrap();
        }
    });
    per_second("peer: bare insert, commits of 1,000", peer_count, secs);
    let (_, secs) = time(|| {
        for chunk in (single..single + peer_count)
            .collect::<Vec<_>>()
            .chunks(batch)
        {
            let tx = unsigned.unchecked_transaction().unwrap();
            for &i in chunk {
                unsigned_append(&tx, &event(i, start, step));
            }
            tx.commit().unwrap();
        }
    });
    per_second("peer: append unsigned, commits of 1,000", peer_count, secs);
    drop(unsigned);
    conn.execute_batch("DROP TABLE bench_peer").unwrap();
    let (_, secs) = time(|| {
        while next < n {
            let tx = conn.unchecked_transaction().unwrap();
            for _ in 0..batch.min(n - next) {
                audit::append(&tx, &event(next, start, step), &by).unwrap();
                next += 1;
            }
            tx.commit().unwrap();
        }
    });
    per_second(
        "append (leaf, tree, alerts, signature), commits of 1,000",
        rest,
        secs,
    );
    let size = audit::size(&conn).unwrap();
    println!(
        "{:<52} {size:>9}",
        "events in the trail (with alerts raised)"
    );

    // Verification against merely reading every row.
    let (rows, secs) = time(|| {
        let mut stmt = conn
            .prepare("SELECT seq, at, actor, event, object, outcome, terminal, detail, leaf FROM audit_events")
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut n = 0u64;
        while let Some(r) = rows.next().unwrap() {
            let _: (i64, String, Vec<u8>) =
                (r.get(0).unwrap(), r.get(1).unwrap(), r.get(8).unwrap());
            n += 1;
        }
        n
    });
    seconds(&format!("peer: read all {rows} rows"), secs);
    let (report, secs) =
        time(|| verify::verify_trail(&conn, &slots.vault_id, &root_key, None, None).unwrap());
    seconds(
        &format!(
            "audit verify ({} leaves and the tree, {} signed events' chains, {} signatures)",
            report.events, report.signed, report.signatures_checked
        ),
        secs,
    );
    let (_, secs) = time(|| {
        let vault = kinko_core::Vault::open(&dir)
            .unwrap()
            .remembering_in(&tmp.path().join("terminal"));
        let s = vault
            .sign_in("bench", &kinko_core::Password::new(PASSWORD), None, "bench")
            .unwrap();
        s.end().unwrap();
    });
    seconds(
        "sign-in and sign-out on this trail (Argon2id, checks, memory)",
        secs,
    );

    // A month's report against counting that month.
    let first_day: NaiveDate = (start + Duration::days(30))
        .with_timezone(&kinko_core::time::japan())
        .date_naive();
    let last_day = first_day + Duration::days(29);
    let (count, secs) = time(|| {
        conn.query_row(
            "SELECT count(*) FROM audit_events WHERE at >= ?1 AND at < ?2",
            params![
                first_day.to_string(),
                (last_day + Duration::days(1)).to_string()
            ],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    });
    seconds(&format!("peer: count a month ({count} events)"), secs);
    let period = report::Period {
        from: first_day,
        to: last_day,
        council: "Bench council",
        vault_id: &slots.vault_id,
        made_by: "bench",
    };
    let officer = kinko_core::grant::Signer {
        vault_id: &slots.vault_id,
        account: "bench",
        serial: 1,
        secret: &secrets.sign_secret,
    };
    let (r, secs) = time(|| report::build(&conn, &period, &officer).unwrap());
    let (html, html_secs) = time(|| r.html(report::Language::Japanese));
    seconds(
        &format!("audit report, one month ({} events), counts", r.events),
        secs,
    );
    seconds(
        &format!("  + printable HTML ({} KiB)", html.len() / 1024),
        html_secs,
    );

    // One inclusion proof against one row read.
    let probes = 1_000u64;
    let pick = |k: u64| (k * 7_919 % size) as i64 + 1;
    let (_, secs) = time(|| {
        for k in 0..probes {
            let _: Vec<u8> = conn
                .query_row(
                    "SELECT leaf FROM audit_events WHERE seq = ?1",
                    [pick(k)],
                    |r| r.get(0),
                )
                .unwrap();
        }
    });
    println!(
        "{:<52} {:>9.3} ms",
        "peer: read one event",
        secs * 1000.0 / probes as f64
    );
    let root =
        kinko_core::audit::tree::root(&kinko_core::audit::tree::Stored(&conn), size).unwrap();
    let (_, secs) = time(|| {
        for k in 0..probes {
            let p = audit::prove(&conn, pick(k), size, root).unwrap();
            assert!(p.verified);
        }
    });
    println!(
        "{:<52} {:>9.3} ms",
        "inclusion proof of one event (built and verified)",
        secs * 1000.0 / probes as f64
    );
}

/// What a signature costs on its own: signing and checking one event's
/// bytes (ECDSA P-256), beside hashing its leaf.
fn signature_cost(vault_id: &str, secret: &[u8; 32]) {
    let rounds = 2_000;
    let key = kinko_core::crypto::EcdsaSecret::parse(secret).unwrap();
    let public = key.public();
    let e = event(7, Utc::now(), Duration::seconds(1));
    let (leaf, hash_secs) = time(|| {
        let mut leaf = [0u8; 32];
        for i in 0..rounds {
            leaf = audit::tree::leaf_hash(&e.leaf_bytes(i));
        }
        leaf
    });
    let bytes = audit::signed_bytes(vault_id, &leaf, "bench", Some(1), Some(&[7u8; 32]));
    let (sig, sign_secs) = time(|| {
        let mut sig = Vec::new();
        for _ in 0..rounds {
            sig = key.sign(&bytes).unwrap();
        }
        sig
    });
    let (_, verify_secs) = time(|| {
        for _ in 0..rounds {
            assert!(public.verify(&bytes, &sig));
        }
    });
    let us = |secs: f64| secs * 1e6 / rounds as f64;
    println!(
        "{:<52} {:>9.1} µs",
        "  peer: hash one event's leaf",
        us(hash_secs)
    );
    println!(
        "{:<52} {:>9.1} µs",
        "  sign one event (ECDSA P-256)",
        us(sign_secs)
    );
    println!(
        "{:<52} {:>9.1} µs",
        "  check one event's signature",
        us(verify_secs)
    );
}
