//! What the server tests share: a running `nn-mnist serve`, the data check, MNIST images.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether the real data are reachable; off CI, says plainly that the test is skipped.
pub fn have_data(test: &str) -> bool {
    if std::env::var_os("NN_DATA_MIRROR").is_some() {
        return true;
    }
    skip(
        test,
        "NN_DATA_MIRROR is not set (point it at ../shared/datasets,../shared,/usr/share/datasets)",
    );
    false
}

/// Says plainly that `test` is skipped and why; in CI (`CI=true`) a skip is a failure.
pub fn skip(test: &str, why: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!in_ci, "{test}: CI=true but {why}");
    report(&format!("{test}: SKIPPED — {why}"));
}

/// A line on the real stderr (the harness captures `eprintln!` of passing tests).
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The first `n` MNIST test images, 784 values in [0, 1] each.
pub fn mnist_test_images(n: usize) -> Vec<Vec<f32>> {
    let test = mnist_test(n);
    test.0
}

/// The first `n` MNIST test images and their labels.
pub fn mnist_test(n: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut opts = nn_data::FetchOptions::from_env().expect("NN_DATA_MIRROR");
    opts.cache_dir = cache.path().to_path_buf();
    opts.progress = false;
    let test =
        nn_data::Mnist::load_split(nn_data::Split::Test, &opts, nn_data::LoadOptions::default())
            .expect("the MNIST test split");
    let images = test
        .images
        .outer_iter()
        .take(n)
        .map(|r| r.iter().copied().collect())
        .collect();
    let mut labels = test.labels.classes();
    labels.truncate(n);
    (images, labels)
}

/// `nn-mnist serve` on a free port of 127.0.0.1, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    stderr: Arc<Mutex<Vec<String>>>,
    _cache: tempfile::TempDir,
}

impl Server {
    /// Starts the server with `args` after `serve` (and `--addr 127.0.0.1:0` unless they name
    /// an address); waits for the line that gives its URL.
    pub fn start(args: &[&str]) -> Server {
        let cache = tempfile::tempdir().expect("tempdir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_nn-mnist"));
        command.arg("serve");
        if !args.contains(&"--addr") {
            command.args(["--addr", "127.0.0.1:0"]);
        }
        let mut child = command
            .args(args)
            .env("NN_DATA_DIR", cache.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nn-mnist serve");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("stderr lines").push(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            stderr: lines,
            _cache: cache,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| {
                panic!(
                    "nn-mnist serve printed no URL ({e}); stderr: {}",
                    server.stderr_line()
                )
            });
        let start = line
            .find("http://")
            .unwrap_or_else(|| panic!("no URL in {line:?}"));
        let url = line[start..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(url.ends_with('/'), "{line}");
        server.url = url;
        server
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr_line(&self) -> String {
        self.stderr.lock().expect("stderr lines").join("\n")
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's resident memory in KiB (Linux's /proc; 0 elsewhere).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
