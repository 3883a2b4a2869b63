//! Getting files onto the disk safely: a cache directory, mirrors (local directories, `file://`
//! and `http(s)://` URLs), pinned SHA-256 digests, and atomic writes.
//!
//! A file is used only after its digest matches: either the digest of the file as stored
//! (e.g. the official `.gz`) or, for gzip files, the digest of its decompressed bytes (which
//! survives recompression, as Debian does). Downloads go to a temporary file in the cache
//! directory, are verified, flushed to disk and then renamed into place, so an interrupted or
//! failed download never leaves a partial file under the real name and never replaces a good
//! cached file.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nn_core::fs::AtomicFile;
use sha2::{Digest, Sha256};

use crate::error::DataError;
use crate::idx::{MAX_PAYLOAD, gunzip, is_gzip};

/// The environment variable naming mirrors (comma-separated) that replace the public ones.
pub const MIRROR_ENV: &str = "NN_DATA_MIRROR";
/// The environment variable naming the cache directory (default `datasets`).
pub const DIR_ENV: &str = "NN_DATA_DIR";

/// Where files can be found: a local directory or a URL, laid out as `<dataset>/<file>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// A local directory (also what a `file://` URL means).
    Dir(PathBuf),
    /// An `http://` or `https://` base URL (no trailing slash).
    Url(String),
}

impl FromStr for Mirror {
    type Err = DataError;

    /// Parses a directory path, `file://` URL or `http(s)://` URL.
    fn from_str(spec: &str) -> Result<Self, DataError> {
        let bad = |reason: &str| DataError::BadMirror {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let s = spec.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file:// URL needs an absolute path (file:///dir)"));
            }
            return Ok(Mirror::Dir(PathBuf::from(path)));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(Mirror::Url(s.trim_end_matches('/').to_string()));
        }
        if s.contains("://") {
            return Err(bad(
                "only directories, file://, http:// and https:// are supported",
            ));
        }
        Ok(Mirror::Dir(PathBuf::from(s)))
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mirror::Dir(d) => write!(f, "{}", d.display()),
            Mirror::Url(u) => f.write_str(u),
        }
    }
}

/// Parses a comma-separated mirror list (the format of `NN_DATA_MIRROR`).
///
/// # Errors
/// [`DataError::BadMirror`] for an entry that is not a directory or supported URL.
pub fn parse_mirror_list(list: &str) -> Result<Vec<Mirror>, DataError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Mirror::from_str)
        .collect()
}

/// Where files are cached and fetched from, and how patiently.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The cache directory; files land in `<cache_dir>/<dataset>/<file>`.
    pub cache_dir: PathBuf,
    /// Mirrors tried in order. When empty, each file's public default URLs are used.
    pub mirrors: Vec<Mirror>,
    /// Limit for connecting and for each read (a stalled server fails after this long).
    pub timeout: Duration,
    /// Extra attempts per URL after a transient failure (connection, timeout, 5xx, cut body).
    pub retries: u32,
    /// Show a progress bar for downloads (only ever drawn on a terminal).
    pub progress: bool,
}

impl Default for FetchOptions {
    /// Cache `datasets/`, public mirrors, 30 s timeout, 2 retries, progress on a terminal.
    fn default() -> Self {
        FetchOptions {
            cache_dir: PathBuf::from("datasets"),
            mirrors: Vec::new(),
            timeout: Duration::from_secs(30),
            retries: 2,
            progress: true,
        }
    }
}

impl FetchOptions {
    /// The defaults, with `NN_DATA_MIRROR` (mirrors) and `NN_DATA_DIR` (cache) applied.
    ///
    /// # Errors
    /// [`DataError::BadMirror`] if `NN_DATA_MIRROR` cannot be parsed.
    pub fn from_env() -> Result<Self, DataError> {
        let mut opts = FetchOptions::default();
        if let Ok(list) = std::env::var(MIRROR_ENV) {
            opts.mirrors = parse_mirror_list(&list)?;
        }
        if let Some(dir) = std::env::var_os(DIR_ENV) {
            opts.cache_dir = PathBuf::from(dir);
        }
        Ok(opts)
    }
}

