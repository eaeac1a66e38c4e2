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
    #[error("{}{cause}", io_prefix(.path))]
    Io { path: String, cause: std::io::Error },

    /// The device reported an error while running recorded work.
    #[error("GPU error during {op}: {message}")]
    Device { op: &'static str, message: String },

    /// The training loss stopped being finite in `epoch`. `kept`: the last good epoch and the
    /// run directory its model was written to; None when no epoch had completed (nothing was
    /// written).
    #[error("training diverged: the loss became {loss:.4e} in epoch {epoch}{}. {advice}", kept_text(.kept))]
    Diverged { epoch: usize, loss: f32, kept: Option<(usize, String)>, advice: String },

    /// A run was asked to stop part-way through epoch `epoch`; every epoch before it is saved
    /// in the resume directory `resume`, which continues it.
    #[error(
        "interrupted in epoch {epoch} (step {step} of {steps}); the run up to the end of epoch {done} is saved in \
         {resume}",
        done = epoch - 1
    )]
    RunInterrupted { epoch: usize, step: usize, steps: usize, resume: String },

    /// `cause`, met while doing `context`. The cause is part of the message (not a `source`)
    /// for the same reason as `Io`'s.
    #[error("{context}: {cause}")]
    Context { context: String, cause: Box<Error> },

    /// A request a run cannot carry out, in a sentence that says what to do instead.
    #[error("{0}")]
    Msg(String),
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

    /// A refusal in one sentence.
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Msg(message.into())
    }

    /// The operating system's words for why an I/O failed ("No space left on device (os error
    /// 28)") without the path it failed on (often a temporary one); the whole message when no
    /// I/O error is inside.
    pub fn os_cause(&self) -> String {
        match self {
            Error::Io { cause, .. } => cause.to_string(),
            Error::Context { cause, .. } => cause.os_cause(),
            other => other.to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    /// An I/O error whose path the context around it names; prefer `Error::io` where no
    /// context does.
    fn from(e: std::io::Error) -> Self {
        Error::Io { path: String::new(), cause: e }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Msg(format!("JSON: {e}"))
    }
}

impl From<toml::de::Error> for Error {
    fn from(e: toml::de::Error) -> Self {
        Error::Msg(format!("TOML: {e}"))
    }
}

fn kept_text(kept: &Option<(usize, String)>) -> String {
    match kept {
        None => ", before any epoch completed; nothing was written".into(),
        Some((epoch, dir)) => format!("; the model of epoch {epoch} (the last good one) is in {dir}"),
    }
}

fn io_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// `context` and `with_context` for results and options, as anyhow has them, producing the
/// library's `Error::Context` (or `Error::Msg` for a missing value).
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context { context: context.into(), cause: Box::new(e.into()) })
    }

    fn with_context<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context { context: context().into(), cause: Box::new(e.into()) })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.ok_or_else(|| Error::Msg(context.into()))
    }

    fn with_context<S: Into<String>>(self, context: impl FnOnce() -> S) -> Result<T> {
        self.ok_or_else(|| Error::Msg(context().into()))
    }
}

/// Return early with `Error::Msg(format!(...))`.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Msg(format!($($arg)*)))
    };
}
