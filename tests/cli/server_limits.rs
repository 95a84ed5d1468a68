//! Load and abuse (issue 16, 仕様 6.6): a terminal that holds too many
//! connections, stops sending an object midway, or stops reading one is
//! cut off, and the other terminals go on working. The tests speak HTTP
//! over TLS connections of their own with the terminal's certificate, as
//! a modified terminal would. And what a server hands out is printed
//! without the control characters its operator may have put in.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::server::{Terminal, TestServer};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to the server with `t`'s enrolled certificate, its
/// handshake done.
fn connect(server: &TestServer, t: &Terminal) -> Tls {
    let device = kinko_remote::Device::in_state_dir(&t.state);
    let pem = |file: &str| std::fs::read(device.dir().join(file)).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&pem("ca.pem")).unwrap())
        .unwrap();
    let chain = vec![CertificateDer::from_pem_slice(&pem("terminal.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(&pem("terminal.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // No test waits this long for an answer that should come.
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls
}

/// Everything the server sends until it closes the connection, and how
/// the reading ended (`None`: the server closed it).
fn read_until_closed(tls: &mut Tls) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // A close without TLS's own goodbye, or a reset: closed too.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return (got, None)
            }
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

/// The status code and text of the answer in `got`.
fn answer(got: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(got).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Send `head` (and `body`) with `Connection: close`; the answer.
fn ask(tls: &mut Tls, head: &str, body: &[u8]) -> (u16, String) {
    write!(tls, "{head}Host: localhost\r\nConnection: close\r\n\r\n").unwrap();
    tls.write_all(body).unwrap();
    tls.flush().unwrap();
    answer(&read_until_closed(tls).0)
}

#[test]
fn a_terminal_over_its_share_of_connections_is_told_and_the_others_go_on() {
    let server = TestServer::start_with(&["--connections-per-terminal", "2"]);
    let greedy = server.terminal("t1");
    let other = server.terminal("t2");
    let held: Vec<Tls> = (0..2).map(|_| connect(&server, &greedy)).collect();
    // The server counts a connection once its handshake is done.
    std::thread::sleep(Duration::from_millis(300));
    let (status, text) = ask(
        &mut connect(&server, &greedy),
        "GET /v1/hello HTTP/1.1\r\n",
        b"",
    );
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("too many connections"), "{text}");
    // The `kinko` command at that terminal is told so in one line.
    let refused = greedy.status();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("too many connections"),
        "{}",
        refused.stderr
    );
    // Another terminal is not held up.
    other.status().ok();
    // Once it lets go, the terminal is served again.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    greedy.status().ok();
}

#[test]
fn a_transfer_that_stands_still_is_cut_off_and_keeps_nothing() {
    let server = TestServer::start_with(&["--idle-seconds", "2"]);
    let t = server.terminal("t1");
    let name = "0123456789abcdef0123456789abcdef";

    // An upload that stops after its first kilobyte.
    let began = Instant::now();
    let (status, text) = ask(
        &mut connect(&server, &t),
        &format!("PUT /v1/objects/{name} HTTP/1.1\r\nContent-Length: 1048576\r\n"),
        &[7u8; 1000],
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("stood still"), "{text}");
    assert!(began.elapsed() < Duration::from_secs(20));
    // Nothing of it was kept.
    let (status, text) = ask(
        &mut connect(&server, &t),
        &format!("GET /v1/objects/{name} HTTP/1.1\r\n"),
        b"",
    );
    assert_eq!(status, 404, "{text}");

    // A whole object of 64 MiB, then a download of it the terminal
    // stops reading: the server's writes stand still, and it lets go.
    let size = 64usize << 20;
    let mut up = connect(&server, &t);
    write!(
        up,
        "PUT /v1/objects/{name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    )
    .unwrap();
    let mib = vec![7u8; 1 << 20];
    for _ in 0..64 {
        up.write_all(&mib).unwrap();
    }
    up.flush().unwrap();
    let (status, text) = answer(&read_until_closed(&mut up).0);
    assert_eq!(status, 200, "{text}");

    let mut down = connect(&server, &t);
    write!(
        down,
        "GET /v1/objects/{name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    down.flush().unwrap();
    std::thread::sleep(Duration::from_secs(8));
    let (got, ended) = read_until_closed(&mut down);
    assert_eq!(ended, None, "the server still held the stalled download");
    assert!(
        got.len() < size,
        "the whole object arrived ({} bytes): the download never stood still",
        got.len()
    );

    // The terminal itself is served as before.
    t.status().ok();
}

#[test]
fn a_terminal_name_the_operator_filled_with_escapes_prints_harmless() {
    let server = TestServer::start();
    let t = server.terminal("t1");
    // Root on the server box writes a screen-clearing escape into the
    // terminal's name and account, which the server hands out as they are.
    server.sql(
        "UPDATE terminals SET name = E'\\x1b[2J\\x1b]0;owned\\x07PC', account = E'a\\x1b[31m'",
    );
    let shown = t.kinko(&["device", "status"]).ok().text();
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains('\u{FFFD}'), "{shown:?}");
}

#[test]
fn an_approval_refuses_the_operators_escapes() {
    let v = super::TestVault::on_a_server();
    let server = v.server.as_ref().unwrap();
    let waiting = Terminal::new(v.tmp.path(), "new-pc");
    let asked = waiting.enrol(server, &[]).ok().json();
    let code = asked["code"].as_str().unwrap().to_string();
    server.sql("UPDATE enrolment_requests SET name = E'\\x1b[2JPC', account = E'\\x1b[31m'");
    // Such words never reach a signed event: the approval is refused,
    // saying so without the escapes, and nothing is approved.
    let refused = v.boss(&["device", "approve", &code]);
    assert_ne!(refused.code, 0);
    assert!(!refused.stderr.contains('\u{1b}'), "{:?}", refused.stderr);
    assert!(
        refused.stderr.contains("does not accept"),
        "{}",
        refused.stderr
    );
    assert_eq!(waiting.enrol(server, &[]).ok().json()["status"], "waiting");
}
