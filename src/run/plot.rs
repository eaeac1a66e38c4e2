//! Curves as SVG (plotters): a run's loss, accuracy and learning rate, and several runs'
//! curves overlaid (`wgtrain plot`). Okabe–Ito colours with distinct markers, so the series
//! stay apart for colour-blind readers and in greyscale; axes say what they measure.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::fail;
use plotters::prelude::*;
use crate::train::{EpochRecord, History};

/// Okabe & Ito's colour-blind-safe palette (blue, vermillion, bluish green, orange, sky blue,
/// reddish purple, yellow, black).
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x00, 0x00),
];

/// One curve: a name and a value per epoch (None where there is none).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f32>>,
}

/// A figure: title, y-axis description, curves, and an epoch to mark (the best or restored one).
pub struct Figure<'a> {
    pub title: &'a str,
    /// What the x axis counts, from 1 ("epoch" for run curves).
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub series: Vec<Series>,
    pub mark: Option<(usize, &'a str)>,
    pub log_y: bool,
}

fn marker<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf32, plotters::coord::types::RangedCoordf32>>,
    i: usize,
    points: &[(f32, f32)],
    color: RGBColor,
) -> Result<()> {
    let style = color.filled();
    let drawn = match i % 3 {
        0 => chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, style))).map(|_| ()),
        1 => chart.draw_series(points.iter().map(|&p| TriangleMarker::new(p, 5, style))).map(|_| ()),
        _ => chart.draw_series(points.iter().map(|&p| Cross::new(p, 4, color.stroke_width(2)))).map(|_| ()),
    };
    drawn.map_err(|e| Error::msg(e.to_string()))
}

/// The series marker as a polygon around (9, 0), for the legend: an octagon (circle), a
/// triangle, or an X.
fn legend_marker(i: usize) -> Vec<(i32, i32)> {
    let at = |pts: &[(f32, f32)]| pts.iter().map(|&(x, y)| (9 + x.round() as i32, y.round() as i32)).collect();
    match i % 3 {
        0 => at(&(0..8).map(|k| {
            let a = k as f32 * std::f32::consts::FRAC_PI_4;
            (4.0 * a.cos(), 4.0 * a.sin())
        }).collect::<Vec<_>>()),
        1 => at(&[(0.0, -5.0), (4.5, 3.0), (-4.5, 3.0)]),
        _ => at(&[(-4.0, -5.0), (0.0, -1.0), (4.0, -5.0), (5.0, -4.0), (1.0, 0.0), (5.0, 4.0), (4.0, 5.0), (0.0, 1.0), (-4.0, 5.0), (-5.0, 4.0), (-1.0, 0.0), (-5.0, -4.0)]),
    }
}

/// A log axis' tick value, with enough digits to tell neighbouring ticks apart.
pub fn log_label(v: f32) -> String {
    if (0.01..1000.0).contains(&v) {
        format!("{:.3}", v).trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.2e}")
    }
}

/// Draw `fig` to `path` (written as every output file is: `files::write`).
pub fn draw(path: &Path, fig: &Figure) -> Result<()> {
    let mut svg = String::new();
    render(&mut svg, fig)?;
    crate::files::write(path, svg.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Draw `fig` as SVG text into `svg`.
fn render(svg: &mut String, fig: &Figure) -> Result<()> {
    let epochs = fig.series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(1);
    let scale = |v: f32| if fig.log_y { v.max(1e-12).log10() } else { v };
    let finite = fig.series.iter().flat_map(|s| s.values.iter().flatten().copied()).filter(|v| v.is_finite());
    let (lo, hi) = finite.map(scale).fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let root = SVGBackend::with_string(svg, (760, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| Error::msg(e.to_string()))?;
    // One epoch still gets an x range, so its points are drawn.
    let mut chart = ChartBuilder::on(&root)
        .caption(fig.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5f32..epochs as f32 + 0.5, (lo - pad)..(hi + pad))
        .map_err(|e| Error::msg(e.to_string()))?;
    let log_y = fig.log_y;
    chart
        .configure_mesh()
        .x_desc(fig.x_desc)
        .y_desc(fig.y_desc)
        .x_labels(epochs.min(12) + 1)
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-3 && *x >= 1.0 { format!("{}", x.round() as i64) } else { String::new() })
        .y_label_formatter(&|y| if log_y { log_label(10f32.powf(*y)) } else { format!("{y:.3}") })
        .draw()
        .map_err(|e| Error::msg(e.to_string()))?;
    if let Some((epoch, label)) = fig.mark {
        let grey = RGBColor(0x80, 0x80, 0x80);
        let x = epoch as f32;
        chart
            .draw_series(DashedLineSeries::new(vec![(x, lo - pad), (x, hi + pad)], 6, 4, grey.stroke_width(1)))
            .map_err(|e| Error::msg(e.to_string()))?
            .label(label.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey.stroke_width(1)));
    }
    for (i, s) in fig.series.iter().enumerate() {
        let color = OKABE_ITO[i % OKABE_ITO.len()];
        let points: Vec<(f32, f32)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(e, y)| y.filter(|y| y.is_finite()).map(|y| ((e + 1) as f32, scale(y))))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| Error::msg(e.to_string()))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (18, 0)], color.stroke_width(2))
                    + Polygon::new(legend_marker(i), color.filled())
            });
        marker(&mut chart, i, &points, color)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| Error::msg(e.to_string()))?;
    root.present().map_err(|e| Error::msg(e.to_string()))?;
    Ok(())
}

