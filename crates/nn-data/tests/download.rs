//! Downloads against a real HTTP server on 127.0.0.1 with injected faults: each case must leave
//! the cache correct (a verified file under its real name, or nothing at all).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use nn_data::{DataError, FetchOptions, Mirror, RemoteFile, fetch};
use sha2::{Digest, Sha256};

#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    NotFound,
    /// Announces the full length, sends this many bytes, closes.
    Truncated(Vec<u8>, usize),
    /// Sends this many bytes, then stalls for the duration.
    Stall(Vec<u8>, usize, Duration),
    /// Sends the body in 1 KiB pieces, pausing between them.
    Slow(Vec<u8>, Duration),
}

struct Server {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start(routes: HashMap<&'static str, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counter = Arc::clone(&hits);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = routes.clone();
                let counter = Arc::clone(&counter);
                thread::spawn(move || handle(stream, &routes, &counter));
            }
        });
        Server { base, hits }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn handle(
    mut stream: TcpStream,
    routes: &HashMap<&'static str, Reply>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => request.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
    *hits.lock().expect("lock").entry(path.clone()).or_default() += 1;
    let header = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let _ = match routes
        .get(path.as_str())
        .cloned()
        .unwrap_or(Reply::NotFound)
    {
        Reply::Ok(body) => stream
            .write_all(header(body.len()).as_bytes())
            .and_then(|_| stream.write_all(&body)),
        Reply::NotFound => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        Reply::Truncated(body, sent) => stream
            .write_all(header(body.len()).as_bytes())
            .and_then(|_| stream.write_all(&body[..sent])),
        Reply::Stall(body, sent, pause) => {
            let r = stream
                .write_all(header(body.len()).as_bytes())
                .and_then(|_| stream.write_all(&body[..sent]));
            thread::sleep(pause);
            r
        }
        Reply::Slow(body, pause) => {
            let mut r = stream.write_all(header(body.len()).as_bytes());
            for chunk in body.chunks(1024) {
                r = r
                    .and_then(|_| stream.write_all(chunk))
                    .and_then(|_| stream.flush());
                thread::sleep(pause);
            }
            r
        }
    };
}

/// A 64 KiB gzip file and a spec pinning it.
fn blob() -> (Vec<u8>, RemoteFile) {
    let raw: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let mut enc = GzEncoder::new(Vec::new(), Compression::none());
    enc.write_all(&raw).expect("in memory");
    let gz = enc.finish().expect("in memory");
    let digest: String = Sha256::digest(&gz)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let spec = RemoteFile {
        dataset: "toy",
        name: "blob.gz",
        sha256: Some(Box::leak(digest.into_boxed_str())),
        raw_sha256: None,
        default_urls: &[],
    };
    (gz, spec)
}

const PATH: &str = "/toy/blob.gz";

fn options(cache: &Path, mirrors: &[&Server]) -> FetchOptions {
    FetchOptions {
        cache_dir: cache.to_path_buf(),
        mirrors: mirrors
            .iter()
            .map(|s| Mirror::Url(s.base.clone()))
            .collect(),
        timeout: Duration::from_millis(800),
        retries: 1,
        progress: false,
    }
}

/// The cache folder holds exactly `expected` (no partial files).
fn assert_cache(cache: &Path, expected: &[&str]) {
    let dir = cache.join("toy");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert_eq!(names, expected, "cache contents of {}", dir.display());
}

#[test]
fn not_found_on_the_first_mirror_then_found_on_the_second() {
    let (gz, spec) = blob();
    let missing = Server::start(HashMap::new());
    let good = Server::start(HashMap::from([(PATH, Reply::Ok(gz.clone()))]));
    let cache = tempfile::tempdir().expect("tempdir");
    let fetched = fetch(&spec, &options(cache.path(), &[&missing, &good])).expect("fetch");
    assert_eq!(std::fs::read(&fetched.path).expect("cached"), gz);
    assert_eq!(missing.hits(PATH), 1, "a 404 is not retried");
    assert_cache(cache.path(), &["blob.gz"]);

    // Now cached: no request at all.
    fetch(&spec, &options(cache.path(), &[&missing, &good])).expect("from cache");
    assert_eq!(good.hits(PATH), 1);
}

#[test]
fn a_truncated_body_is_retried_then_the_next_mirror_used() {
    let (gz, spec) = blob();
    let cut = Server::start(HashMap::from([(
        PATH,
        Reply::Truncated(gz.clone(), gz.len() / 2),
    )]));
    let good = Server::start(HashMap::from([(PATH, Reply::Ok(gz.clone()))]));
    let cache = tempfile::tempdir().expect("tempdir");
    let fetched = fetch(&spec, &options(cache.path(), &[&cut, &good])).expect("fetch");
    assert_eq!(cut.hits(PATH), 2, "one retry after a cut transfer");
    assert_eq!(std::fs::read(fetched.path).expect("cached"), gz);
    assert_cache(cache.path(), &["blob.gz"]);
}

