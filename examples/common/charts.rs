//! Figures: SVGs written atomically, line charts, smoothing, and the grid a decision map is
//! drawn on.

use std::path::Path;

use plotters::prelude::*;

use super::Result;

/// Draws into an SVG in memory, then writes it atomically (temporary file + rename) and says so.
pub fn write_svg(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(root.clone())?;
        root.present()?;
    }
    zero_nn::core::fs::write_atomic(path, svg.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// One named curve of a line chart.
pub struct Curve {
    /// The legend entry.
    pub label: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    /// A curve from its label and points.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Curve {
            label: label.into(),
            points,
        }
    }
}

/// The colour of the `i`-th curve.
pub fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

/// The range of the finite values, padded by 5% (and never empty).
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    // A flat curve still gets a readable axis.
    let pad = if hi - lo < 1e-12 {
        lo.abs().max(1.0) * 0.5
    } else {
        (hi - lo) * 0.05
    };
    lo - pad..hi + pad
}

/// A line chart of `curves` on `area`, with a legend; `log_y` plots log10 of y.
pub fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    curves: &[Curve],
    log_y: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let map = |y: f64| if log_y { y.max(1e-300).log10() } else { y };
    let xs = padded_range(curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)));
    let ys = padded_range(
        curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| map(p.1))),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(xs, ys)?;
    let y_desc = if log_y {
        format!("log10 {y_desc}")
    } else {
        y_desc.to_string()
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, c) in curves.iter().enumerate() {
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(
                c.points.iter().map(|&(x, y)| (x, map(y))),
                col.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(c.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    if curves.len() < 2 {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The moving average over `window` points (the book smooths its loss curves the same way).
pub fn smooth(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

/// The centres of a `cells × cells` grid over the square [-half, half]², one row per cell, x
/// varying fastest: the inputs at which a decision map or heat map is drawn.
pub fn square_grid(cells: usize, half: f64) -> ndarray::Array2<f64> {
    let step = 2.0 * half / cells as f64;
    ndarray::Array2::from_shape_fn((cells * cells, 2), |(i, k)| {
        let v = if k == 0 { i % cells } else { i / cells };
        -half + step * (v as f64 + 0.5)
    })
}