/// A file that can be fetched: where it belongs and the digests that identify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// The data set folder (`mnist`, `fashion-mnist`, `weights`).
    pub dataset: &'static str,
    /// The file name.
    pub name: &'static str,
    /// SHA-256 (hex) of the file as distributed.
    pub sha256: Option<&'static str>,
    /// SHA-256 (hex) of the decompressed content, for gzip files.
    pub raw_sha256: Option<&'static str>,
    /// Public URLs tried when no mirror is configured: a URL ending in `/` is a folder (the file
    /// name is appended), any other names the file itself (where its public name differs).
    pub default_urls: &'static [&'static str],
}

impl RemoteFile {
    /// `<dataset>/<name>`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.dataset, self.name)
    }

    fn expected(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = self.sha256 {
            parts.push(format!("{d} (file)"));
        }
        if let Some(d) = self.raw_sha256 {
            parts.push(format!("{d} (decompressed)"));
        }
        parts.join(" or ")
    }
}

/// A verified file: where it is and its content (decompressed if it was gzip).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The verified file on disk (in the cache or a local mirror).
    pub path: PathBuf,
    /// The content, decompressed if the file is gzip.
    pub content: Vec<u8>,
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `bytes` against the file's pinned digests; returns the (decompressed) content.
pub(crate) fn verify(
    bytes: Vec<u8>,
    spec: &RemoteFile,
    source: &str,
) -> Result<Vec<u8>, DataError> {
    let gz = is_gzip(&bytes);
    let decompress = |b: &[u8]| gunzip(b, &format!("{} from {source}", spec.label()), MAX_PAYLOAD);
    // The file digest is computed only when pinned or needed for the error message.
    let mut file_digest = None;
    if let Some(pin) = spec.sha256 {
        let d = hex(&Sha256::digest(&bytes));
        if d == pin {
            return if gz { decompress(&bytes) } else { Ok(bytes) };
        }
        file_digest = Some(d);
    }
    let mut raw_digest = None;
    if let Some(pin) = spec.raw_sha256 {
        if gz {
            let raw = decompress(&bytes)?;
            let d = hex(&Sha256::digest(&raw));
            if d == pin {
                return Ok(raw);
            }
            raw_digest = Some(d);
        } else {
            // An uncompressed copy is accepted by its content digest.
            let d = hex(&Sha256::digest(&bytes));
            if d == pin {
                return Ok(bytes);
            }
            file_digest = Some(d);
        }
    }
    let file_digest = file_digest.unwrap_or_else(|| hex(&Sha256::digest(&bytes)));
    let mut actual = format!("{file_digest} (file)");
    if let Some(d) = raw_digest {
        actual = format!("{actual}, {d} (decompressed)");
    }
    Err(DataError::Checksum {
        file: spec.label(),
        source_name: source.to_string(),
        expected: spec.expected(),
        actual,
    })
}

fn read_verified(path: &Path, spec: &RemoteFile) -> Result<Fetched, DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    let content = verify(bytes, spec, &path.display().to_string())?;
    Ok(Fetched {
        path: path.to_path_buf(),
        content,
    })
}

