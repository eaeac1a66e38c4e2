//! CSV text as numbers: one row per line, comma-separated, every field a finite number. A
//! first line is a header only when none of its fields is a number; a line mixing numbers and
//! words is an error, never silently skipped.

use std::path::Path;

use crate::error::{Error, Result};

/// The text of `path`, gunzipped when it starts with the gzip magic bytes.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes =
        super::read_file(path, "data file", "Check the path, or run scripts/fetch-data.sh for the bundled datasets.")?;
    String::from_utf8(bytes)
        .map_err(|_| Error::DataCorrupt { path: path.display().to_string(), problem: "not UTF-8 text".into() })
}

/// A field shown in an error: at most 24 characters of it.
fn shown(field: &str) -> String {
    let cut: String = field.chars().take(24).collect();
    if cut.len() < field.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The lines of `text` that hold data, as (1-based line number, values): blank lines and a
/// header are left out. The error names the line and field and what is wrong with it.
pub fn rows(text: &str) -> std::result::Result<Vec<(usize, Vec<f32>)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Vec<Option<f32>> = fields.iter().map(|f| f.parse::<f32>().ok()).collect();
        if n == 0 && parsed.iter().all(Option::is_none) {
            continue; // a header: names, no numbers
        }
        let mut values = Vec::with_capacity(fields.len());
        for (i, (field, value)) in fields.iter().zip(&parsed).enumerate() {
            match value {
                Some(v) if v.is_finite() => values.push(*v),
                Some(_) => {
                    return Err(format!(
                        "line {}, field {}: {} is not a finite number; remove the row or fill in a value",
                        n + 1,
                        i + 1,
                        shown(field)
                    ))
                }
                None => return Err(format!("line {}, field {}: {} is not a number", n + 1, i + 1, shown(field))),
            }
        }
        out.push((n + 1, values));
    }
    Ok(out)
}
