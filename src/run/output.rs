//! A run's output directory, replaced all or nothing.
//!
//! Outputs are written to a staging directory beside the destination (same parent, so the same
//! filesystem) and put in place by one atomic exchange of the two directories (Linux
//! `renameat2(RENAME_EXCHANGE)`; elsewhere two renames, undone by the next run if a crash falls
//! between them). A crash or a kill at any point leaves the old or the new directory whole.
//!
//! An advisory lock beside the destination (`.NAME.lock`) refuses a second run on the same
//! output; whoever holds it removes the staging directories that dead runs left behind.
//! Everything that can make the commit fail is checked before training starts.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::fail;

mod partial;
pub use partial::Start;

/// The files `train`, `prune` and `factorize` write into a run directory: a directory holding anything else is not
/// replaced (it is not a run directory, or holds the user's own files).
pub const RUN_FILES: &[&str] = &[
    "model.safetensors",
    "history.csv",
    "history.json",
    "config.toml",
    "loss.svg",
    "accuracy.svg",
    "lr.svg",
    "metrics.json",
    "summary.json",
];

/// What `wgtrain experiment` writes into its output directory besides `runs/` (one run
/// directory per variant and seed, holding `RUN_FILES` and momentum's `loss_trace.csv`).
pub const EXPERIMENT_FILES: &[&str] = &[
    "report.md",
    "results.json",
    "val_accuracy.svg",
    "distinct.svg",
    "accuracy.svg",
    "dead_units.svg",
    "mean_activation.svg",
    "dead_per_layer.svg",
    "loss.svg",
    "pruning.svg",
    "mc_cost.svg",
    "train_loss.svg",
    "gradient_norm.svg",
    "lr_find_elu.svg",
    "lr_find_selu.svg",
];

/// What a directory may hold for wgtrain to replace it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// A run directory (`train`, `prune`, `factorize`).
    Run,
    /// An experiment's report and its runs.
    Experiment,
}

/// The staging directories of this process not yet committed or dropped, for `abandon_all`.
static LIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Remove every staging directory this process has open: for a signal handler about to end
/// the process at once (which runs no destructors), so that nothing half-written is left
/// beside the outputs, which stay as they were.
pub fn abandon_all() {
    let dirs = LIVE.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn forget(dir: &Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|d| d != dir);
    }
}

pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
    /// Left in place when the run stops before its commit (`Start`'s partial directory).
    keep: bool,
    /// Held until the run ends (dropping it removes the lock file and releases the lock).
    _lock: super::lock::OutputLock,
}

/// `target` with a symlink in its last component followed, so the swap replaces the directory
/// the link points to, not the link.
fn resolve(target: &Path) -> Result<PathBuf> {
    if target.as_os_str().is_empty() {
        fail!("--output is empty: give a directory for the run's outputs, e.g. --output runs/latest");
    }
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(target)
            .with_context(|| format!("--output {} is a symlink to a path that does not resolve", target.display())),
        _ => Ok(target.to_path_buf()),
    }
}

fn parent_of(target: &Path) -> PathBuf {
    target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

fn hidden_name(target: &Path, kind: &str, tag: &str) -> PathBuf {
    let name = target.file_name().map_or("output".into(), |n| n.to_string_lossy().into_owned());
    parent_of(target).join(format!(".{name}.{kind}{tag}"))
}

/// The entries of `target` that `holds` does not account for (the user's own files).
fn foreign_files(target: &Path, holds: Holds) -> Result<Vec<String>> {
    let names = |dir: &Path| -> Result<Vec<(String, bool)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            out.push((entry.file_name().to_string_lossy().into_owned(), entry.file_type()?.is_dir()));
        }
        Ok(out)
    };
    let mut foreign = Vec::new();
    for (name, is_dir) in names(target)? {
        // wgtrain's own lock files (`.NAME.lock`, left by a run refused on NAME inside), not
        // the user's.
        let lock = name.starts_with('.') && name.ends_with(".lock") && !is_dir;
        let known = lock || match holds {
            Holds::Run => RUN_FILES.contains(&name.as_str()),
            Holds::Experiment if name == "runs" && is_dir => {
                for (run, run_is_dir) in names(&target.join("runs"))? {
                    if !run_is_dir {
                        foreign.push(format!("runs/{run}"));
                        continue;
                    }
                    for (file, _) in names(&target.join("runs").join(&run))? {
                        if !RUN_FILES.contains(&file.as_str()) && file != "loss_trace.csv" {
                            foreign.push(format!("runs/{run}/{file}"));
                        }
                    }
                }
                true
            }
            Holds::Experiment if name == "units" && is_dir => {
                for (unit, _) in names(&target.join("units"))? {
                    if !unit.ends_with(".cbor") {
                        foreign.push(format!("units/{unit}"));
                    }
                }
                true
            }
            Holds::Experiment => EXPERIMENT_FILES.contains(&name.as_str()),
        };
        if !known {
            foreign.push(name);
        }
    }
    Ok(foreign)
}

