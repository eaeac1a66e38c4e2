//! `wgtrain data list|fetch`, and the progress a fetch shows on standard error.

use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use wgtrain::data::download;
use wgtrain::data::locate::{found, system_dir, Fetching};

/// A reporter for `wgtrain::data::locate::locate`: one line saying what is fetched from where,
/// then a progress bar per file.
pub fn reporter() -> impl FnMut(Fetching) {
    let mut bar: Option<ProgressBar> = None;
    let mut current = String::new();
    move |event| match event {
        Fetching::Start { name, into, about } => {
            eprintln!(
                "{name} is in neither {} nor {}: fetching it into {} ({about})",
                into.display(),
                system_dir().join(name).display(),
                into.display()
            );
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:24}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar = Some(b);
        }
        Fetching::Bytes { file, done, total } => {
            let Some(b) = &bar else { return };
            if file != current {
                current = file.to_string();
                b.reset();
                b.set_prefix(current.clone());
            }
            if let Some(t) = total {
                b.set_length(t);
            }
            b.set_position(done);
        }
        Fetching::End => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    }
}

/// `wgtrain data fetch NAME`: where the dataset is, fetched if no place has it.
pub fn locate(name: &str, data_dir: &Path) -> Result<PathBuf> {
    Ok(wgtrain::data::locate::fetch_verified(name, data_dir, &mut reporter())?)
}

/// `wgtrain data list`: each dataset, where it is, and where it comes from.
pub fn list(data_dir: &Path) -> String {
    let mut out = String::from("dataset        where                                       source\n");
    let row = |name: &str, place: String, source: &str| format!("{name:<14} {place:<43} {source}\n");
    out += &row("digits", "built in (1,797 8×8 images)".into(), "E. Alpaydin, C. Kaynak, UCI; CC BY 4.0");
    for remote in download::REMOTES {
        let place = match found(remote, data_dir) {
            Some(dir) => dir.display().to_string(),
            None => format!("not fetched ({} MB)", remote.files.iter().map(|f| f.size).sum::<u64>().div_ceil(1 << 20)),
        };
        out += &row(remote.name, place, remote.about);
    }
    out += &row("spirals", "generated".into(), "two interleaved spirals (Lang & Witbrock)");
    out
}
