//! Curves of a probe, one line per model against the level, drawn with plotters as SVG or
//! PNG. Accuracy has its 95% Wilson band.

use std::sync::OnceLock;

use image::{ImageFormat, RgbImage};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ProbeError;
use crate::report::ProbeReport;
use crate::stats::{LevelStats, Metric};

/// Plot size in pixels (SVG user units).
pub const PLOT_SIZE: (u32, u32) = (720, 440);
/// The font every label is set in.
const FONT: &str = "sans-serif";
/// Line colours of the first, second, ... model.
const MODEL_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// The plot as an SVG document.
pub fn svg(report: &ProbeReport, metric: Metric) -> Result<String, ProbeError> {
    let mut text = String::new();
    draw(
        SVGBackend::with_string(&mut text, PLOT_SIZE).into_drawing_area(),
        report,
        metric,
    )?;
    Ok(text)
}

/// The plot as a PNG file's bytes.
pub fn png(report: &ProbeReport, metric: Metric) -> Result<Vec<u8>, ProbeError> {
    let (w, h) = PLOT_SIZE;
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    draw(
        BitMapBackend::with_buffer(&mut pixels, PLOT_SIZE).into_drawing_area(),
        report,
        metric,
    )?;
    let image = RgbImage::from_raw(w, h, pixels).expect("the buffer holds w x h RGB pixels");
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, ImageFormat::Png)
        .map_err(|e| ProbeError::Plot(e.to_string()))?;
    Ok(bytes.into_inner())
}

/// Registers the embedded font once: plotters draws text only in registered fonts, and a
/// probe must plot the same on every machine, the browser included.
fn register_font() -> Result<(), ProbeError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
            .is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| ProbeError::Plot("the embedded font did not load".into()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    report: &ProbeReport,
    metric: Metric,
) -> Result<(), ProbeError> {
    register_font()?;
    let plot_error = |e: DrawingAreaErrorKind<DB::ErrorType>| ProbeError::Plot(e.to_string());
    let sweep = report.spec.sweep;
    let levels = &report.spec.levels;
    let lo = levels.iter().copied().min().unwrap_or(0) as f64;
    let hi = levels.iter().copied().max().unwrap_or(1) as f64;
    let pad = ((hi - lo) * 0.04).max(0.3);
    let values = report
        .models
        .iter()
        .flat_map(|c| &c.levels)
        .filter_map(|s| metric.value(s));
    let y_max = match metric {
        Metric::Accuracy | Metric::AttentionOnTarget => 1.0,
        _ => values.fold(0.0f64, f64::max).max(1e-3) * 1.1,
    };

    root.fill(&WHITE).map_err(plot_error)?;
    let caption = format!("{}: {}", sweep.name(), metric.name());
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FONT, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(lo - pad..hi + pad, 0.0..y_max)
        .map_err(plot_error)?;
    let label_of = |x: &f64| {
        let level = x.round();
        if (x - level).abs() < 1e-9 && levels.contains(&(level as u32)) {
            sweep.level_label(level as u32)
        } else {
            String::new()
        }
    };
    let percent = |y: &f64| format!("{:.0}%", y * 100.0);
    let plain = |y: &f64| format!("{y:.2}");
    let y_format: &dyn Fn(&f64) -> String = match metric {
        Metric::Accuracy | Metric::AttentionOnTarget => &percent,
        _ => &plain,
    };
    chart
        .configure_mesh()
        .x_desc(sweep.parameter())
        .y_desc(metric.title())
        .x_labels(levels.len().clamp(2, 12) * 2 + 1)
        .x_label_formatter(&label_of)
        .y_label_formatter(y_format)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;

    for (m, curve) in report.models.iter().enumerate() {
        let color = MODEL_COLORS[m % MODEL_COLORS.len()];
        let points: Vec<(f64, f64, &LevelStats)> = curve
            .levels
            .iter()
            .filter_map(|s| metric.value(s).map(|v| (f64::from(s.level), v, s)))
            .collect();
        if metric == Metric::Accuracy && !points.is_empty() {
            let upper = points.iter().map(|(x, _, s)| (*x, s.ci_high));
            let lower = points.iter().rev().map(|(x, _, s)| (*x, s.ci_low));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    color.mix(0.18).filled(),
                )))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(x, y, _)| (*x, *y)),
                color.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(curve.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|(x, y, _)| Circle::new((*x, *y), 3, color.filled())),
            )
            .map_err(plot_error)?;
    }
    if metric == Metric::AttentionOnTarget {
        // The share the targets' boxes would get from a map that looks everywhere alike.
        let chance: Vec<(f64, f64)> = report
            .models
            .first()
            .map(|c| {
                c.levels
                    .iter()
                    .filter_map(|s| s.target_area.map(|a| (f64::from(s.level), a)))
                    .collect()
            })
            .unwrap_or_default();
        chart
            .draw_series(DashedLineSeries::new(
                chance,
                6,
                4,
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(plot_error)?
            .label("target area (chance)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.5)));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Answer;
    use crate::sweep::{ProbeSpec, Sweep};

    fn report() -> ProbeReport {
        let spec = ProbeSpec {
            levels: vec![0, 1, 2, 3],
            ..ProbeSpec::new(Sweep::Count, 4, 0)
        };
        let answers: Vec<Answer> = (0..2)
            .flat_map(|model| {
                (0..4u32).flat_map(move |level| {
                    (0..4).map(move |index| Answer {
                        model,
                        level,
                        index,
                        scene_seed: 0,
                        kind: "count".into(),
                        question: "q".into(),
                        truth: level.to_string(),
                        answer: "1".into(),
                        correct: level == 1 || index < model,
                        attention_on_target: Some(0.25),
                        target_area: Some(0.125),
                        latency_ms: 5.0 + level as f64,
                    })
                })
            })
            .collect();
        ProbeReport::from_answers(&spec, &["tiny".into(), "other".into()], &answers)
    }

    #[test]
    fn every_metric_plots_as_svg_and_png() {
        let report = report();
        assert_eq!(Metric::present_in(&report), Metric::ALL.to_vec());
        for metric in Metric::ALL {
            let svg = svg(&report, metric).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("tiny") && svg.contains("other"));
            let png = png(&report, metric).unwrap();
            let image = image::load_from_memory(&png).unwrap();
            assert_eq!((image.width(), image.height()), PLOT_SIZE);
            // The lines are drawn in the models' colours.
            let rgb = image.to_rgb8();
            for RGBColor(r, g, b) in &MODEL_COLORS[..2] {
                assert!(rgb.pixels().any(|p| p.0 == [*r, *g, *b]), "{metric:?}");
            }
        }
    }
}
