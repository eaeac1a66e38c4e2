//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header — two zero
//! bytes, a type code (0x08 = u8), the number of dimensions — then each dimension as a u32,
//! then the payload. Files may be gzip-compressed (detected by the gzip magic bytes).

use std::path::Path;

use crate::error::{Error, Result};

/// An n-dimensional u8 array read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

fn corrupt(path: &Path, problem: impl Into<String>) -> Error {
    Error::DataCorrupt { path: path.display().to_string(), problem: problem.into() }
}

/// Read a u8 IDX file, raw or gzip-compressed.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = super::read_file(path, "IDX file", "Run scripts/fetch-data.sh to fetch the datasets.")?;
    parse_idx(&bytes).map_err(|problem| corrupt(path, problem))
}

/// Parse IDX bytes; the error says what is wrong.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!("{} bytes is too short for an IDX header", bytes.len()));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!("wrong magic number: starts {:02x} {:02x}, an IDX file starts 00 00", bytes[0], bytes[1]));
    }
    if bytes[2] != 0x08 {
        return Err(format!("element type 0x{:02x} is not supported (only 0x08, unsigned bytes)", bytes[2]));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        return Err(format!("header declares {ndims} dimensions but the file has {} bytes", bytes.len()));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize)
        .collect();
    let dims_text = || dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    let want = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let Some(want) = want else {
        return Err(format!("dimensions {} multiply past any file size (a damaged header)", dims_text()));
    };
    let got = bytes.len() - header;
    if got != want {
        let dims_text = dims_text();
        let how = if got < want { "truncated" } else { "too long" };
        return Err(format!("payload {how}: dimensions {dims_text} need {want} bytes, found {got}"));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}
