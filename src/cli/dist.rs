//! `mpirun -np N wgtrain train …`: this process as one rank of a data-parallel job. Rank k
//! takes the k-th adapter of its machine; rank 0 alone prints and writes; an error on any
//! rank ends the whole job (the other ranks would otherwise wait in their next collective).

use anyhow::Result;
use wgtrain::dist::Launch;
use wgtrain::train::Replicas;

/// The MPI job this process belongs to.
pub struct Job {
    pub launch: Launch,
    #[cfg(feature = "mpi")]
    mpi: wgtrain::dist::Mpi,
}

impl Job {
    /// The job, when a launcher started this process as one of several; an error when this
    /// build cannot join it.
    pub fn from_env() -> Result<Option<Job>> {
        let Some(launch) = wgtrain::dist::launched().filter(|l| l.size > 1) else { return Ok(None) };
        #[cfg(feature = "mpi")]
        {
            let mpi = wgtrain::dist::Mpi::init()?;
            Ok(Some(Job { launch, mpi }))
        }
        #[cfg(not(feature = "mpi"))]
        {
            anyhow::bail!(
                "started by an MPI launcher as rank {} of {}, but {}",
                launch.rank,
                launch.size,
                wgtrain::dist::BUILD_HINT
            )
        }
    }

    pub fn rank(&self) -> usize {
        self.launch.rank
    }

    /// The replicas of a training run across the job.
    pub fn replicas(&self) -> Result<Box<dyn Replicas>> {
        #[cfg(feature = "mpi")]
        {
            Ok(Box::new(self.mpi.replicas()))
        }
        #[cfg(not(feature = "mpi"))]
        {
            anyhow::bail!("{}", wgtrain::dist::BUILD_HINT)
        }
    }

    /// Say what failed on this rank and end every rank of the job.
    pub fn fail(&self, e: &anyhow::Error) -> ! {
        eprintln!("error: rank {} of {}: {e:#}", self.launch.rank, self.launch.size);
        #[cfg(feature = "mpi")]
        self.mpi.abort(1);
        #[cfg(not(feature = "mpi"))]
        std::process::exit(1)
    }
}
