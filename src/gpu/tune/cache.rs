//! The tuning cache: one JSON file, entries by adapter key, each with the adapter's tiling
//! and the tiling chosen per class of product shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub(super) const SCHEMA: &str = "wgtrain-tune/1";
pub(super) const FILE: &str = "matmul-tiling.json";
const LOCK: &str = ".matmul-tiling.lock";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct CacheFile {
    pub schema: String,
    pub entries: BTreeMap<String, Entry>,
}

/// One adapter's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Entry {
    /// The adapter's tiling, from the screening products, and each candidate's GFLOP/s there.
    pub tiling: String,
    pub gflops: BTreeMap<String, f64>,
    /// The tiling per class of product (`ShapeClass::label`), timed at the class's first use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, ClassEntry>,
}

/// The tiling chosen for one class, the product it was timed on, and each candidate's GFLOP/s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassEntry {
    pub tiling: String,
    /// "M×K×N" and the transposes, as timed.
    pub product: String,
    pub gflops: BTreeMap<String, f64>,
}

/// `WGTRAIN_CACHE_DIR`, else `$XDG_CACHE_HOME/wgtrain`, else `~/.cache/wgtrain`.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("WGTRAIN_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("wgtrain")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("wgtrain")))
}

pub(super) fn read_cache(path: &Path) -> Option<CacheFile> {
    // Unreadable, not a file (a FIFO would block every GPU command) or too large: retuned.
    let text = crate::files::read_text(path, crate::files::bound::TEXT).ok()?;
    parse_cache(&text)
}

fn parse_cache(text: &str) -> Option<CacheFile> {
    serde_json::from_str::<CacheFile>(text).ok().filter(|f| f.schema == SCHEMA)
}

/// The (key, tiling name) entries of a cache file's text; None for text that is not a cache
/// of this schema (which is then measured again, never an error).
pub fn cache_entries(text: &str) -> Option<Vec<(String, String)>> {
    Some(parse_cache(text)?.entries.into_iter().map(|(k, e)| (k, e.tiling)).collect())
}

/// Through a temporary file beside it and a rename, so a reader never sees half a file.
pub(super) fn write_cache(path: &Path, file: &CacheFile) -> Result<()> {
    let dir = path.parent().expect("the cache file is inside a directory");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let text = serde_json::to_string_pretty(file).expect("the cache serializes");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The choice for class `label` under adapter `key` in the cache in `dir`, if recorded.
pub(super) fn class_entry(dir: &Path, key: &str, label: &str) -> Option<ClassEntry> {
    read_cache(&dir.join(FILE))?.entries.get(key)?.classes.get(label).cloned()
}

/// The choice for class `label` under adapter `key` once `timed` is offered to the cache in
/// `dir`: the one another process recorded while this one timed, else `timed` (recorded when
/// the adapter's entry is there). So processes timing a class at once use one tiling for it.
pub(super) fn settle_class(dir: &Path, key: &str, label: &str, timed: ClassEntry) -> ClassEntry {
    let settled = update(dir, |file| match file.entries.get_mut(key) {
        Some(adapter) => adapter.classes.entry(label.into()).or_insert(timed.clone()).clone(),
        None => timed.clone(),
    });
    settled.unwrap_or(timed)
}

/// Apply `change` to the cache in `dir` under an exclusive lock on a file beside it (so
/// processes writing at once lose none of each other's entries), and write it back. None
/// when the directory cannot hold the cache or the lock (nothing is kept then).
pub(super) fn update<R>(dir: &Path, change: impl FnOnce(&mut CacheFile) -> R) -> Option<R> {
    std::fs::create_dir_all(dir).ok()?;
    let lock = open_lock(&dir.join(LOCK))?;
    lock.lock().ok()?;
    let path = dir.join(FILE);
    let mut file = read_cache(&path).unwrap_or_default();
    file.schema = SCHEMA.into();
    let result = change(&mut file);
    write_cache(&path, &file).ok()?;
    Some(result) // the lock goes with `lock`
}

/// The lock file, if it is a regular file (opened without blocking: a FIFO put there would
/// otherwise stop every GPU command).
fn open_lock(path: &Path) -> Option<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOFOLLOW);
    let file = options.open(path).ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// The classes recorded for adapter `key` in the cache in `dir` (for `wgtrain info`).
pub fn recorded_classes(dir: &Path, key: &str) -> BTreeMap<String, ClassEntry> {
    read_cache(&dir.join(FILE)).and_then(|mut f| f.entries.remove(key)).map(|e| e.classes).unwrap_or_default()
}
