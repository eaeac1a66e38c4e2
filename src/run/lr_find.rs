//! `wgtrain lr-find`: the learning-rate range test on a run's model, data and update rule, as
//! one call: the curve (CSV, JSON, SVG) written into a directory and the suggestion returned.

use std::path::Path;

use crate::backend::Backend;
use crate::data::locate::Fetching;
use crate::data::DeviceData;
use crate::error::{Error, Result};
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::train::lr_find::{self, Curve, Range};

use super::plot;
use super::{dataset, RunConfig};

/// Run the range test for `config`'s model and optimizer (its rate is what the test
/// replaces) on its training split, from the run's initial weights (`config.seed`); `steps`
/// defaults to one epoch.
pub fn run(config: &RunConfig, b: &mut dyn Backend, start: f32, end: f32, steps: Option<usize>, fetch: &mut dyn FnMut(Fetching)) -> Result<Curve> {
    let splits = dataset::load(config, fetch)?;
    let train = &splits.train;
    let classes = train.classes.max(splits.test.classes);
    let spec = config.model_spec(train.cols, classes)?;
    let per_epoch = train.rows / config.batch_size;
    let range = Range { start, end, steps: steps.unwrap_or(per_epoch) };
    range.check()?;
    let opt_config = config.optimizer(per_epoch.max(1))?;
    let mut model = Sequential::new(b, &spec, config.seed)?;
    let mut opt = Optimizer::new(b, opt_config)?;
    let data = DeviceData::upload(b, train)?;
    let curve = lr_find::find(b, &mut model, &mut opt, &data, config.batch_size, config.seed, range);
    data.free(b)?;
    curve
}

/// Write `lr_find.csv`, `lr_find.json` and `lr_find.svg` into `dir` (created if needed).
pub fn write(curve: &Curve, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        crate::files::write(&path, bytes).map_err(|e| Error::io(&path, e))
    };
    put("lr_find.csv", curve.to_csv().as_bytes())?;
    put("lr_find.json", serde_json::to_string_pretty(curve)?.as_bytes())?;
    draw(curve, &dir.join("lr_find.svg"))
}

/// The raw and the smoothed loss against the rate (both axes logarithmic), the suggested
/// rate and the minimum over ten marked.
pub fn draw(curve: &Curve, path: &Path) -> Result<()> {
    let mut svg = String::new();
    render(&mut svg, curve).map_err(|e| Error::msg(format!("cannot draw the range test: {e}")))?;
    crate::files::write(path, svg.as_bytes()).map_err(|e| Error::io(path, e))
}

fn render(svg: &mut String, curve: &Curve) -> std::result::Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::with_string(svg, (860, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let positive = curve.losses.iter().chain(&curve.smoothed).copied().filter(|v| *v > 0.0 && v.is_finite());
    let (lo, hi) = positive.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.1, 10.0) } else { (lo * 0.9, hi * 1.1) };
    let (x0, x1) = (curve.rates.first().copied().unwrap_or(curve.range.start), curve.rates.last().copied().unwrap_or(curve.range.end).max(curve.range.start * 10.0));
    let title = format!("learning-rate range test ({} steps{})", curve.rates.len(), if curve.stopped.is_some() { ", stopped early" } else { "" });
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("learning rate (log scale)")
        .y_desc("training loss (log scale)")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| plot::log_label(*y))
        .draw()?;
    let [blue, orange, green, _, _, purple, ..] = plot::OKABE_ITO;
    let raw: Vec<(f32, f32)> = curve.rates.iter().zip(&curve.losses).map(|(&r, &l)| (r, l)).collect();
    chart.draw_series(LineSeries::new(raw, blue.mix(0.4).stroke_width(1)))?.label("loss of each batch").legend(move |(x, y)| {
        PathElement::new(vec![(x, y), (x + 18, y)], blue.mix(0.4).stroke_width(1))
    });
    let smooth: Vec<(f32, f32)> = curve.rates.iter().zip(&curve.smoothed).map(|(&r, &l)| (r, l)).collect();
    chart.draw_series(LineSeries::new(smooth, orange.stroke_width(2)))?.label("smoothed (EMA, β = 0.98)").legend(move |(x, y)| {
        PathElement::new(vec![(x, y), (x + 18, y)], orange.stroke_width(2))
    });
    let marks = [(curve.steepest, "steepest fall (suggested)", green), (curve.min_over_ten, "minimum ÷ 10", purple)];
    for (rate, name, color) in marks {
        if let Some(r) = rate {
            chart
                .draw_series(DashedLineSeries::new(vec![(r, lo), (r, hi)], 6, 4, color.stroke_width(2)))?
                .label(format!("{name}: {r:.2e}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
    }
    chart.configure_series_labels().position(SeriesLabelPosition::LowerLeft).background_style(WHITE.mix(0.9)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
