//! Data-parallel training across processes: one replica per MPI rank, each on its own adapter,
//! launched with `mpirun`. The collective operations run over Open MPI through rsmpi (the
//! `mpi` cargo feature); without the feature a process started by a launcher is told how to
//! build with it.
//!
//! What the replicas share and how (gradients summed once per step, parameters broadcast at
//! the start, metrics summed at each epoch's end) is the training loop's (`train::Replicas`);
//! this module only moves the numbers.

#[cfg(feature = "mpi")]
mod world;

#[cfg(feature = "mpi")]
pub use world::{Mpi, MpiReplicas};

/// Where an MPI launcher placed this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub rank: usize,
    pub size: usize,
    /// The rank among the processes on this machine: which adapter to take.
    pub local_rank: usize,
}

/// The placement an MPI launcher gave this process (Open MPI's, MPICH's or a PMI's variables),
/// or None when it was started on its own.
pub fn launched() -> Option<Launch> {
    let var = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok()?.trim().parse::<usize>().ok());
    let size = var(&["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"])?;
    let rank = var(&["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]).unwrap_or(0);
    let local_rank = var(&["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"]).unwrap_or(rank);
    Some(Launch { rank, size, local_rank })
}

/// Whether this build can train across processes.
pub const AVAILABLE: bool = cfg!(feature = "mpi");

/// What to do when a launcher started a build without MPI.
pub const BUILD_HINT: &str = "this wgtrain was built without MPI; install Open MPI (apt-get install openmpi-bin \
     libopenmpi-dev libclang-dev) and build with: cargo build --release --features mpi";
