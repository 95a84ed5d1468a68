//! Ciphertext objects through `object_store`: a folder of the server's by
//! default, any S3-compatible store by configuration. The server never
//! opens them; a terminal checks each against the SHA-256 its signed
//! document record names. Objects are named by their random uid, so a
//! name is written once: a second upload of a name it holds is taken as
//! a retry and its bytes are not kept.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, WriteMultipart};

use crate::error::{Error, Result};

/// How much of an object file is read and sent at once.
const READ_CHUNK: usize = 1 << 20;

/// The object store of a server.
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// The longest an upload may send nothing.
    idle: Duration,
}

/// An object's name as terminals make it: 32 lower-case hex digits.
pub(crate) fn checked(name: &str) -> Result<StorePath> {
    let ours = name.len() == 32
        && name
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if !ours {
        return Err(Error::Invalid(format!("{name:?} is not an object's name")));
    }
    Ok(StorePath::from(name))
}

fn store_err(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { path, .. } => Error::NotFound(format!("no object {path}")),
        other => Error::Objects(other.to_string()),
    }
}

impl Objects {
    /// Open the store `spec` names: `s3://bucket[/prefix]` (any
    /// S3-compatible store, reached as the `AWS_*` environment says:
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`), or a folder path (made 0700
    /// if missing).
    pub fn open(spec: &str) -> Result<Objects> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            return Self::open_s3(spec, rest);
        }
        if spec.contains("://") {
            return Err(Error::Invalid(format!(
                "object store {spec}: a folder or an s3:// URL"
            )));
        }
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(spec)
            .map_err(|e| Error::io(spec, e))?;
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(spec).map_err(store_err)?;
        Ok(Objects {
            store: Arc::new(store),
            idle: crate::limits::DEFAULT_IDLE,
        })
    }

    fn open_s3(spec: &str, rest: &str) -> Result<Objects> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Invalid(format!("object store {spec}: no bucket")));
        }
        // A store that does not answer fails an upload in seconds (the
        // terminal says so and records nothing), not after minutes.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..Default::default()
        };
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .build()
            .map_err(|e| Error::Invalid(format!("object store {spec}: {e}")))?;
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        let prefix = prefix.trim_matches('/');
        Ok(Objects {
            store: if prefix.is_empty() {
                store
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            },
            idle: crate::limits::DEFAULT_IDLE,
        })
    }

    /// Store the body under `name`, streamed in parts.
    pub async fn put(&self, name: &str, body: Body) -> Result<()> {
        let path = checked(name)?;
        if self.store.head(&path).await.is_ok() {
            // A retry: read the body to its end (an answer before the
            // body is read would cost the terminal its connection).
            let mut stream = body.into_data_stream();
            while self.next_part(&mut stream).await?.is_some() {}
            return Ok(());
        }
        let upload = self.store.put_multipart(&path).await.map_err(store_err)?;
        let mut writer = WriteMultipart::new(upload);
        let mut stream = body.into_data_stream();
        loop {
            match self.next_part(&mut stream).await {
                Ok(Some(bytes)) => writer.write(&bytes),
                Ok(None) => break,
                Err(e) => {
                    // Nothing of it stays in the store.
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        writer.finish().await.map_err(store_err)?;
        Ok(())
    }

    /// The same store, cutting off an upload that sends nothing for
    /// `idle`.
    pub fn with_idle(self, idle: Duration) -> Objects {
        Objects { idle, ..self }
    }

    /// The body's next part, or an error once it has stood still for
    /// the idle limit (a terminal that stops sending mid-object would
    /// otherwise hold its connection, and the upload, for ever).
    async fn next_part(
        &self,
        stream: &mut (impl futures_util::Stream<Item = std::result::Result<bytes::Bytes, axum::Error>>
                  + Unpin),
    ) -> Result<Option<bytes::Bytes>> {
        match tokio::time::timeout(self.idle, stream.next()).await {
            Err(_) => Err(Error::Invalid(format!(
                "the object's upload stood still for {} s and was cut off",
                self.idle.as_secs()
            ))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(bytes))) => Ok(Some(bytes)),
            Ok(Some(Err(e))) => Err(Error::Invalid(format!(
                "the object's upload broke off: {e}"
            ))),
        }
    }

    /// The object `name`, as a stream.
    pub async fn get(&self, name: &str) -> Result<Body> {
        let path = checked(name)?;
        let found = self.store.get(&path).await.map_err(store_err)?;
        Ok(match found.payload {
            // A file of the folder store: read a mebibyte at a time
            // (object_store's own stream reads 8 KiB, which caps an open
            // at a fifth of the disk's speed).
            object_store::GetResultPayload::File(file, _) => {
                Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
                    tokio::fs::File::from_std(file),
                    READ_CHUNK,
                ))
            }
            object_store::GetResultPayload::Stream(stream) => Body::from_stream(stream),
        })
    }

    /// Delete the object `name` (gone already is no error). The store
    /// frees its bytes as it does (no secure delete): the disposal plan
    /// names the store's disks and backups for physical destruction.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let path = checked(name)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The names of every object held, in order (for a backup).
    pub async fn names(&self) -> Result<Vec<String>> {
        let mut list = self.store.list(None);
        let mut names = Vec::new();
        while let Some(meta) = list.next().await {
            let name = meta.map_err(store_err)?.location.to_string();
            // Only objects terminals made: not a store's own staging files.
            if checked(&name).is_ok() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The object `name`'s bytes, as a stream of chunks.
    pub async fn stream(
        &self,
        name: &str,
    ) -> Result<futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>> {
        let path = checked(name)?;
        Ok(self
            .store
            .get(&path)
            .await
            .map_err(store_err)?
            .into_stream())
    }

    /// Store the file at `file` under `name` (a restore), never through a
    /// link, read a mebibyte at a time.
    pub async fn put_file(&self, name: &str, file: &std::path::Path) -> Result<()> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let path = checked(name)?;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(file)
            .map_err(|e| Error::io(file, e))?;
        let upload = self.store.put_multipart(&path).await.map_err(store_err)?;
        let mut writer = WriteMultipart::new(upload);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::io(file, e));
                }
            };
            writer.wait_for_capacity(8).await.map_err(store_err)?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(store_err)?;
        Ok(())
    }
}
