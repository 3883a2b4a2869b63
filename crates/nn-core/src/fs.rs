//! Files written whole or not at all: the one atomic-write helper that checkpoints, downloads
//! and training reports share.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A temporary file next to its destination (`.NAME.part-PID`), renamed over the destination
/// by [`AtomicFile::commit`] after its contents are flushed to disk, and deleted if dropped
/// uncommitted — so an interrupted write never leaves a half-written file under the real name,
/// nor loses the file that was there.
///
/// ```
/// use std::io::Write;
/// use nn_core::fs::AtomicFile;
/// let dir = tempfile::tempdir().unwrap();
/// let dest = dir.path().join("out.txt");
/// let mut file = AtomicFile::create(&dest).unwrap();
/// file.write_all(b"all or nothing").unwrap();
/// assert!(!dest.exists());
/// file.commit().unwrap();
/// assert_eq!(std::fs::read(&dest).unwrap(), b"all or nothing");
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

/// The temporary name [`AtomicFile`] uses for `dest` in this process.
pub fn part_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

impl AtomicFile {
    /// Creates the temporary file for `dest` (its directory must exist).
    ///
    /// # Errors
    /// The OS error of creating the file.
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        let path = part_path(dest);
        let file = File::create(&path)?;
        Ok(AtomicFile {
            path,
            dest: dest.to_path_buf(),
            file: Some(file),
        })
    }

    /// The temporary file's path (to read back what was written before committing).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the contents to disk, renames the file over the destination and makes the
    /// rename durable.
    ///
    /// # Errors
    /// The OS error of flushing or renaming; the temporary file is then deleted.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        fs::rename(&self.path, &self.dest)?;
        self.path = PathBuf::new();
        let dir = self
            .dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Not every platform can open a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `contents` to `dest` through an [`AtomicFile`].
///
/// # Errors
/// The OS error; `dest` is then as it was.
pub fn write_atomic(dest: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.write_all(contents)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.bin");
        write_atomic(&dest, b"first").unwrap();
        write_atomic(&dest, b"second, longer").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"second, longer");
        // Dropped uncommitted: the old file stays, the temporary goes.
        let mut file = AtomicFile::create(&dest).unwrap();
        file.write_all(b"half").unwrap();
        drop(file);
        assert_eq!(fs::read(&dest).unwrap(), b"second, longer");
        // A rename that fails (the destination is a non-empty directory) removes the temporary.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("keep"), b"x").unwrap();
        assert!(write_atomic(&blocked, b"y").is_err());
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.bin", "blocked"]);
        assert!(write_atomic(&dir.path().join("no/such/dir/x"), b"z").is_err());
    }
}
