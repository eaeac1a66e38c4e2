//! Outputs are written to a staging directory beside the output directory and moved into it
//! only when the run succeeds, so a failed run leaves an existing output directory untouched.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl Staging {
    /// Check `target` can be an output directory and make an empty staging directory for it.
    pub fn new(target: &Path) -> Result<Self> {
        if target.exists() && !target.is_dir() {
            bail!("output {} exists and is not a directory", target.display());
        }
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let name = target.file_name().map_or("output".into(), |n| n.to_string_lossy().into_owned());
        let dir = parent.join(format!(".{name}.staging.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self { target: target.to_path_buf(), dir, committed: false })
    }

    /// Where to write `name` before commit.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Move every staged file into the output directory (each move is a rename).
    pub fn commit(mut self) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.target).with_context(|| format!("cannot create {}", self.target.display()))?;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let to = self.target.join(entry.file_name());
            std::fs::rename(entry.path(), &to).with_context(|| format!("cannot move output into {}", to.display()))?;
        }
        std::fs::remove_dir(&self.dir)?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
