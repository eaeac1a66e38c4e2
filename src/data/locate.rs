//! Where each dataset is found, fetching it on first use.
//!
//! A dataset is looked for in the data directory, then where a system package puts it
//! (`/usr/share/datasets`, or `WGTRAIN_SYSTEM_DATA`), and is otherwise fetched into the data
//! directory from its mirrors (or `WGTRAIN_MIRROR`), SHA-256 verified.

use std::path::{Path, PathBuf};

use super::download::{self, Remote};
use crate::error::{Context, Error, Result};

/// Where a system package puts a dataset (Debian's `dataset-fashion-mnist`).
pub const SYSTEM_DATASETS: &str = "/usr/share/datasets";

/// What fetching a dataset reports as it goes.
pub enum Fetching<'a> {
    /// No place has `name`: it is being fetched into `into`.
    Start { name: &'a str, into: &'a Path, about: &'a str },
    /// `done` of `total` bytes of `file`.
    Bytes { file: &'a str, done: u64, total: Option<u64> },
    /// The fetch ended (either way).
    End,
}

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
    [data_dir.join(remote.name), system_dir().join(remote.name)].into_iter().find(|d| download::present(remote, d))
}

/// `locate`, and where a place already had the dataset, check that it is the pinned one
/// (`download::check_present`): what `wgtrain data fetch` promises.
pub fn fetch_verified(name: &str, data_dir: &Path, report: &mut dyn FnMut(Fetching)) -> Result<PathBuf> {
    let dir = locate(name, data_dir, report)?;
    let remote = download::remote(name).expect("locate knows the name");
    download::check_present(remote, &dir)?;
    Ok(dir)
}

/// The directory holding dataset `name`, fetched into the data directory if no place has it.
pub fn locate(name: &str, data_dir: &Path, report: &mut dyn FnMut(Fetching)) -> Result<PathBuf> {
    let remote = download::remote(name).with_context(|| format!("no dataset named {name:?} can be fetched"))?;
    if data_dir.exists() && !data_dir.is_dir() {
        return Err(Error::msg(format!(
            "--data-dir {} is not a directory; give the directory datasets are kept in (default: data)",
            data_dir.display()
        )));
    }
    if let Some(m) = env_mirrors().into_iter().find(|m| !(m.starts_with("http://") || m.starts_with("https://"))) {
        return Err(Error::msg(format!(
            "WGTRAIN_MIRROR {m:?}: only http:// and https:// mirrors are fetched from; for files on this machine, \
             put them in {} (or give --data-dir the directory that holds {name}/)",
            data_dir.join(name).display()
        )));
    }
    if let Some(dir) = found(remote, data_dir) {
        return Ok(dir);
    }
    let dir = data_dir.join(name);
    report(Fetching::Start { name, into: &dir, about: remote.about });
    let result = download::fetch(remote, &env_mirrors(), &dir, &mut |file, done, total| {
        report(Fetching::Bytes { file, done, total })
    });
    report(Fetching::End);
    result.map_err(|e| {
        let apt = if name == "fashion-mnist" { " (or, as root: apt-get install dataset-fashion-mnist)" } else { "" };
        Error::Context {
            context: format!(
                "{name} is in neither {} nor {}, and fetching it failed; once a source is reachable run: wgtrain \
                 data fetch {name} --data-dir {}{apt}",
                dir.display(),
                system_dir().join(name).display(),
                data_dir.display()
            ),
            cause: Box::new(e),
        }
    })?;
    Ok(dir)
}
