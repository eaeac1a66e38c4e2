//! An experiment's report: `report.md` (question, setup, table, generated answer, plots),
//! `results.json` (every number in it), and its figures (curves and bars with error bars).

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use plotters::prelude::*;
use serde_json::Value;

use crate::run::plot::{self, Figure, Series, OKABE_ITO};

use super::stats::{Estimate, Unit};

pub struct Report {
    pub name: &'static str,
    pub question: &'static str,
    pub textbook: &'static str,
    pub setup: Vec<String>,
    pub tables: Vec<Table>,
    pub answer: String,
    pub plots: Vec<(String, String)>,
    pub results: Value,
    /// How it was run: command, build, scale, seeds (what `experiment report` rebuilds from).
    pub run: Value,
    /// What this scale cannot show (the report ends with them).
    pub limits: Vec<String>,
}

pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self { title: title.into(), header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let mut s = format!("**{}**\n\n| {} |\n|{}\n", self.title, self.header.join(" | "), "---|".repeat(self.header.len()));
        for r in &self.rows {
            // A '|' inside a cell (|w|) would end it.
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            s += &format!("| {} |\n", cells.join(" | "));
        }
        s
    }
}

impl Report {
    pub fn new(name: &'static str, question: &'static str, textbook: &'static str) -> Self {
        Self { name, question, textbook, setup: Vec::new(), tables: Vec::new(), answer: String::new(), plots: Vec::new(), results: Value::Null, run: Value::Null, limits: Vec::new() }
    }

    pub fn markdown(&self) -> String {
        let mut s = format!("# {}\n\n**Question.** {}\n\n**Textbook answer.** {}\n\n## Setup\n\n", self.name, self.question, self.textbook);
        for line in &self.setup {
            s += &format!("- {line}\n");
        }
        s += "\n## Results\n\n";
        for t in &self.tables {
            s += &t.markdown();
            s += "\n";
        }
        s += &format!("## Answer\n\n{}\n\n## Plots\n\n", self.answer);
        for (file, caption) in &self.plots {
            s += &format!("![{caption}]({file})\n\n");
        }
        s += "Each run's own directory (checkpoint, history, curves, metrics) is under `runs/`; every unit's \
              recorded result is under `units/`.\n\n## What this scale cannot show\n\n";
        for line in &self.limits {
            s += &format!("- {line}\n");
        }
        s
    }

    /// Write `report.md` and `results.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let tables: Vec<Value> = self
            .tables
            .iter()
            .map(|t| serde_json::json!({ "title": t.title, "header": t.header, "rows": t.rows }))
            .collect();
        let results = serde_json::json!({
            "experiment": self.name, "question": self.question, "setup": self.setup, "tables": tables,
            "answer": self.answer, "measurements": self.results, "run": self.run, "limits": self.limits,
        });
        let json = dir.join("results.json");
        std::fs::write(&json, serde_json::to_string_pretty(&results)?).with_context(|| format!("cannot write {}", json.display()))?;
        let path = dir.join("report.md");
        std::fs::write(&path, self.markdown()).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

/// How the tables' per-seed cells read, for their titles.
pub const OVER_SEEDS: &str = "mean ± half its 95% interval over seeds, Student's t; n seeds per cell";

/// A table cell for the per-seed `values`: the mean with its 95% interval and n
/// (`stats::Estimate::cell`).
pub fn cell(values: &[f64], unit: Unit) -> String {
    Estimate::of(values).cell(unit)
}

/// The interval's half-width for an error bar (0 for one seed).
pub fn half(values: &[f64]) -> f64 {
    Estimate::of(values).half.unwrap_or(0.0)
}

/// Curves over `x_desc` (counted from 1) into `dir/file`.
pub fn curves_over(
    dir: &Path,
    file: &str,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: Vec<(String, Vec<f32>)>,
    log_y: bool,
) -> Result<()> {
    let series = series.into_iter().map(|(name, v)| Series { name, values: v.into_iter().map(Some).collect() }).collect();
    plot::draw(&dir.join(file), &Figure { title, x_desc, y_desc, series, mark: None, log_y })
}

/// Bars with error bars (mean ± the 95% interval's half-width) into `dir/file`.
pub fn bars(dir: &Path, file: &str, title: &str, y_desc: &str, bars: &[(String, f64, f64)]) -> Result<()> {
    let path = dir.join(file);
    let mut svg = String::new();
    render_bars(&mut svg, title, y_desc, bars)?;
    crate::files::write(&path, svg.as_bytes()).map_err(|e| Error::io(&path, e))
}

fn render_bars(svg: &mut String, title: &str, y_desc: &str, bars: &[(String, f64, f64)]) -> Result<()> {
    let root = SVGBackend::with_string(svg, (760, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| Error::msg(e.to_string()))?;
    let hi = bars.iter().map(|b| b.1 + b.2).filter(|v| v.is_finite()).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let lo = bars.iter().map(|b| b.1 - b.2).filter(|v| v.is_finite()).fold(0.0f64, f64::min);
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, lo..hi)
        .map_err(|e| Error::msg(e.to_string()))?;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() { names[i as usize].clone() } else { String::new() }
        })
        .y_desc(y_desc)
        .draw()
        .map_err(|e| Error::msg(e.to_string()))?;
    for (i, (_, mean, std)) in bars.iter().enumerate() {
        if !mean.is_finite() {
            continue;
        }
        let color = OKABE_ITO[i % OKABE_ITO.len()];
        let x = i as f64;
        chart
            .draw_series([Rectangle::new([(x - 0.35, 0.0f64.max(lo)), (x + 0.35, *mean)], color.filled())])
            .map_err(|e| Error::msg(e.to_string()))?;
        if *std > 0.0 {
            chart
                .draw_series([ErrorBar::new_vertical(x, mean - std, *mean, mean + std, BLACK.stroke_width(2), 12)])
                .map_err(|e| Error::msg(e.to_string()))?;
        }
    }
    root.present().map_err(|e| Error::msg(e.to_string()))?;
    Ok(())
}
