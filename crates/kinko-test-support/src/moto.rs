//! A real S3 API on loopback for the office server's tests: moto's server
//! (PyPI `moto[server]`, which the test command installs), one per test,
//! stopped when dropped. Its objects live in its memory only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python that has moto: the environment `scripts/setup.sh` makes,
/// else the system's.
fn python() -> std::path::PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
    cache
        .map(|c| c.join("kinko/moto/bin/python3"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| "python3".into())
}

pub struct Moto {
    child: Option<Child>,
    pub port: u16,
}

impl Moto {
    /// Start a server and wait until it answers.
    pub fn start() -> Moto {
        let port = crate::postgres::free_port();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs moto's server (the test command installs moto[server])");
        let moto = Moto {
            child: Some(child),
            port,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto's server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        moto
    }

    /// The S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What `object_store` (and so `kinko-server`) reads from the
    /// environment to reach this server: moto takes any credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "kinko-test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "kinko-test-secret".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// One plain HTTP request (moto checks no signature); the answer's
    /// status line and body.
    fn request(&self, method: &str, path: &str) -> (String, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("moto answers");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer.lines().next().unwrap_or_default().to_string();
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"));
        assert!(status.contains(" 200"), "{status}: {body}");
    }

    /// The bucket's listing (S3's XML: each object as `<Key>…</Key>`).
    pub fn list(&self, bucket: &str) -> String {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2"));
        assert!(status.contains(" 200"), "{status}: {body}");
        body
    }

    /// Stop the server (its objects are gone with it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
