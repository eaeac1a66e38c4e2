//! Where an experiment's independent runs (variant × seed) train: one after another in this
//! process, or spread over the ranks of an MPI job (`mpirun -np N wgtrain experiment …`).
//!
//! Spread, run i goes to rank i mod N. A rank other than 0 trains into a scratch directory,
//! packs what the run wrote (a tar in memory) with its result, and sends both to rank 0, which
//! unpacks the files where a one-process run would have written them; every rank receives
//! every result, in run order, so the code after `map` computes the same tables on every rank
//! as one process would. Only rank 0 keeps files: the others' output is a scratch directory.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::train::Replicas;

/// The runs' placement.
pub struct Pool<'a> {
    replicas: Option<&'a mut dyn Replicas>,
    /// Ranks other than 0: where their output goes (removed when the pool is dropped).
    scratch: Option<tempfile::TempDir>,
}

impl<'a> Pool<'a> {
    /// Every run in this process.
    pub fn local() -> Self {
        Self { replicas: None, scratch: None }
    }

    /// Runs spread over `replicas` (one replica per rank of the job), which must all have been
    /// asked the same (`what`: the experiment, its scale and data; checked here, so that ranks
    /// asked different things stop with the difference named instead of waiting for ever).
    pub fn spread(replicas: &'a mut dyn Replicas, what: &str) -> Result<Self> {
        crate::train::agree(replicas, &format!("wgtrain {}\n{what}", env!("CARGO_PKG_VERSION")))?;
        let scratch = if replicas.rank() == 0 {
            None
        } else {
            Some(
                tempfile::Builder::new()
                    .prefix("wgtrain-experiment-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?,
            )
        };
        Ok(Self { replicas: Some(replicas), scratch })
    }

    /// Whether this process keeps the files and writes the report (rank 0, or the only one).
    pub fn leader(&self) -> bool {
        self.rank() == 0
    }

    pub fn rank(&self) -> usize {
        self.replicas.as_ref().map_or(0, |r| r.rank())
    }

    pub fn size(&self) -> usize {
        self.replicas.as_ref().map_or(1, |r| r.size())
    }

    /// Where this process writes an experiment that asked for `out`: `out` itself on the
    /// leader, a scratch directory elsewhere.
    pub fn output(&self, out: &Path) -> PathBuf {
        self.scratch.as_ref().map_or_else(|| out.to_path_buf(), |s| s.path().join("report"))
    }

    /// Run `work` on every unit, unit i on rank i mod N, each writing under the directory it
    /// is given (`out` on the leader); returns every unit's result, in unit order, on every rank.
    /// Results travel exactly (floats bit for bit), and the files a unit wrote elsewhere than
    /// on the leader arrive under the leader's `out`.
    pub fn map<U, R>(
        &mut self,
        b: &mut dyn Backend,
        out: &Path,
        units: &[U],
        mut work: impl FnMut(&mut dyn Backend, &U, &Path) -> Result<R>,
    ) -> Result<Vec<R>>
    where
        R: Serialize + DeserializeOwned,
    {
        let Some(replicas) = self.replicas.as_deref_mut() else {
            return units.iter().map(|u| work(b, u, out)).collect();
        };
        let (rank, size) = (replicas.rank(), replicas.size());
        // This rank's units first, then one exchange per unit from its owner, in unit order.
        let mut mine: Vec<Vec<u8>> = vec![Vec::new(); units.len()];
        let mut kept: Vec<Option<R>> = (0..units.len()).map(|_| None).collect();
        for (i, unit) in units.iter().enumerate().filter(|(i, _)| i % size == rank) {
            if rank == 0 {
                kept[i] = Some(work(b, unit, out)?);
                continue;
            }
            let scratch = self.scratch.as_ref().expect("ranks other than 0 have a scratch directory");
            let dir = scratch.path().join(format!("unit-{i}"));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let result = work(b, unit, &dir)?;
            let files = pack(&dir)?;
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            mine[i] = encode(&(result, files), i)?;
        }
        // Ranks with fewer or shorter runs wait here for the others without taking a core.
        replicas.idle_barrier()?;
        let mut results = Vec::with_capacity(units.len());
        for (i, bytes) in mine.iter_mut().enumerate() {
            let owner = i % size;
            if owner == 0 {
                // Rank 0's results stay where they are; the other ranks need them too.
                let mut sent = match &kept[i] {
                    Some(r) => encode(&(r, Vec::<u8>::new()), i)?,
                    None => Vec::new(),
                };
                replicas.broadcast_bytes(0, &mut sent)?;
                match kept[i].take() {
                    Some(r) => results.push(r),
                    None => results.push(decode::<R>(&sent, i)?.0),
                }
                continue;
            }
            replicas.broadcast_bytes(owner, bytes)?;
            let (result, files) = decode::<R>(bytes, i)?;
            if rank == 0 {
                unpack(&files, out)?;
            }
            results.push(result);
        }
        Ok(results)
    }

    /// `value` as the leader has it, on every rank (exactly: CBOR).
    pub fn from_leader<T: Serialize + DeserializeOwned>(&mut self, value: T) -> Result<T> {
        let Some(replicas) = self.replicas.as_deref_mut() else { return Ok(value) };
        let leader = replicas.rank() == 0;
        let mut bytes = if leader { encode(&value, 0)? } else { Vec::new() };
        replicas.broadcast_bytes(0, &mut bytes)?;
        match leader {
            true => Ok(value),
            false => ciborium::from_reader(&bytes[..])
                .map_err(|e| Error::msg(format!("the leader's record arrived damaged ({e}); do all ranks run the same wgtrain build?"))),
        }
    }

    /// The rank that runs unit `i` of a `map`.
    pub fn owner(&self, i: usize) -> usize {
        i % self.size()
    }

    /// Wait for every rank (sleeping): at the end of an experiment, while the leader does the
    /// work only it does (timings on one adapter, the report).
    pub fn finish(&mut self) -> Result<()> {
        match self.replicas.as_deref_mut() {
            Some(r) => r.idle_barrier(),
            None => Ok(()),
        }
    }

    /// A line for the report's setup saying how the runs were spread, when they were.
    pub fn describe(&self) -> Option<String> {
        (self.size() > 1).then(|| {
            format!(
                "runs spread over {} MPI ranks (run i on rank i mod {}), each rank on its own adapter; times per epoch were taken with up to {} runs at once",
                self.size(),
                self.size(),
                self.size()
            )
        })
    }
}

fn encode<T: Serialize>(value: &T, i: usize) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).map_err(|e| Error::msg(format!("cannot encode run {i}'s result: {e}")))?;
    Ok(bytes)
}

fn decode<R: DeserializeOwned>(bytes: &[u8], i: usize) -> Result<(R, Vec<u8>)> {
    ciborium::from_reader(bytes).map_err(|e| {
        Error::msg(format!("run {i}'s result arrived damaged ({e}); do all ranks run the same wgtrain build?"))
    })
}

/// Every file under `dir`, as a tar in memory (paths relative to `dir`).
fn pack(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir).map_err(|e| Error::io(dir, e))?;
    tar.into_inner().map_err(|e| Error::io(dir, e))
}

/// Unpack a `pack`ed tree under `out` (entries cannot leave it: the tar crate refuses `..`).
fn unpack(files: &[u8], out: &Path) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut archive = tar::Archive::new(files);
    archive.set_overwrite(true);
    archive.unpack(out).map_err(|e| Error::io(out, e))
}
