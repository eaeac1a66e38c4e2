//! Outputs built over hours from units recorded as they finish (an experiment's sweep). Their
//! staging directory has a fixed name, `.NAME.partial` beside the destination, and outlives a
//! run that stops before its commit, so that the next run can continue in it; the commit puts
//! it in place whole, as for any other output.

use std::path::Path;

use super::{check_target, clean_up_after_dead_runs, hidden_name, parent_of, resolve, Holds, Staging, LIVE};
use crate::error::{Context, Error, Result};
use crate::fail;

/// How a resumable output starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From nothing. Refused where a stopped run left its work: that is measured time, which
    /// only `Resume` (or the user, by removing it) disposes of.
    Fresh,
    /// In what a stopped run left; else from a copy of the destination's `carry` entries (a
    /// finished sweep asked for more seeds continues from its recorded units).
    Resume,
    /// From a copy of the destination's `carry` entries, in an ordinary staging directory
    /// (removed if the run stops): to rebuild what is derived from them. A stopped run's work
    /// is left alone.
    Rebuild,
}

impl Staging {
    /// Lock `target` and check it can be replaced (as `holding`), then open its staging
    /// directory as `start` says.
    pub fn resumable(target: &Path, holds: Holds, start: Start, carry: &[&str]) -> Result<Self> {
        let target = resolve(target)?;
        let parent = parent_of(&target);
        std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let lock = crate::run::lock::OutputLock::take(&hidden_name(&target, "lock", ""), &target)?;
        clean_up_after_dead_runs(&target)?;
        check_target(&target, holds)?;
        let partial = hidden_name(&target, "partial", "");
        let scratch = hidden_name(&target, "staging.", &std::process::id().to_string());
        let dir = match (start, partial.exists()) {
            (Start::Fresh, true) => fail!(
                "{} holds the work of an earlier run on {} that stopped before it finished; the same command with \
                 --resume continues it (its finished units are kept), or remove {} to start over",
                partial.display(),
                target.display(),
                partial.display()
            ),
            (Start::Resume, true) => partial,
            (Start::Rebuild, _) => {
                if !target.is_dir() {
                    fail!("{} does not exist or is not a directory: name the output of an experiment", target.display());
                }
                copy_entries(&target, &scratch, carry)?;
                scratch
            }
            (_, false) => {
                // Copied aside first, so that a kill during the copy leaves no partial
                // directory that lacks what the destination holds.
                if start == Start::Resume && target.is_dir() {
                    copy_entries(&target, &scratch, carry)?;
                } else {
                    std::fs::create_dir(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
                }
                std::fs::rename(&scratch, &partial).with_context(|| format!("cannot create {}", partial.display()))?;
                partial
            }
        };
        let keep = start != Start::Rebuild;
        if !keep {
            if let Ok(mut live) = LIVE.lock() {
                live.push(dir.clone());
            }
        }
        Ok(Self { target, dir, committed: false, keep, _lock: lock })
    }
}

/// A new directory `to` holding copies of `from`'s entries named in `names` (those present).
fn copy_entries(from: &Path, to: &Path, names: &[&str]) -> Result<()> {
    std::fs::create_dir(to).with_context(|| format!("cannot create {}", to.display()))?;
    for name in names {
        let source = from.join(name);
        if source.exists() {
            copy_tree(&source, &to.join(name))?;
        }
    }
    Ok(())
}

/// Copy the directories and regular files under `from` to `to` (links are not followed).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(from).map_err(|e| Error::io(from, e))?;
    if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
        for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
            let entry = entry.map_err(|e| Error::io(from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        std::fs::copy(from, to).map_err(|e| Error::io(from, e))?;
    }
    Ok(())
}
