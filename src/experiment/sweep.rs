//! An experiment as a sweep of units that survive: each unit (a variant with a seed, or a
//! measurement only the leader takes) is looked up in the ledger before it runs and recorded
//! the moment it finishes; under MPI the units still to run are spread over the ranks.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::Backend;
use crate::error::Result;
use crate::run::output::Start;

use super::ledger::{Ledger, Mode};
use super::{lab, Ctx, Scale};

/// What an experiment's output already holds, and what to do with it.
pub struct Sweep {
    start: Start,
    name: &'static str,
    pub(super) ledger: Ledger,
}

impl Sweep {
    /// A sweep that starts as `start` says (`Rebuild` measures nothing: every unit must be
    /// recorded already).
    pub fn new(start: Start) -> Self {
        let mode = if start == Start::Rebuild { Mode::Replay } else { Mode::Record };
        Self { start, name: "", ledger: Ledger::new(Path::new(""), mode) }
    }

    pub fn start(&self) -> Start {
        self.start
    }

    /// Point the sweep at experiment `name` writing into `out`.
    pub(super) fn open(&mut self, name: &'static str, out: &Path) {
        self.name = name;
        self.ledger = Ledger::new(out, self.ledger.mode());
    }

    /// The full description of a unit: the experiment and its scale (not its seed count,
    /// so that more seeds reuse the units of fewer), then what the unit says of itself.
    fn key(&self, scale: &Scale, detail: &str) -> String {
        format!("{} | quick {} | epochs {} | train rows {:?} | {detail}", self.name, scale.quick, scale.epochs, scale.train_rows)
    }

    /// The experiment's name (empty before `open`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

impl Ctx<'_> {
    /// Run `work` on every unit not recorded yet, spread over the pool, recording each result
    /// as it finishes (the leader records the other ranks' when they arrive); returns every
    /// unit's result in unit order, recorded or new, on every rank. `name` gives each unit's
    /// label (for messages) and the description of everything its result depends on.
    pub fn map<U, R>(
        &mut self,
        units: &[U],
        name: impl Fn(&U) -> (String, String),
        mut work: impl FnMut(&mut dyn Backend, &U, &Path) -> Result<R>,
    ) -> Result<Vec<R>>
    where
        R: Serialize + DeserializeOwned,
    {
        let named: Vec<(String, String)> = units
            .iter()
            .map(|u| {
                let (label, detail) = name(u);
                let key = self.sweep.key(&self.scale, &detail);
                (label, key)
            })
            .collect();
        let leader = self.pool.leader();
        let found: Vec<Option<Vec<u8>>> = match leader {
            true => named.iter().map(|(_, key)| self.sweep.ledger.raw(key)).collect::<Result<_>>()?,
            false => vec![None; units.len()],
        };
        let found = self.pool.from_leader(found)?;
        let mut results: Vec<Option<R>> = Vec::with_capacity(units.len());
        for (bytes, (_, key)) in found.iter().zip(&named) {
            results.push(bytes.as_ref().map(|b| self.sweep.ledger.decode(b, key)).transpose()?);
        }
        let todo: Vec<usize> = (0..units.len()).filter(|&i| results[i].is_none()).collect();
        if let Some(&i) = todo.first() {
            self.sweep.ledger.missing(&named[i].0)?;
        }
        let ledger = &mut self.sweep.ledger;
        let fresh = self.pool.map(&mut *self.b, &self.out, &todo, |b, &i, out| {
            let result = work(b, &units[i], out)?;
            if leader {
                ledger.record(&named[i].1, &result)?;
            }
            Ok(result)
        })?;
        for (j, (&i, result)) in todo.iter().zip(fresh).enumerate() {
            if leader && self.pool.owner(j) != 0 {
                self.sweep.ledger.record(&named[i].1, &result)?;
            }
            results[i] = Some(result);
        }
        Ok(results.into_iter().map(|r| r.expect("every unit was recorded or has run")).collect())
    }

    /// A measurement taken once, here (the leader's timings on one adapter, work on a trained
    /// model): its recorded result, or `work`'s, recorded. `label` names it in messages;
    /// `detail` describes what its result depends on.
    pub fn once<R>(&mut self, label: &str, detail: &str, work: impl FnOnce(&mut dyn Backend, &Path) -> Result<R>) -> Result<R>
    where
        R: Serialize + DeserializeOwned,
    {
        let key = self.sweep.key(&self.scale, &format!("{label} | {detail}"));
        if let Some(result) = self.sweep.ledger.get(&key)? {
            return Ok(result);
        }
        self.sweep.ledger.missing(label)?;
        let result = work(&mut *self.b, &self.out)?;
        self.sweep.ledger.record(&key, &result)?;
        Ok(result)
    }

    /// Train every (variant, seed) pair, spread over the pool; the runs come back grouped by
    /// variant, in seed order.
    pub fn train_all(&mut self, data: &lab::Data, variants: &[lab::Variant], seeds: &[u64]) -> Result<Vec<Vec<lab::Run>>> {
        self.train_each(variants.iter().map(|v| (data, v)).collect(), seeds)
    }

    /// As `train_all`, each variant on its own data.
    pub fn train_each(&mut self, variants: Vec<(&lab::Data, &lab::Variant)>, seeds: &[u64]) -> Result<Vec<Vec<lab::Run>>> {
        let units: Vec<(usize, u64)> = (0..variants.len()).flat_map(|v| seeds.iter().map(move |&s| (v, s))).collect();
        let runs = self.map(
            &units,
            |&(v, seed)| {
                let (data, variant) = variants[v];
                (format!("{} seed {seed}", variant.name), format!("train | {variant:?} | {} | seed {seed}", data.key()))
            },
            |b, &(v, seed), out| {
                let (data, variant) = variants[v];
                Ok(lab::train(b, data, variant, seed, out)?.run)
            },
        )?;
        let mut grouped: Vec<Vec<lab::Run>> = variants.iter().map(|_| Vec::new()).collect();
        for ((v, _), run) in units.iter().zip(runs) {
            grouped[*v].push(run);
        }
        Ok(grouped)
    }
}
