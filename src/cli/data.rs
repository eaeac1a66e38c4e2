//! Where each dataset is found, fetching it on first use: `wgtrain data list|fetch` and the
//! lookup `train` and `eval` go through.
//!
//! A dataset is looked for in the data directory, then where a system package puts it
//! (`/usr/share/datasets`, or `WGTRAIN_SYSTEM_DATA`), and is otherwise fetched into the data
//! directory from its mirrors (or `WGTRAIN_MIRROR`), SHA-256 verified.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use wgtrain::data::download::{self, Remote};

/// Where a system package puts a dataset (Debian's `dataset-fashion-mnist`).
pub const SYSTEM_DATASETS: &str = "/usr/share/datasets";

/// The system dataset directory: `WGTRAIN_SYSTEM_DATA` when set, else `SYSTEM_DATASETS`.
pub fn system_dir() -> PathBuf {
    std::env::var_os("WGTRAIN_SYSTEM_DATA").map_or_else(|| PathBuf::from(SYSTEM_DATASETS), PathBuf::from)
}

/// Mirrors from `WGTRAIN_MIRROR` (base URLs separated by spaces or commas), tried instead of
/// each dataset's own.
pub fn env_mirrors() -> Vec<String> {
    std::env::var("WGTRAIN_MIRROR")
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Where `remote` is: the first of the data directory and the system directory that has it.
pub fn found(remote: &Remote, data_dir: &Path) -> Option<PathBuf> {
    [data_dir.join(remote.name), system_dir().join(remote.name)]
        .into_iter()
        .find(|d| download::present(remote, d))
}

/// The directory holding dataset `name`, fetched into the data directory if no place has it.
pub fn locate(name: &str, data_dir: &Path) -> Result<PathBuf> {
    let remote = download::remote(name).with_context(|| format!("no dataset named {name:?} can be fetched"))?;
    if let Some(dir) = found(remote, data_dir) {
        return Ok(dir);
    }
    let dir = data_dir.join(name);
    eprintln!(
        "{name} is in neither {} nor {}: fetching it into {} ({})",
        dir.display(),
        system_dir().join(name).display(),
        dir.display(),
        remote.about
    );
    fetch(remote, &dir).with_context(|| {
        let apt = if name == "fashion-mnist" { " (or, as root: apt-get install dataset-fashion-mnist)" } else { "" };
        format!(
            "{name} is in neither {} nor {}, and fetching it failed; once a source is reachable run: wgtrain data \
             fetch {name} --data-dir {}{apt}",
            dir.display(),
            system_dir().join(name).display(),
            data_dir.display()
        )
    })?;
    Ok(dir)
}

/// Fetch `remote` into `dir` with a progress bar on standard error.
pub fn fetch(remote: &Remote, dir: &Path) -> Result<()> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:24}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut current = String::new();
    let mut progress = |file: &str, done: u64, total: Option<u64>| {
        if file != current {
            current = file.to_string();
            bar.reset();
            bar.set_prefix(current.clone());
        }
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    let result = download::fetch(remote, &env_mirrors(), dir, &mut progress);
    bar.finish_and_clear();
    Ok(result?)
}

/// `wgtrain data list`: each dataset, where it is, and where it comes from.
pub fn list(data_dir: &Path) -> String {
    let mut out = String::from("dataset        where                                       source\n");
    let row = |name: &str, place: String, source: &str| format!("{name:<14} {place:<43} {source}\n");
    out += &row("digits", "built in (1,797 8×8 images)".into(), "E. Alpaydin, C. Kaynak, UCI; CC BY 4.0");
    for remote in download::REMOTES {
        let place = match found(remote, data_dir) {
            Some(dir) => dir.display().to_string(),
            None => format!("not fetched ({} MB)", remote.files.iter().map(|f| f.size).sum::<u64>().div_ceil(1 << 20)),
        };
        out += &row(remote.name, place, remote.about);
    }
    out += &row("spirals", "generated".into(), "two interleaved spirals (Lang & Witbrock)");
    out
}