fn column(h: &History, f: fn(&EpochRecord) -> Option<f32>) -> Vec<Option<f32>> {
    h.epochs.iter().map(f).collect()
}

/// `loss.svg`, `accuracy.svg` and `lr.svg` for a run's history; `best` marks the epoch whose
/// weights were kept (early stopping's restore).
pub fn history(h: &History, dir: &Path, best: Option<usize>) -> Result<()> {
    let mark = best.map(|e| (e, "best epoch (restored)"));
    let pair = |f: fn(&EpochRecord) -> Option<f32>, g: fn(&EpochRecord) -> Option<f32>| {
        let mut s = vec![Series { name: "train".into(), values: column(h, f) }];
        if h.epochs.iter().any(|r| g(r).is_some()) {
            s.push(Series { name: "validation".into(), values: column(h, g) });
        }
        s
    };
    let loss = pair(|r| Some(r.loss), |r| r.val_loss);
    draw(&dir.join("loss.svg"), &Figure { x_desc: "epoch", title: "loss", y_desc: "cross-entropy (nats per sample)", series: loss, mark, log_y: false })?;
    let acc = pair(|r| Some(r.accuracy), |r| r.val_accuracy);
    draw(&dir.join("accuracy.svg"), &Figure { x_desc: "epoch", title: "accuracy", y_desc: "fraction classified correctly", series: acc, mark, log_y: false })?;
    let lr = vec![Series { name: "learning rate".into(), values: column(h, |r| Some(r.lr)) }];
    draw(&dir.join("lr.svg"), &Figure { x_desc: "epoch", title: "learning rate", y_desc: "mean rate over the epoch's steps", series: lr, mark: None, log_y: false })
}

/// The curves `wgtrain plot` can overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Metric {
    Loss,
    ValLoss,
    Accuracy,
    ValAccuracy,
    Lr,
    Sparsity,
}

/// `wgtrain plot RUN_DIR… -o OUT.svg --metric M`: one curve per run, named by its directory.
pub fn compare(runs: &[PathBuf], metric: Metric, out: &Path) -> Result<()> {
    if runs.is_empty() {
        fail!("give one or more run directories (each holding history.json)");
    }
    let mut series = Vec::new();
    for run in runs {
        let file = if run.is_dir() { run.join("history.json") } else { run.clone() };
        let text = crate::files::read_text(&file, crate::files::bound::TEXT).with_context(|| format!("cannot read {}", file.display()))?;
        let h: History = serde_json::from_str(&text).with_context(|| format!("{} is not a run history", file.display()))?;
        let f: fn(&EpochRecord) -> Option<f32> = match metric {
            Metric::Loss => |r| Some(r.loss),
            Metric::ValLoss => |r| r.val_loss,
            Metric::Accuracy => |r| Some(r.accuracy),
            Metric::ValAccuracy => |r| r.val_accuracy,
            Metric::Lr => |r| Some(r.lr),
            Metric::Sparsity => |r| r.sparsity.as_ref().map(|s| s.total),
        };
        let name = run.file_name().map_or(run.display().to_string(), |n| n.to_string_lossy().into_owned());
        series.push(Series { name, values: column(&h, f) });
    }
    let (title, y_desc) = match metric {
        Metric::Loss => ("training loss", "cross-entropy (nats per sample)"),
        Metric::ValLoss => ("validation loss", "cross-entropy (nats per sample)"),
        Metric::Accuracy => ("training accuracy", "fraction classified correctly"),
        Metric::ValAccuracy => ("validation accuracy", "fraction classified correctly"),
        Metric::Lr => ("learning rate", "mean rate over the epoch's steps"),
        Metric::Sparsity => ("sparsity", "fraction of weights near zero"),
    };
    draw(out, &Figure { x_desc: "epoch", title, y_desc, series, mark: None, log_y: false })
}
