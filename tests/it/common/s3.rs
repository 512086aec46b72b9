//! An s3s-fs process (the S3-compatible server that checks SigV4
//! signatures, installed by `make test`) on a free loopback port with its
//! own data directory, stopped on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use storyforge::storage::{StorageConfig, StoreKind};

/// The access key every test server accepts.
pub const ACCESS_KEY: &str = "storyforge-test-access";
/// Its secret (tests assert it never shows up in output).
pub const SECRET_KEY: &str = "sf-TEST-secret-9f8e7d6c5b4a";

/// An s3s-fs process on a free loopback port with its own data directory.
pub struct S3Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts s3s-fs on a free port (retrying when the port is taken).
    pub fn start() -> S3Server {
        let bin = find_s3s_fs().unwrap_or_else(|| {
            panic!(
                "s3s-fs not found on PATH or in ~/.cargo/bin: run `make test`, which installs \
                 s3s-fs 0.14.1 (or `cargo install s3s-fs@0.14.1 --features binary --locked`)"
            )
        });
        let dir = tempfile::tempdir().expect("temp dir");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start s3s-fs");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return S3Server {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not start listening");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Storage settings for `bucket` on this server (path style).
    pub fn storage(&self, bucket: &str) -> StorageConfig {
        storage_at(&self.endpoint(), bucket)
    }
}

/// Storage settings for `bucket` at an S3 `endpoint` (path style).
pub fn storage_at(endpoint: &str, bucket: &str) -> StorageConfig {
    StorageConfig {
        kind: StoreKind::S3,
        bucket: Some(bucket.into()),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        path_style: true,
        ..StorageConfig::default()
    }
}

/// The credentials every test server accepts.
pub fn credentials() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test")
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn find_s3s_fs() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
