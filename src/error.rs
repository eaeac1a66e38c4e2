//! The library's one error type. Every variant names the op or step that failed and what to do.

/// Result alias used across the library.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in wgtrain, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter matched the request (or none exists on this machine).
    #[error("no GPU adapter found (backends tried: {backends}). {hint}")]
    NoAdapter { backends: String, hint: String },

    /// `WGPU_ADAPTER_NAME` was set but matched none of the adapters present.
    #[error(
        "no adapter name contains {wanted:?} (from WGPU_ADAPTER_NAME); adapters present: {available}. \
         Unset WGPU_ADAPTER_NAME or set it to part of one of those names"
    )]
    AdapterNotFound { wanted: String, available: String },

    /// `WGPU_POWER_PREF` or `WGPU_BACKEND` held something wgpu does not understand.
    #[error("{var}={value:?} is not understood; expected {expected}")]
    BadEnv { var: &'static str, value: String, expected: &'static str },

    /// The adapter refused to open a device.
    #[error("could not open a device on adapter {adapter:?}: {message}")]
    RequestDevice { adapter: String, message: String },

    /// A WGSL module or pipeline failed validation; `op` names the kernel.
    #[error("kernel `{op}` failed to compile: {message}")]
    ShaderCompile { op: String, message: String },

    /// Operand shapes do not fit the op.
    #[error("{op}: shape mismatch: expected {expected}, got {got}")]
    ShapeMismatch { op: &'static str, expected: String, got: String },

    /// A request exceeds one of the adapter's limits.
    #[error("{op}: {what} is {needed} but the adapter's {limit_name} is {limit}; use smaller batches or layers")]
    LimitExceeded { op: &'static str, what: String, needed: u64, limit_name: &'static str, limit: u64 },

    /// A size from outside (flags, data, a checkpoint) is above what wgtrain accepts.
    #[error("{what} is {value}, above the limit of {limit}; {fix}")]
    TooLarge { what: String, value: String, limit: String, fix: String },

    /// Training was asked to stop (a signal, or a callback) part-way through an epoch.
    #[error("interrupted in epoch {epoch} after step {step} of {steps}")]
    Interrupted { epoch: usize, step: usize, steps: usize },

    /// A tensor handle that this backend did not create, or that was freed.
    #[error("{op}: tensor #{id} is not live on this backend (freed, or created by another backend)")]
    UnknownTensor { op: &'static str, id: u32 },

    /// A data file or directory is missing.
    #[error("{what} not found at {path}. {hint}")]
    DataMissing { what: String, path: String, hint: String },

    /// A dataset could not be fetched from any of its sources; `tried` says what each gave.
    #[error("could not fetch {what}; tried:\n{tried}\n{hint}", tried = tried.iter().map(|t| format!("  - {t}")).collect::<Vec<_>>().join("\n"))]
    Download { what: String, tried: Vec<String>, hint: String },

    /// A data file exists but is not what it should be.
    #[error("{path}: {problem}")]
    DataCorrupt { path: String, problem: String },

    /// A configuration value is unknown or out of range.
    #[error("{what}: {problem}")]
    Config { what: String, problem: String },

    /// A checkpoint could not be written or read, or does not fit the model.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint { path: String, problem: String },

    /// Reading or writing a file failed. The cause is part of the message rather than a
    /// `source`, so error reports that print the chain do not repeat it.
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },

    /// The device reported an error while running recorded work.
    #[error("GPU error during {op}: {message}")]
    Device { op: &'static str, message: String },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), cause: source }
    }

    /// A configuration error.
    pub fn config(what: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Config { what: what.into(), problem: problem.into() }
    }
}
