//! The advisory lock beside an output (`.NAME.lock`): held while a run writes NAME, and
//! removed by its holder when the run ends, so no lock file outlives the run that made it.
//!
//! Removing a lock file is safe because taking one checks, once locked, that the path still
//! names the file locked: a run that opened the file just before its holder removed it finds
//! it gone, and takes the lock again on a new file.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};
use crate::fail;

/// A held lock; dropping it removes the file, then releases the lock.
pub struct OutputLock {
    path: PathBuf,
    _file: File,
}

impl OutputLock {
    /// Take the lock at `path` for the output `target` (named in the message when another run
    /// holds it).
    pub fn take(path: &Path, target: &Path) -> Result<Self> {
        loop {
            let mut options = File::options();
            options.create(true).truncate(false).write(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
            let file = options.open(path).with_context(|| format!("cannot create the lock file {}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => fail!(
                    "another wgtrain run is writing to {} (it holds {}); wait for it, or choose another --output",
                    target.display(),
                    path.display()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()))
                }
            }
            if names_file(path, &file) {
                return Ok(Self { path: path.to_path_buf(), _file: file });
            }
            // Its holder removed it between our open and our lock: take a new one.
        }
    }
}

/// Whether `path` names the open `file` (not a file removed and made again since).
fn names_file(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(path), file.metadata()) {
            (Ok(p), Ok(f)) => p.dev() == f.dev() && p.ino() == f.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        true
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Still locked here: the file closes (and the lock goes) after this body.
        let _ = std::fs::remove_file(&self.path);
    }
}
