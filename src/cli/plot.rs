//! Loss and accuracy curves as SVG (plotters).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use wgtrain::train::History;

/// Draw `series` (name, per-epoch values; a missing value ends that series) against epochs.
fn curves(path: &Path, title: &str, series: &[(&str, Vec<Option<f32>>)]) -> Result<()> {
    let epochs = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(1);
    let values = series.iter().flat_map(|(_, v)| v.iter().flatten().copied()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(1f32..(epochs as f32).max(2.0), (lo - pad)..(hi + pad))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(epochs.min(12))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (i, (name, v)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = v.iter().enumerate().filter_map(|(e, y)| y.map(|y| ((e + 1) as f32, y)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// `loss.svg` and `accuracy.svg` for a run's history.
pub fn history(h: &History, loss_path: &Path, accuracy_path: &Path) -> Result<()> {
    let col = |f: fn(&wgtrain::train::EpochRecord) -> Option<f32>| h.epochs.iter().map(f).collect::<Vec<_>>();
    curves(loss_path, "loss", &[("train", col(|r| Some(r.loss))), ("validation", col(|r| r.val_loss))])?;
    curves(accuracy_path, "accuracy", &[("train", col(|r| Some(r.accuracy))), ("validation", col(|r| r.val_accuracy))])
}
