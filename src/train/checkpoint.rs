//! Checkpoints: a model's tensors, the optimizer's state tensors and the loop position in one
//! safetensors file, the architecture and configs as JSON in its metadata. Written atomically
//! (a temporary file in the same directory, synced, then renamed), so a crash or a full disk
//! never leaves a half-written checkpoint where a good one was. The metadata also holds a
//! SHA-256 of the metadata text and of every tensor's bytes, checked on load, so a damaged file
//! is refused rather than giving wrong predictions.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use super::history::History;
use super::config::{TrainConfig, TrainerState};
use super::trainer::Trainer;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::{ModelSpec, Precision, Sequential};
use crate::optim::{Optimizer, OptimizerConfig, OptimizerState};

/// Version of the metadata layout (2: with checksums).
pub const FORMAT: u32 = 2;
const META_KEY: &str = "wgtrain";
const SHA256_KEY: &str = "wgtrain.sha256";

/// The checksums stored beside the metadata.
#[derive(Debug, Serialize, Deserialize)]
struct Checksums {
    /// Of the metadata text stored under `META_KEY`.
    meta: String,
    /// Of each tensor's little-endian bytes, by name.
    tensors: std::collections::BTreeMap<String, String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a checkpoint says besides its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: u32,
    pub model: ModelSpec,
    pub model_seed: u64,
    pub optimizer: Option<OptimizerConfig>,
    pub optimizer_state: Option<OptimizerState>,
    pub train: Option<TrainConfig>,
    pub trainer: Option<TrainerState>,
    pub history: Option<History>,
    /// Whatever the application needs to use the model again (the command line keeps its
    /// run config and input transform here).
    #[serde(default)]
    pub extra: std::collections::BTreeMap<String, String>,
}

/// A checkpoint read from disk.
pub struct Loaded {
    pub meta: CheckpointMeta,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    path: String,
}

fn problem(path: &Path, p: impl Into<String>) -> Error {
    Error::Checkpoint { path: path.display().to_string(), problem: p.into() }
}

/// Save the model (and, when given, the optimizer and the loop) to `path`, atomically.
pub fn save(
    path: &Path,
    b: &mut dyn Backend,
    model: &Sequential,
    opt: Option<&Optimizer>,
    trainer: Option<&Trainer>,
) -> Result<()> {
    save_with(path, b, model, opt, trainer, Default::default())
}

/// As `save`, with application metadata stored beside the architecture.
pub fn save_with(
    path: &Path,
    b: &mut dyn Backend,
    model: &Sequential,
    opt: Option<&Optimizer>,
    trainer: Option<&Trainer>,
    extra: std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let mut named: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (name, t) in model.named_tensors() {
        named.push((format!("model.{name}"), vec![t.rows, t.cols], b.read(t)?));
    }
    if let Some(opt) = opt {
        for p in model.params() {
            if let Some(mask) = opt.mask_of(p) {
                named.push((format!("mask.{}", p.name), vec![mask.rows, mask.cols], b.read(mask)?));
            }
            for (slot, s) in p.state.iter().enumerate() {
                if let Some(s) = s {
                    named.push((format!("optim.{}.{slot}", p.name), vec![s.rows, s.cols], b.read(*s)?));
                }
            }
        }
    }
    if let Some(tr) = trainer {
        let names: HashMap<_, _> = model.named_tensors().into_iter().map(|(n, t)| (t, n)).collect();
        for (live, copy) in tr.best_snapshot() {
            named.push((format!("best.{}", names[live]), vec![copy.rows, copy.cols], b.read(*copy)?));
        }
    }
    let meta = CheckpointMeta {
        format: FORMAT,
        model: model.spec().clone(),
        model_seed: model.seed(),
        optimizer: opt.map(|o| o.config.clone()),
        optimizer_state: opt.map(|o| o.state),
        train: trainer.map(|t| t.config().clone()),
        trainer: trainer.map(|t| *t.state()),
        history: trainer.map(|t| t.history().clone()),
        extra,
    };
    let json = serde_json::to_string(&meta).map_err(|e| problem(path, format!("metadata does not serialize: {e}")))?;
    let bytes: Vec<Vec<u8>> = named.iter().map(|(_, _, v)| bytemuck::cast_slice(v).to_vec()).collect();
    let views: Vec<(String, TensorView)> = named
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data).expect("shape and byte count agree");
            (name.clone(), view)
        })
        .collect();
    let sums = Checksums {
        meta: sha256_hex(json.as_bytes()),
        tensors: named.iter().zip(&bytes).map(|((name, _, _), data)| (name.clone(), sha256_hex(data))).collect(),
    };
    let sums = serde_json::to_string(&sums).map_err(|e| problem(path, format!("checksums do not serialize: {e}")))?;
    let metadata = Some(HashMap::from([(META_KEY.to_string(), json), (SHA256_KEY.to_string(), sums)]));
    let serialized = safetensors::serialize(views, metadata).map_err(|e| problem(path, e.to_string()))?;
    write_atomically(path, &serialized)
}

