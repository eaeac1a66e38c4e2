//! The MPI world of a data-parallel run: initialization, the collectives the training loop
//! needs, and ending the whole job when one rank fails.

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

use crate::error::{Error, Result};
use crate::train::Replicas;

/// MPI, initialized for this process (finalized when dropped: keep it for the whole run).
pub struct Mpi {
    universe: Universe,
}

impl Mpi {
    /// Initialize MPI (once per process).
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize()
            .ok_or_else(|| Error::msg("MPI was initialized already in this process; initialize it once"))?;
        Ok(Self { universe })
    }

    pub fn rank(&self) -> usize {
        self.universe.world().rank() as usize
    }

    pub fn size(&self) -> usize {
        self.universe.world().size() as usize
    }

    /// The replicas of a run over every rank.
    pub fn replicas(&self) -> MpiReplicas {
        MpiReplicas { world: self.universe.world() }
    }

    /// End every rank of the job now, with `code` (after this rank failed: the others would
    /// otherwise wait in their next collective for ever).
    pub fn abort(&self, code: i32) -> ! {
        self.universe.world().abort(code)
    }
}

/// `train::Replicas` over MPI_COMM_WORLD.
pub struct MpiReplicas {
    world: SimpleCommunicator,
}

impl Replicas for MpiReplicas {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&mut self, data: &mut [f32]) -> Result<()> {
        let send = data.to_vec();
        self.world.all_reduce_into(&send[..], data, SystemOperation::sum());
        Ok(())
    }

    fn broadcast(&mut self, data: &mut [f32]) -> Result<()> {
        self.world.process_at_rank(0).broadcast_into(data);
        Ok(())
    }

    fn idle_barrier(&mut self) -> Result<()> {
        // Open MPI's blocking collectives poll without sleeping; poll a non-blocking barrier
        // every millisecond instead.
        let mut request = self.world.immediate_barrier();
        loop {
            match request.test() {
                Ok(_) => return Ok(()),
                Err(pending) => request = pending,
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn broadcast_bytes(&mut self, root: usize, data: &mut Vec<u8>) -> Result<()> {
        let root = self.world.process_at_rank(root as i32);
        let mut len = data.len() as u64;
        root.broadcast_into(&mut len);
        data.resize(len as usize, 0);
        root.broadcast_into(&mut data[..]);
        Ok(())
    }
}