#[test]
fn wrong_bytes_fail_the_checksum_and_leave_nothing() {
    let (mut gz, spec) = blob();
    let last = gz.len() - 1;
    gz[last / 2] ^= 0x55;
    let bad = Server::start(HashMap::from([(PATH, Reply::Ok(gz))]));
    let cache = tempfile::tempdir().expect("tempdir");
    let err = fetch(&spec, &options(cache.path(), &[&bad])).expect_err("checksum must fail");
    let text = err.to_string();
    assert!(matches!(err, DataError::Unavailable { .. }));
    assert!(text.contains("SHA-256 mismatch"), "{text}");
    assert!(
        text.contains(spec.sha256.unwrap_or_default()),
        "names the expected digest: {text}"
    );
    assert_eq!(
        bad.hits(PATH),
        1,
        "a checksum mismatch is not retried on the same mirror"
    );
    assert_cache(cache.path(), &[]);
}

#[test]
fn a_stalled_server_times_out() {
    let (gz, spec) = blob();
    let stalled = Server::start(HashMap::from([(
        PATH,
        Reply::Stall(gz.clone(), 100, Duration::from_secs(10)),
    )]));
    let cache = tempfile::tempdir().expect("tempdir");
    let mut opts = options(cache.path(), &[&stalled]);
    opts.retries = 0;
    let start = Instant::now();
    let err = fetch(&spec, &opts).expect_err("must time out");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert!(text.contains("cut") || text.contains("timed out"), "{text}");
    assert_cache(cache.path(), &[]);
}

#[test]
fn a_failing_mirror_never_replaces_a_good_cached_file() {
    let (gz, spec) = blob();
    let cache = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(cache.path().join("toy")).expect("mkdir");
    std::fs::write(cache.path().join("toy/blob.gz"), &gz).expect("write");
    let bad = Server::start(HashMap::from([(PATH, Reply::Ok(b"not the file".to_vec()))]));
    fetch(&spec, &options(cache.path(), &[&bad])).expect("the cached copy is good");
    assert_eq!(bad.hits(PATH), 0);
    assert_eq!(
        std::fs::read(cache.path().join("toy/blob.gz")).expect("read"),
        gz
    );
}

#[test]
fn default_urls_are_used_when_no_mirror_is_configured() {
    let (gz, spec) = blob();
    let good = Server::start(HashMap::from([("/pub/blob.gz", Reply::Ok(gz.clone()))]));
    let url: &'static str = Box::leak(format!("{}/pub/", good.base).into_boxed_str());
    let spec = RemoteFile {
        default_urls: Box::leak(vec![url].into_boxed_slice()),
        ..spec
    };
    let cache = tempfile::tempdir().expect("tempdir");
    let fetched = fetch(&spec, &options(cache.path(), &[])).expect("fetch");
    assert_eq!(std::fs::read(fetched.path).expect("read"), gz);
}

/// Runs in a child process (see the next test): downloads slowly until killed.
#[test]
#[ignore = "helper: run by kill_mid_download_leaves_no_partial_file"]
fn child_slow_download() {
    let (Ok(base), Ok(cache)) = (std::env::var("CHILD_MIRROR"), std::env::var("CHILD_CACHE"))
    else {
        return;
    };
    let (_, spec) = blob();
    let opts = FetchOptions {
        cache_dir: cache.into(),
        mirrors: vec![Mirror::Url(base)],
        timeout: Duration::from_secs(30),
        retries: 0,
        progress: false,
    };
    let _ = fetch(&spec, &opts);
}

#[test]
fn kill_mid_download_leaves_no_partial_file() {
    let (gz, spec) = blob();
    let slow = Server::start(HashMap::from([(
        PATH,
        Reply::Slow(gz.clone(), Duration::from_millis(20)),
    )]));
    let cache = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["child_slow_download", "--exact", "--ignored", "--nocapture"])
        .env("CHILD_MIRROR", &slow.base)
        .env("CHILD_CACHE", cache.path())
        .spawn()
        .expect("spawn child");
    let part = cache
        .path()
        .join(format!("toy/.blob.gz.part-{}", child.id()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 4096 {
        assert!(
            Instant::now() < deadline,
            "the child never started writing {}",
            part.display()
        );
        thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(
        !cache.path().join("toy/blob.gz").exists(),
        "a partial file under the real name"
    );

    // The next fetch removes the dead process's part file and completes.
    let good = Server::start(HashMap::from([(PATH, Reply::Ok(gz.clone()))]));
    let fetched = fetch(&spec, &options(cache.path(), &[&good])).expect("fetch");
    assert_eq!(std::fs::read(fetched.path).expect("read"), gz);
    assert_cache(cache.path(), &["blob.gz"]);
}
