//! Curves over seeds, as a reader of a paper expects them: every seed's curve (thin, pale),
//! their mean (thick, with markers) and its 95% interval as a band (Student's t over the seeds
//! that have a finite value at that point; none for one seed), optional rings on chosen points
//! (the epoch whose weights early stopping restored), and the legend in a panel of its own
//! to the right of the plot, where it cannot cover the data.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::run::plot::OKABE_ITO;

use super::stats::Estimate;

/// One variant's curves, one per seed (a curve may stop early: a diverged run).
pub struct Group {
    pub name: String,
    pub seeds: Vec<Vec<f32>>,
    /// Per seed, a point (index into its curve) to ring.
    pub rings: Vec<Option<usize>>,
}

impl Group {
    pub fn new(name: impl Into<String>, seeds: Vec<Vec<f32>>) -> Self {
        Self { name: name.into(), seeds, rings: Vec::new() }
    }

    /// The mean and its band at each point: (mean, low, high), None where no seed has a
    /// finite value. On a log scale (`log`), over the logarithms of the positive values: the
    /// geometric mean and a band that stays positive.
    pub fn summary(&self, log: bool) -> Vec<Option<(f32, f32, f32)>> {
        let len = self.seeds.iter().map(Vec::len).max().unwrap_or(0);
        let to = |v: f64| if log { v.ln() } else { v };
        let from = |v: f64| if log { v.exp() } else { v };
        (0..len)
            .map(|i| {
                let at: Vec<f64> = self
                    .seeds
                    .iter()
                    .filter_map(|s| s.get(i))
                    .filter(|v| v.is_finite() && (!log || **v > 0.0))
                    .map(|&v| to(v as f64))
                    .collect();
                let e = Estimate::of(&at);
                (e.n > 0).then(|| {
                    let h = e.half.unwrap_or(0.0);
                    (from(e.mean) as f32, from(e.mean - h) as f32, from(e.mean + h) as f32)
                })
            })
            .collect()
    }
}

/// A figure of groups over x = 1, 2, ….
pub struct Bands<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub groups: Vec<Group>,
    pub log_y: bool,
    /// A note under the legend (what the rings mean, say).
    pub note: Option<&'a str>,
}

const SIZE: (u32, u32) = (1000, 480);
const LEGEND_WIDTH: u32 = 240;

fn err(e: impl std::fmt::Display) -> Error {
    Error::msg(e.to_string())
}

/// One group per (name, runs), each run's curve taken by `curve`.
pub fn groups<R>(named: &[(String, &[R])], curve: impl Fn(&R) -> Vec<f32>) -> Vec<Group> {
    named.iter().map(|(name, runs)| Group::new(name.clone(), runs.iter().map(&curve).collect())).collect()
}

/// Draw `fig` into `dir/file`.
pub fn draw(dir: &Path, file: &str, fig: &Bands) -> Result<()> {
    let path = dir.join(file);
    let mut svg = String::new();
    render(&mut svg, fig)?;
    crate::files::write(&path, svg.as_bytes()).map_err(|e| Error::io(&path, e))
}