/// Refuse a destination the commit could not replace whole, before any work is done.
fn check_target(target: &Path, holds: Holds) -> Result<()> {
    let Ok(meta) = std::fs::metadata(target) else { return Ok(()) };
    if !meta.is_dir() {
        fail!("--output {} exists and is not a directory; choose a directory path", target.display());
    }
    if target.file_name().is_none() || target.parent().is_none() {
        fail!(
            "--output {} cannot be replaced as a whole (it is the current, parent or root directory); \
             give a directory for this run, e.g. {}",
            target.display(),
            target.join("run").display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let parent = std::fs::metadata(parent_of(target))?;
        if parent.dev() != meta.dev() {
            fail!(
                "--output {} is a mount point; the run directory is replaced as a whole, which cannot be \
                 done to a mount point: give a directory inside it, e.g. {}",
                target.display(),
                target.join("run").display()
            );
        }
    }
    let mut foreign = foreign_files(target, holds)?;
    if !foreign.is_empty() {
        foreign.sort();
        foreign.truncate(5);
        fail!(
            "--output {} holds files wgtrain did not write ({}); {} replaces its output directory \
             as a whole, so choose another --output or move those files",
            target.display(),
            foreign.join(", "),
            if holds == Holds::Run { "a run" } else { "an experiment" }
        );
    }
    Ok(())
}

/// Remove what dead runs on the same output left behind, and finish a swap a crash
/// interrupted between its two renames (platforms without an atomic exchange).
fn clean_up_after_dead_runs(target: &Path) -> Result<()> {
    let parent = parent_of(target);
    let prefix = |kind: &str| hidden_name(target, kind, "").file_name().unwrap().to_string_lossy().into_owned();
    let (staging, old) = (prefix("staging."), prefix("old."));
    for entry in std::fs::read_dir(&parent).with_context(|| format!("cannot read {}", parent.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&old) && !target.exists() {
            // The old directory was moved aside and the new one never arrived: put it back.
            std::fs::rename(entry.path(), target)
                .with_context(|| format!("cannot restore {} from {}", target.display(), entry.path().display()))?;
        } else if name.starts_with(&staging) || name.starts_with(&old) {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}, left by an earlier run", entry.path().display()))?;
        }
    }
    Ok(())
}

impl Staging {
    /// Lock `target` for this run, check it can be replaced, and make an empty staging
    /// directory beside it.
    pub fn new(target: &Path) -> Result<Self> {
        Self::holding(target, Holds::Run)
    }

    /// As `new`, for an output that holds what `holds` says.
    pub fn holding(target: &Path, holds: Holds) -> Result<Self> {
        let target = resolve(target)?;
        let parent = parent_of(&target);
        std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let lock = super::lock::OutputLock::take(&hidden_name(&target, "lock", ""), &target)?;
        clean_up_after_dead_runs(&target)?;
        check_target(&target, holds)?;
        let dir = hidden_name(&target, "staging.", &std::process::id().to_string());
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        if let Ok(mut live) = LIVE.lock() {
            live.push(dir.clone());
        }
        Ok(Self { target, dir, committed: false, keep: false, _lock: lock })
    }

    /// The destination (symlinks followed).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The staging directory, for writers that name their own files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where to write `name` before commit.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Write one output file, with an error that names the output, not the staging path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> Result<()> {
        self.writing(name, |path| std::fs::write(path, bytes).map_err(|e| Error::io(path, e)))
    }

    /// Run `write` on the staging path of `name`; its error names the output, not the staging
    /// directory, and says the output was not changed.
    pub fn writing(&self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        write(&self.path(name)).map_err(|e| {
            Error::msg(format!(
                "cannot write {}: {}; {} was left as it was",
                self.target.join(name).display(),
                e.os_cause(),
                self.target.display()
            ))
        })
    }

    /// Put the staged directory in place of the destination, in one step.
    pub fn commit(mut self) -> Result<PathBuf> {
        let fail = |e: std::io::Error| {
            Error::msg(format!("cannot put the outputs in {}; it was left as it was: {e}", self.target.display()))
        };
        sync_dir(&self.dir);
        if self.target.exists() {
            swap(&self.dir, &self.target, &hidden_name(&self.target, "old.", &std::process::id().to_string()))
                .map_err(fail)?;
            // `dir` now holds the old outputs.
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            std::fs::rename(&self.dir, &self.target).map_err(fail)?;
        }
        sync_dir(&parent_of(&self.target));
        self.committed = true;
        forget(&self.dir);
        Ok(self.target.clone())
    }
}

/// Exchange directories `new` and `target` atomically where the platform can; else move
/// `target` to `aside`, `new` to `target`, and `aside` to `new`.
fn swap(new: &Path, target: &Path, aside: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
        let (from, to) = (c(new)?, c(target)?);
        // SAFETY: both are valid NUL-terminated paths; renameat2 reads them and nothing else.
        let rc = unsafe {
            libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_EXCHANGE)
        };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        // Filesystems without the exchange (some network and FUSE mounts) take the fallback.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    std::fs::rename(target, aside)?;
    if let Err(e) = std::fs::rename(new, target) {
        let _ = std::fs::rename(aside, target);
        return Err(e);
    }
    std::fs::rename(aside, new)
}

/// Make renames in `dir` durable; best effort (not every platform can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed && !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
            forget(&self.dir);
        }
    }
}