/// Write `bytes` to `path` atomically (`files::write`: symlinks followed, devices and FIFOs
/// written into, never replaced).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Read and check a checkpoint.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = crate::files::read(path, crate::files::bound::DATA).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(path, "not found"),
        _ => Error::io(path, e),
    })?;
    parse(&bytes, path)
}

/// Check and decode checkpoint bytes; `path` names them in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Loaded> {
    let parsed = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| problem(path, format!("not a readable safetensors file (corrupt or truncated?): {e}")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| problem(path, e.to_string()))?;
    let stored = header.metadata().as_ref();
    let json = stored.and_then(|m| m.get(META_KEY)).ok_or_else(|| problem(path, "has no wgtrain metadata (not written by wgtrain)"))?;
    let sums = stored.and_then(|m| m.get(SHA256_KEY)).ok_or_else(|| {
        problem(path, "has no checksums: written by an older wgtrain (format 1) or altered; retrain to get a checked file")
    })?;
    let sums: Checksums =
        serde_json::from_str(sums).map_err(|e| problem(path, format!("checksums do not parse: {e}")))?;
    if sha256_hex(json.as_bytes()) != sums.meta {
        return Err(problem(path, "the metadata does not match its checksum: the file is damaged or was edited"));
    }
    let meta: CheckpointMeta =
        serde_json::from_str(json).map_err(|e| problem(path, format!("metadata does not parse: {e}")))?;
    if meta.format != FORMAT {
        return Err(problem(path, format!("format {} but this wgtrain reads format {FORMAT}", meta.format)));
    }
    let mut tensors = HashMap::new();
    for (name, view) in parsed.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(problem(path, format!("tensor {name} is {:?}, expected F32", view.dtype())));
        }
        match sums.tensors.get(name) {
            Some(sum) if *sum == sha256_hex(view.data()) => {}
            Some(_) => {
                return Err(problem(path, format!("tensor {name} does not match its checksum: the file is damaged")))
            }
            None => return Err(problem(path, format!("tensor {name} has no checksum: the file was altered"))),
        }
        let values: Vec<f32> = bytemuck::pod_collect_to_vec(view.data());
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(problem(
                path,
                format!("tensor {name} holds {} at index {i}; a model with non-finite weights cannot be used", values[i]),
            ));
        }
        tensors.insert(name.to_string(), (view.shape().to_vec(), values));
    }
    if let Some(missing) = sums.tensors.keys().find(|n| !tensors.contains_key(*n)) {
        return Err(problem(path, format!("tensor {missing} is missing: the file was altered")));
    }
    check_dense_shapes(&meta.model, &tensors).map_err(|p| problem(path, p))?;
    Ok(Loaded { meta, tensors, path: path.display().to_string() })
}

/// Every Dense layer of `spec` has its weights and bias in the file with the shapes the spec
/// says, checked before a model is built, so sizes in the metadata never drive an allocation
/// the file's own tensors do not back.
fn check_dense_shapes(spec: &ModelSpec, tensors: &HashMap<String, (Vec<usize>, Vec<f32>)>) -> std::result::Result<(), String> {
    for (layer, inputs, units) in spec.weight_shapes() {
        let i = layer - 1;
        let bias = spec.layers[i].weights().is_some_and(|(_, bias)| bias);
        let weights = (format!("model.layers.{i}.w"), [inputs, units]);
        let biases = bias.then(|| (format!("model.layers.{i}.b"), [1, units]));
        for (name, shape) in std::iter::once(weights).chain(biases) {
            match tensors.get(&name) {
                Some((s, _)) if s[..] == shape[..] => {}
                Some((s, _)) => return Err(format!("tensor {name} is {s:?} but the metadata says {shape:?}")),
                None => return Err(format!("has no tensor {name} for layer {layer} of the metadata")),
            }
        }
    }
    Ok(())
}

