//! Line plots as SVG (plotters' SVG backend needs no system fonts).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// The plots' font: present in the PDF's embedded fonts; viewers without it fall back to a serif.
const FONT: &str = "Libertinus Serif, serif";

/// One curve of a plot.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Dashed curves mark a second quantity (e.g. a baseline).
    pub dashed: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            dashed: false,
        }
    }
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// Axis settings of a plot.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_y: bool,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(90, 90, 90),
];

/// The fixed colour of a curve whose name starts with a data-set role, so
/// that "validation" (say) has the same colour in every figure.
fn role_colour(name: &str) -> Option<RGBColor> {
    let n = name.to_lowercase();
    // A role word alone or followed by a space or comma ("train (fixed…",
    // "test, noisy input"); "train.lr=…" of a sweep is not a role.
    let is = |role: &str| {
        n.strip_prefix(role)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',']))
    };
    let role = if n.contains("noisy input") {
        5
    } else if n.starts_with("train (fixed") {
        4
    } else if is("train") {
        0
    } else if is("validation") {
        2
    } else if is("test") || is("held-out") {
        1
    } else {
        return None;
    };
    Some(COLORS[role])
}

/// Draws `series` as lines with markers into an SVG file.
pub fn line_plot(path: &Path, axes: &Axes, series: &[Series]) -> Result<()> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!axes.log_y || *y > 0.0))
        .collect();
    if pts.is_empty() {
        return Err(anyhow!("nothing to plot for {}", axes.title));
    }
    let (mut x0, mut x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x1 <= x0 {
        x1 = x0 + 1.0;
        x0 -= 1.0;
    }
    if y1 <= y0 {
        let pad = if y0 == 0.0 { 1.0 } else { y0.abs() * 0.1 };
        y0 -= pad;
        y1 += pad;
    }
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let caption = (FONT, 26).into_font();
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(axes.title, caption)
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(84);
    let label_style = (FONT, 22).into_font();
    if axes.log_y {
        let (ly0, ly1) = (y0 * 0.8, y1 * 1.25);
        let mut chart = builder
            .build_cartesian_2d(x0..x1, (ly0..ly1).log_scale())
            .map_err(|e| anyhow!("{e:?}"))?;
        chart
            .configure_mesh()
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .label_style(label_style.clone())
            .axis_desc_style(label_style.clone())
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| format!("{v:.1e}"))
            .y_labels(8)
            .draw()
            .map_err(|e| anyhow!("{e:?}"))?;
        draw_series(&mut chart, series, axes.log_y)?;
        legend(
            &mut chart,
            label_style,
            legend_corner(&pts, (x0, x1), (ly0.ln(), ly1.ln()), true),
        )?;
    } else {
        let pad = (y1 - y0) * 0.05;
        let mut chart = builder
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(|e| anyhow!("{e:?}"))?;
        chart
            .configure_mesh()
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .label_style(label_style.clone())
            .axis_desc_style(label_style.clone())
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()
            .map_err(|e| anyhow!("{e:?}"))?;
        draw_series(&mut chart, series, axes.log_y)?;
        legend(
            &mut chart,
            label_style,
            legend_corner(&pts, (x0, x1), (y0 - pad, y1 + pad), false),
        )?;
    }
    root.present()
        .map_err(|e| anyhow!("cannot write {}: {e:?}", path.display()))?;
    Ok(())
}

fn draw_series<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    log_y: bool,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let color = role_colour(&s.name).unwrap_or(COLORS[i % COLORS.len()]);
        let style = ShapeStyle::from(&color).stroke_width(2);
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
            .collect();
        let anno = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
                .map_err(|e| anyhow!("{e:?}"))?
        } else {
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(|e| anyhow!("{e:?}"))?
        };
        anno.label(s.name.clone()).legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 20, y)],
                ShapeStyle::from(&color).stroke_width(2),
            )
        });
        if points.len() <= 40 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| anyhow!("{e:?}"))?;
        }
    }
    Ok(())
}

/// A tick label without needless decimals: 50, 2.5, 0.0024.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Puts the legend in the right-hand corner (upper or lower) that holds fewer data points.
fn legend_corner(
    pts: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    log_y: bool,
) -> SeriesLabelPosition {
    let y_of = |y: f64| if log_y { y.max(1e-300).ln() } else { y };
    let right = |p: &&(f64, f64)| p.0 > x0 + 0.45 * (x1 - x0);
    let upper = pts
        .iter()
        .filter(right)
        .filter(|p| y_of(p.1) > y0 + 0.6 * (y1 - y0))
        .count();
    let lower = pts
        .iter()
        .filter(right)
        .filter(|p| y_of(p.1) < y0 + 0.4 * (y1 - y0))
        .count();
    if upper <= lower {
        SeriesLabelPosition::UpperRight
    } else {
        SeriesLabelPosition::LowerRight
    }
}

fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    font: FontDesc,
    position: SeriesLabelPosition,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(font)
        .position(position)
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}

/// Draws `series` as points (no lines) into an SVG file.
pub fn scatter_plot(path: &Path, axes: &Axes, series: &[Series]) -> Result<()> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pts.is_empty() {
        return Err(anyhow!("nothing to plot for {}", axes.title));
    }
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (px, py) = (((x1 - x0) * 0.05).max(1e-9), ((y1 - y0) * 0.05).max(1e-9));
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let label_style = (FONT, 22).into_font();
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.title, (FONT, 26).into_font())
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .label_style(label_style.clone())
        .axis_desc_style(label_style.clone())
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    for (i, s) in series.iter().enumerate() {
        let color = role_colour(&s.name).unwrap_or(COLORS[i % COLORS.len()]);
        chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| anyhow!("{e:?}"))?
            .label(s.name.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    legend(
        &mut chart,
        label_style,
        legend_corner(&pts, (x0, x1), (y0, y1), false),
    )?;
    root.present()
        .map_err(|e| anyhow!("cannot write {}: {e:?}", path.display()))?;
    Ok(())
}
