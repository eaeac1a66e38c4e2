//! CSV text as numbers (read by the `csv` crate, so quoted fields work; LF or CRLF lines):
//! one row per record, every field a finite number. A first line is a header only when none of
//! its fields is a number; a line mixing numbers and words is an error, never silently skipped.

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
    // One reader over the whole text, line endings made LF first: the reader's byte positions
    // drift on CRLF, and line numbers come from those positions (counting every line, blank
    // ones too, as an editor does).
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let (mut seen, mut line) = (0usize, 1usize);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(format!("line {line}: not readable as CSV: {e}")),
        }
        let mut at = record.position().map_or(seen, |p| p.byte() as usize).clamp(seen, text.len());
        // A record after blank lines is placed at the first of them: step over them.
        while text.as_bytes().get(at) == Some(&b'\n') {
            at += 1;
        }
        line += text.as_bytes()[seen..at].iter().filter(|b| **b == b'\n').count();
        seen = at;
        let n = line;
        if record.iter().all(str::is_empty) {
            continue; // a blank line
        }
        let parsed: Vec<Option<f32>> = record.iter().map(|f| f.parse::<f32>().ok()).collect();
        if n == 1 && parsed.iter().all(Option::is_none) {
            continue; // a header: names, no numbers
        }
        let mut values = Vec::with_capacity(record.len());
        for (i, (field, value)) in record.iter().zip(&parsed).enumerate() {
            match value {
                Some(v) if v.is_finite() => values.push(*v),
                Some(_) => {
                    return Err(format!(
                        "line {n}, field {}: {} is not a finite number; remove the row or fill in a value",
                        i + 1,
                        shown(field)
                    ))
                }
                None => return Err(format!("line {n}, field {}: {} is not a number", i + 1, shown(field))),
            }
        }
        out.push((n, values));
    }
    Ok(out)
}