impl Loaded {
    /// The names of every tensor the checkpoint holds (`model.…`, `optim.…`, `best.…`, `mask.…`).
    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    /// A stored tensor's shape and values, by name (`model.layers.0.w`, `mask.layers.0.w`, …).
    pub fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors.get(name).map(|(s, v)| (s.as_slice(), v.as_slice()))
    }

    fn get(&self, name: &str, shape: (usize, usize)) -> Result<&[f32]> {
        let err = |p: String| Error::Checkpoint { path: self.path.clone(), problem: p };
        let (s, v) =
            self.tensors.get(name).ok_or_else(|| err(format!("has no tensor {name}: a different architecture?")))?;
        if s != &[shape.0, shape.1] {
            return Err(err(format!(
                "tensor {name} is {s:?} but the model needs [{}, {}]: a different architecture?",
                shape.0, shape.1
            )));
        }
        Ok(v)
    }

    /// The model the checkpoint describes, with its saved weights and statistics.
    pub fn build_model(&self, b: &mut dyn Backend) -> Result<Sequential> {
        self.build_model_in(b, Precision::F32)
    }

    /// `build_model`, the model training and inferring in `precision`.
    pub fn build_model_in(&self, b: &mut dyn Backend, precision: Precision) -> Result<Sequential> {
        let mut model = Sequential::with_precision(b, &self.meta.model, self.meta.model_seed, precision)?;
        self.restore_model(b, &mut model)?;
        Ok(model)
    }

    /// Write the saved weights into `model`, which must have the same architecture.
    pub fn restore_model(&self, b: &mut dyn Backend, model: &mut Sequential) -> Result<()> {
        for (name, t) in model.named_tensors() {
            b.write(t, self.get(&format!("model.{name}"), t.shape())?)?;
        }
        model.weights_changed();
        Ok(())
    }

    /// Restore the optimizer's configuration, counters and state tensors for `model`.
    pub fn restore_optimizer(&self, b: &mut dyn Backend, model: &mut Sequential) -> Result<Optimizer> {
        let err = |p: &str| Error::Checkpoint { path: self.path.clone(), problem: p.into() };
        let config = self.meta.optimizer.clone().ok_or_else(|| err("holds no optimizer (saved without one)"))?;
        let mut opt = Optimizer::new(b, config)?;
        opt.state = self.meta.optimizer_state.unwrap_or_default();
        opt.attach(b, model.params_mut())?;
        for p in model.params() {
            if self.tensors.contains_key(&format!("mask.{}", p.name)) {
                let mask = self.get(&format!("mask.{}", p.name), p.value.shape())?.to_vec();
                opt.set_mask(b, p, &mask)?;
            }
            for (slot, s) in p.state.iter().enumerate() {
                if let Some(s) = s {
                    b.write(*s, self.get(&format!("optim.{}.{slot}", p.name), s.shape())?)?;
                }
            }
        }
        Ok(opt)
    }

    /// Restore the training loop (position, early-stopping state and copies, history).
    pub fn restore_trainer(&self, b: &mut dyn Backend, model: &Sequential) -> Result<Trainer> {
        let err = |p: &str| Error::Checkpoint { path: self.path.clone(), problem: p.into() };
        let config = self.meta.train.clone().ok_or_else(|| err("holds no training loop (saved without one)"))?;
        let state = self.meta.trainer.unwrap_or_default();
        let mut trainer = Trainer::restored(b, config, state, self.meta.history.clone().unwrap_or_default())?;
        let mut live = Vec::new();
        let mut values = Vec::new();
        for (name, t) in model.named_tensors() {
            if self.tensors.contains_key(&format!("best.{name}")) {
                values.push(self.get(&format!("best.{name}"), t.shape())?.to_vec());
                live.push(t);
            }
        }
        trainer.restore_snapshot(b, &live, &values)?;
        Ok(trainer)
    }
}
