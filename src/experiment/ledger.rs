//! An experiment's finished units: each run of a variant with a seed, and each measurement
//! only the leader takes (timings on one adapter, pruning of the trained model), recorded in
//! `units/` of the experiment's output the moment it finishes. An interrupted sweep continues
//! where it stopped (`--resume` trains only the units not recorded), and a report is rebuilt
//! from what was measured without training again (`wgtrain experiment report DIR`).
//!
//! A unit is named by a description of everything its result depends on (the experiment and
//! its scale, the variant's model and optimizer, the data, the seed); its file is named by the
//! SHA-256 of that description and holds the description (checked on reading, so a file cannot
//! stand for another unit), the build that measured it, and the result in CBOR (floats exact,
//! NaN and infinities included, which JSON cannot carry).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files;

/// The directory of an experiment's output that holds its units.
pub const UNITS: &str = "units";

/// What a unit that is not recorded yet does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// It runs, and its result is recorded.
    Record,
    /// It is an error: the report is being rebuilt from what was recorded.
    Replay,
}

/// What a unit's file holds.
#[derive(Serialize, Deserialize)]
struct Entry<T> {
    key: String,
    build: String,
    result: T,
}

pub struct Ledger {
    dir: PathBuf,
    mode: Mode,
    /// Units taken from the record, by the build that measured them.
    reused: BTreeMap<String, usize>,
    /// Units measured by this process.
    measured: usize,
}

impl Ledger {
    /// The units under `out` (the experiment's output being written).
    pub fn new(out: &Path, mode: Mode) -> Self {
        Self { dir: out.join(UNITS), mode, reused: BTreeMap::new(), measured: 0 }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn path(&self, key: &str) -> PathBuf {
        let hash = Sha256::digest(key.as_bytes());
        let name: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.cbor"))
    }

    /// The recorded bytes of unit `key`, if it was recorded.
    pub fn raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key);
        match files::read(&path, files::bound::DATA) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The result in `bytes` (from `raw`), checked to be unit `key`'s.
    pub fn decode<R: DeserializeOwned>(&mut self, bytes: &[u8], key: &str) -> Result<R> {
        let path = self.path(key);
        let damaged = |why: String| {
            Error::msg(format!(
                "{} is not a result this experiment can use ({why}); remove it, and `--resume` measures that unit again",
                path.display()
            ))
        };
        let entry: Entry<R> = ciborium::from_reader(bytes).map_err(|e| damaged(e.to_string()))?;
        if entry.key != key {
            return Err(damaged(format!("it records another unit: {:?}", entry.key)));
        }
        *self.reused.entry(entry.build).or_default() += 1;
        Ok(entry.result)
    }

    /// The recorded result of unit `key`, if any.
    pub fn get<R: DeserializeOwned>(&mut self, key: &str) -> Result<Option<R>> {
        match self.raw(key)? {
            Some(bytes) => self.decode(&bytes, key).map(Some),
            None => Ok(None),
        }
    }

    /// Record `result` as unit `key`'s (the file appears whole or not at all).
    pub fn record<R: Serialize>(&mut self, key: &str, result: &R) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let entry = Entry { key: key.to_string(), build: crate::build::BUILD.to_string(), result };
        let mut bytes = Vec::new();
        ciborium::into_writer(&entry, &mut bytes).map_err(|e| Error::msg(format!("cannot encode unit {key:?}: {e}")))?;
        let path = self.path(key);
        files::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
        self.measured += 1;
        Ok(())
    }

    /// Refuse to measure the unit called `label` when the report is being rebuilt.
    pub fn missing(&self, label: &str) -> Result<()> {
        match self.mode {
            Mode::Record => Ok(()),
            Mode::Replay => Err(Error::msg(format!(
                "the experiment's output has no recorded result for {label:?} at these settings, so its report cannot \
                 be rebuilt without training; the command the report states, with --resume, measures what is missing"
            ))),
        }
    }

    /// How many units this process measured.
    pub fn measured(&self) -> usize {
        self.measured
    }

    /// How many units came from the record.
    pub fn reused(&self) -> usize {
        self.reused.values().sum()
    }

    /// A line for the report: which builds measured the units.
    pub fn provenance(&self) -> String {
        let mut builds = self.reused.clone();
        if self.measured > 0 {
            *builds.entry(crate::build::BUILD.to_string()).or_default() += self.measured;
        }
        let listed: Vec<String> = builds.iter().map(|(b, n)| format!("wgtrain {b} ({n})")).collect();
        format!(
            "units measured ({} in all, {} by this run, {} taken from an earlier one): {}",
            self.measured + self.reused(),
            self.measured,
            self.reused(),
            if listed.is_empty() { "none".into() } else { listed.join(", ") }
        )
    }
}