fn render(svg: &mut String, fig: &Bands) -> Result<()> {
    let scale = |v: f32| if fig.log_y { v.max(1e-12).log10() } else { v };
    let summaries: Vec<_> = fig.groups.iter().map(|g| g.summary(fig.log_y)).collect();
    let len = fig.groups.iter().flat_map(|g| g.seeds.iter().map(Vec::len)).max().unwrap_or(0).max(1);
    let values = fig.groups.iter().flat_map(|g| g.seeds.iter().flatten().copied());
    let bands = summaries.iter().flatten().flatten().flat_map(|&(_, lo, hi)| [lo, hi]);
    let (lo, hi) = values
        .chain(bands)
        .filter(|v| v.is_finite())
        .map(scale)
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.06).max(1e-3);
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot)
        .caption(fig.title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5f32..len as f32 + 0.5, (lo - pad)..(hi + pad))
        .map_err(err)?;
    let log_y = fig.log_y;
    chart
        .configure_mesh()
        .x_desc(fig.x_desc)
        .y_desc(fig.y_desc)
        .x_labels(len.min(12) + 1)
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-3 && *x >= 1.0 { format!("{}", x.round() as i64) } else { String::new() })
        .y_label_formatter(&|y| if log_y { crate::run::plot::log_label(10f32.powf(*y)) } else { format!("{y:.3}") })
        .draw()
        .map_err(err)?;
    let at = |i: usize, v: f32| ((i + 1) as f32, scale(v));
    for (g, (group, summary)) in fig.groups.iter().zip(&summaries).enumerate() {
        let color = OKABE_ITO[g % OKABE_ITO.len()];
        // The band: the interval's upper edge forward, its lower edge back.
        let edge: Vec<(usize, (f32, f32, f32))> = summary.iter().enumerate().filter_map(|(i, s)| s.map(|s| (i, s))).collect();
        if group.seeds.len() > 1 && edge.len() > 1 {
            let mut outline: Vec<(f32, f32)> = edge.iter().map(|&(i, (_, _, h))| at(i, h)).collect();
            outline.extend(edge.iter().rev().map(|&(i, (_, l, _))| at(i, l)));
            chart.draw_series([Polygon::new(outline, color.mix(0.18).filled())]).map_err(err)?;
        }
        if group.seeds.len() > 1 {
            for seed in &group.seeds {
                let points: Vec<(f32, f32)> = seed.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| at(i, v)).collect();
                chart.draw_series(LineSeries::new(points, color.mix(0.45).stroke_width(1))).map_err(err)?;
            }
        }
        let mean: Vec<(f32, f32)> = edge.iter().map(|&(i, (m, _, _))| at(i, m)).collect();
        chart.draw_series(LineSeries::new(mean.clone(), color.stroke_width(2))).map_err(err)?;
        match g % 3 {
            0 => chart.draw_series(mean.iter().map(|&p| Circle::new(p, 4, color.filled()))).map(|_| ()),
            1 => chart.draw_series(mean.iter().map(|&p| TriangleMarker::new(p, 5, color.filled()))).map(|_| ()),
            _ => chart.draw_series(mean.iter().map(|&p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], color.filled()))).map(|_| ()),
        }
        .map_err(err)?;
        for (seed, ring) in group.seeds.iter().zip(&group.rings) {
            if let Some(&v) = ring.and_then(|i| seed.get(i)).filter(|v| v.is_finite()) {
                let p = at(ring.unwrap(), v);
                chart.draw_series([Circle::new(p, 7, color.stroke_width(2))]).map_err(err)?;
            }
        }
    }
    draw_legend(&legend, fig)?;
    root.present().map_err(err)?;
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, fig: &Bands) -> Result<()> {
    let text = ("sans-serif", 14).into_font();
    let mut y = 56;
    for (g, group) in fig.groups.iter().enumerate() {
        let color = OKABE_ITO[g % OKABE_ITO.len()];
        area.draw(&PathElement::new(vec![(8, y), (34, y)], color.stroke_width(2))).map_err(err)?;
        let m: DynElement<DB, (i32, i32)> = match g % 3 {
            0 => Circle::new((21, y), 4, color.filled()).into_dyn(),
            1 => TriangleMarker::new((21, y), 5, color.filled()).into_dyn(),
            _ => Rectangle::new([(17, y - 4), (25, y + 4)], color.filled()).into_dyn(),
        };
        area.draw(&m).map_err(err)?;
        let name = format!("{} (n={})", group.name, group.seeds.len());
        area.draw(&Text::new(name, (42, y - 8), text.clone())).map_err(err)?;
        y += 24;
    }
    let mean = if fig.log_y { "thick: geometric mean over seeds" } else { "thick: mean over seeds" };
    let mut notes = vec![mean.to_string()];
    if fig.groups.iter().any(|g| g.seeds.len() > 1) {
        notes.push(if fig.log_y { "band: its 95% interval (t, on logs)" } else { "band: its 95% interval (t)" }.into());
        notes.push("thin: each seed".into());
    }
    notes.extend(fig.note.map(str::to_string));
    let small = ("sans-serif", 12).into_font().color(&RGBColor(0x40, 0x40, 0x40));
    y += 8;
    for line in notes {
        area.draw(&Text::new(line, (8, y), small.clone())).map_err(err)?;
        y += 16;
    }
    Ok(())
}
