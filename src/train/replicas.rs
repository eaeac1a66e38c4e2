//! Data parallelism as the training loop sees it: the other replicas of the run, reached
//! through a few collective operations (`dist` implements them over MPI). Each replica holds
//! the whole model, takes its own slice of every global batch, and adds its gradient to the
//! others' before the shared update, so N replicas take the steps one process would.

use crate::error::Result;

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
}

/// The rows `offset..offset + rows` of a global batch that replica `rank` of `size` takes:
/// contiguous, in rank order, the first `rows % size` replicas one row more. Returns (first
/// row, count); the count is 0 when the batch has fewer rows than there are replicas.
pub fn shard(offset: usize, rows: usize, rank: usize, size: usize) -> (usize, usize) {
    let (base, extra) = (rows / size, rows % size);
    let first = offset + rank * base + rank.min(extra);
    (first, base + usize::from(rank < extra))
}
