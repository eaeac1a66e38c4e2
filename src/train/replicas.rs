//! Data parallelism as the training loop sees it: the other replicas of the run, reached
//! through a few collective operations (`dist` implements them over MPI). Each replica holds
//! the whole model, takes its own slice of every global batch, and adds its gradient to the
//! others' before the shared update, so N replicas take the steps one process would.

use crate::error::{Error, Result};

/// The replicas of a data-parallel run, this one among them.
pub trait Replicas {
    /// This replica's number, from 0; replica 0 writes the run's files.
    fn rank(&self) -> usize;
    /// How many replicas there are.
    fn size(&self) -> usize;
    /// Replace `data` by its sum over every replica (every replica gets the same sum).
    fn all_reduce_sum(&mut self, data: &mut [f32]) -> Result<()>;
    /// Replace `data` by replica 0's.
    fn broadcast(&mut self, data: &mut [f32]) -> Result<()>;
    /// Replace `data` by replica `root`'s bytes (any length).
    fn broadcast_bytes(&mut self, root: usize, data: &mut Vec<u8>) -> Result<()>;
    /// Wait until every replica reaches this point, sleeping rather than spinning: for waits
    /// that can be long (one replica finishing work the others have no share in), where a
    /// spinning wait would take a core from the replica doing the work.
    fn idle_barrier(&mut self) -> Result<()> {
        let mut nothing = [0.0f32];
        self.all_reduce_sum(&mut nothing)
    }
}

/// The rows `offset..offset + rows` of a global batch that replica `rank` of `size` takes:
/// contiguous, in rank order, the first `rows % size` replicas one row more. Returns (first
/// row, count); the count is 0 when the batch has fewer rows than there are replicas.
pub fn shard(offset: usize, rows: usize, rank: usize, size: usize) -> (usize, usize) {
    let (base, extra) = (rows / size, rows % size);
    let first = offset + rank * base + rank.min(extra);
    (first, base + usize::from(rank < extra))
}

/// Check that every replica runs what replica 0 runs, as `description` says (one fact a line:
/// the build, the resolved settings, a digest of the data). Every replica returns the same
/// verdict and, on a difference, the same sentence naming the first differing replica and
/// line (so whichever replica ends the job first, the message says what differs).
pub fn agree(r: &mut dyn Replicas, description: &str) -> Result<()> {
    let mine = description.to_string();
    let mut first = mine.clone().into_bytes();
    r.broadcast_bytes(0, &mut first)?;
    let zero = String::from_utf8_lossy(&first).into_owned();
    // Which replicas differ from replica 0: every replica learns the whole list.
    let mut differ = vec![0.0f32; r.size()];
    differ[r.rank()] = if zero != mine { 1.0 } else { 0.0 };
    r.all_reduce_sum(&mut differ)?;
    let Some(other) = differ.iter().position(|d| *d > 0.0) else { return Ok(()) };
    let mut theirs = mine.into_bytes();
    r.broadcast_bytes(other, &mut theirs)?;
    let theirs = String::from_utf8_lossy(&theirs).into_owned();
    let (there, here) = theirs
        .lines()
        .zip(zero.lines())
        .find(|(a, b)| a != b)
        .map_or(("(more lines)".to_string(), "(fewer lines)".to_string()), |(a, b)| (a.to_string(), b.to_string()));
    let count = differ.iter().filter(|d| **d > 0.0).count();
    Err(Error::msg(format!(
        "replica {other} runs something other than replica 0: `{there}` on replica {other}, `{here}` on replica 0 \
         ({count} replica(s) differ); every rank must be given the same command, config, data and wgtrain build"
    )))
}
