//! Datasets in memory: IDX (MNIST family), CSV, the UCI digits, synthetic sets; splits and
//! standardization; and `DeviceData`, a dataset uploaded to a backend for a whole run.

pub mod csv;
mod dataset;
mod cifar;
pub mod download;
mod device;
pub mod idx;
pub mod locate;
pub mod sources;

pub use dataset::{Dataset, Features, Standardizer};
pub use device::DeviceData;

/// The bytes of a data file, gunzipped when they start with the gzip magic bytes (at most
/// `limits::MAX_DECOMPRESSED_BYTES`). A missing file is `DataMissing` with `hint`.
fn read_file(path: &std::path::Path, what: &str, hint: &str) -> crate::error::Result<Vec<u8>> {
    let raw = crate::files::read(path, crate::files::bound::DATA).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => crate::error::Error::DataMissing {
            what: what.into(),
            path: path.display().to_string(),
            hint: hint.into(),
        },
        _ => crate::error::Error::io(path, e),
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        crate::limits::read_decompressed(flate2::read::GzDecoder::new(&raw[..]), path)
    } else {
        Ok(raw)
    }
}
