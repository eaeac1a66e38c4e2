//! The pieces of `wgtrain experiment` that are plain functions of numbers: what a run is
//! measured by (`measure`) and the answer a report gives (`answer`). Running the experiments
//! and writing their reports is the command line's job.

pub mod answer;
pub mod measure;