/// Returns the file's verified content: from the cache if it holds a good copy, else from the
/// first mirror that has one (local mirrors are read in place; downloads are cached).
///
/// # Errors
/// [`DataError::Unavailable`] listing every place tried and what went wrong there;
/// [`DataError::Io`] if the cache cannot be written.
pub fn fetch(spec: &RemoteFile, opts: &FetchOptions) -> Result<Fetched, DataError> {
    let dir = opts.cache_dir.join(spec.dataset);
    let cached = dir.join(spec.name);
    remove_stale_parts(&dir, spec.name);
    let mut tried = Vec::new();
    if cached.exists() {
        match read_verified(&cached, spec) {
            Ok(f) => return Ok(f),
            // A bad cached copy is replaced only by a verified one.
            Err(e) => tried.push(format!("  cache {}: {e}", cached.display())),
        }
    }
    // Configured mirrors replace the public defaults (offline set-ups must not wait on them).
    let default_urls: Vec<String> = if opts.mirrors.is_empty() {
        spec.default_urls
            .iter()
            .map(|u| {
                if u.ends_with('/') {
                    format!("{u}{}", spec.name)
                } else {
                    (*u).to_string()
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut client = None;
    for mirror in &opts.mirrors {
        match mirror {
            Mirror::Dir(d) => {
                let path = d.join(spec.dataset).join(spec.name);
                if !path.exists() {
                    tried.push(format!("  {}: no such file", path.display()));
                    continue;
                }
                match read_verified(&path, spec) {
                    Ok(f) => return Ok(f),
                    Err(e) => tried.push(format!("  {}: {e}", path.display())),
                }
            }
            Mirror::Url(base) => {
                let url = format!("{base}/{}/{}", spec.dataset, spec.name);
                match download_verified(&url, &cached, spec, opts, &mut client) {
                    Ok(f) => return Ok(f),
                    Err(e) => tried.push(format!("  {url}: {e}")),
                }
            }
        }
    }
    for url in default_urls {
        match download_verified(&url, &cached, spec, opts, &mut client) {
            Ok(f) => return Ok(f),
            Err(e) => tried.push(format!("  {url}: {e}")),
        }
    }
    if tried.is_empty() {
        tried.push("  (no mirror configured and no default URL for this file)".to_string());
    }
    Err(DataError::Unavailable {
        file: spec.label(),
        tried: tried.join("\n"),
        cache: dir,
    })
}

/// Why one download attempt failed, and whether trying again could help.
struct Failure {
    message: String,
    transient: bool,
}

fn download_verified(
    url: &str,
    dest: &Path,
    spec: &RemoteFile,
    opts: &FetchOptions,
    client: &mut Option<reqwest::blocking::Client>,
) -> Result<Fetched, String> {
    if client.is_none() {
        // reqwest's TLS takes the process's default provider: ring, unless the program
        // installed another first (then this one is not needed and the error says so).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let built = reqwest::blocking::Client::builder()
            .connect_timeout(opts.timeout)
            .timeout(opts.timeout)
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
        *client = Some(built);
    }
    let Some(client) = client.as_ref() else {
        unreachable!("set above")
    };
    let mut attempt = 0;
    loop {
        match download_once(client, url, dest, spec, opts) {
            Ok(f) => return Ok(f),
            Err(f) if f.transient && attempt < opts.retries => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
            Err(f) => {
                let tries = if attempt > 0 {
                    format!(" (after {} attempts)", attempt + 1)
                } else {
                    String::new()
                };
                return Err(format!("{}{tries}", f.message));
            }
        }
    }
}

/// Deletes `.NAME.part-PID` files left by processes that no longer run (a killed download).
fn remove_stale_parts(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.part-");
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        // Without /proc the owner cannot be known: leave the file alone.
        if Path::new("/proc/self").exists() && !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn download_once(
    client: &reqwest::blocking::Client,
    url: &str,
    dest: &Path,
    spec: &RemoteFile,
    opts: &FetchOptions,
) -> Result<Fetched, Failure> {
    let transient = |message: String| Failure {
        message,
        transient: true,
    };
    let permanent = |message: String| Failure {
        message,
        transient: false,
    };
    let mut response = client
        .get(url)
        .send()
        .map_err(|e| transient(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let message = format!("HTTP {status}");
        return Err(if status.is_server_error() {
            transient(message)
        } else {
            permanent(message)
        });
    }
    let total = response.content_length();
    let bar = progress_bar(opts.progress, total, &spec.label());
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut part = fs::create_dir_all(dir)
        .and_then(|()| AtomicFile::create(dest))
        .map_err(|e| permanent(format!("cannot write {}: {e}", dest.display())))?;
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(transient(format!(
                    "download cut after {received} bytes: {e}"
                )));
            }
        };
        received += n as u64;
        if received > MAX_PAYLOAD {
            return Err(permanent(format!(
                "more than {MAX_PAYLOAD} bytes; refusing"
            )));
        }
        part.write_all(&buf[..n])
            .map_err(|e| permanent(format!("cannot write {}: {e}", part.path().display())))?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    if let Some(expected) = total
        && received != expected
    {
        return Err(transient(format!(
            "download cut: {received} of {expected} bytes"
        )));
    }
    part.flush().map_err(|e| permanent(e.to_string()))?;
    let bytes =
        fs::read(part.path()).map_err(|e| permanent(format!("{}: {e}", part.path().display())))?;
    let content = verify(bytes, spec, url).map_err(|e| permanent(e.to_string()))?;
    part.commit().map_err(|e| {
        permanent(format!(
            "cannot move the download into {}: {e}",
            dest.display()
        ))
    })?;
    Ok(Fetched {
        path: dest.to_path_buf(),
        content,
    })
}

fn describe(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    if e.is_timeout() {
        message = format!("timed out ({message})");
    }
    message
}

fn progress_bar(enabled: bool, total: Option<u64>, label: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // Drawn on a terminal only: indicatif hides it when stderr is redirected.
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("downloading {label}"));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::tests::gzip;

    fn digest(bytes: &[u8]) -> &'static str {
        Box::leak(hex(&Sha256::digest(bytes)).into_boxed_str())
    }

    fn spec(sha256: Option<&'static str>, raw: Option<&'static str>) -> RemoteFile {
        RemoteFile {
            dataset: "toy",
            name: "data.gz",
            sha256,
            raw_sha256: raw,
            default_urls: &[],
        }
    }

    #[test]
    fn mirrors_parse() {
        assert_eq!(
            "/srv/data".parse::<Mirror>().unwrap(),
            Mirror::Dir("/srv/data".into())
        );
        assert_eq!(
            "file:///srv/data".parse::<Mirror>().unwrap(),
            Mirror::Dir("/srv/data".into())
        );
        assert_eq!(
            "http://127.0.0.1:8000/".parse::<Mirror>().unwrap(),
            Mirror::Url("http://127.0.0.1:8000".into())
        );
        assert!(matches!(
            "ftp://x".parse::<Mirror>(),
            Err(DataError::BadMirror { .. })
        ));
        assert!(matches!(
            "file://relative".parse::<Mirror>(),
            Err(DataError::BadMirror { .. })
        ));
        let list = parse_mirror_list("../shared/datasets, /usr/share/datasets,").unwrap();
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn verify_accepts_either_digest() {
        let raw = b"hello idx".to_vec();
        let gz = gzip(&raw);
        let recompressed = {
            let mut other = gz.clone();
            other[9] ^= 1; // the OS byte of the gzip header: same content, other file digest
            other
        };
        // Pinned by the file digest.
        assert_eq!(
            verify(gz.clone(), &spec(Some(digest(&gz)), None), "m").unwrap(),
            raw
        );
        // Pinned by content: a recompressed copy passes.
        let by_content = spec(Some(digest(&gz)), Some(digest(&raw)));
        assert_eq!(verify(recompressed.clone(), &by_content, "m").unwrap(), raw);
        // Neither matches.
        let err = verify(recompressed, &spec(Some(digest(&gz)), None), "mirror-x").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("toy/data.gz from mirror-x: SHA-256 mismatch"),
            "{text}"
        );
        assert!(text.contains(digest(&gz)), "{text}");
    }

    #[test]
    fn local_mirrors_are_read_in_place_and_missing_files_listed() {
        let mirror = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let raw = b"payload".to_vec();
        let gz = gzip(&raw);
        fs::create_dir_all(mirror.path().join("toy")).unwrap();
        fs::write(mirror.path().join("toy/data.gz"), &gz).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            cache_dir: cache.path().to_path_buf(),
            mirrors: vec![
                Mirror::Dir(empty.path().into()),
                Mirror::Dir(mirror.path().into()),
            ],
            ..FetchOptions::default()
        };
        let got = fetch(&spec(Some(digest(&gz)), None), &opts).unwrap();
        assert_eq!(got.content, raw);
        assert_eq!(got.path, mirror.path().join("toy/data.gz"));

        let missing = RemoteFile {
            name: "absent.gz",
            ..spec(Some(digest(&gz)), None)
        };
        let err = fetch(&missing, &opts).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("toy/absent.gz: not available from any mirror"),
            "{text}"
        );
        assert!(text.contains(&format!(
            "{}: no such file",
            empty.path().join("toy/absent.gz").display()
        )));
        assert!(text.contains(&format!(
            "{}: no such file",
            mirror.path().join("toy/absent.gz").display()
        )));
        assert!(text.contains("NN_DATA_MIRROR"), "{text}");
    }

    #[test]
    fn a_corrupt_cached_file_is_not_used() {
        let cache = tempfile::tempdir().unwrap();
        let mirror = tempfile::tempdir().unwrap();
        let gz = gzip(b"good");
        fs::create_dir_all(cache.path().join("toy")).unwrap();
        fs::write(cache.path().join("toy/data.gz"), b"garbage").unwrap();
        fs::create_dir_all(mirror.path().join("toy")).unwrap();
        fs::write(mirror.path().join("toy/data.gz"), &gz).unwrap();
        let opts = FetchOptions {
            cache_dir: cache.path().to_path_buf(),
            mirrors: vec![Mirror::Dir(mirror.path().into())],
            ..FetchOptions::default()
        };
        assert_eq!(
            fetch(&spec(Some(digest(&gz)), None), &opts)
                .unwrap()
                .content,
            b"good"
        );
    }
}
