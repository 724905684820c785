//! The Probe panel: choose a sweep and its levels, run it on the loaded model (on the
//! worker, with progress and Stop), watch the accuracy curve grow with its 95% band, and
//! open a level's scenes (a point of the curve, or its row) with their answers and maps.

use std::cell::OnceCell;

use egui::{Color32, RichText, Ui};
use egui_plot::{Corner, FilledArea, Legend, Line, Plot, PlotPoints, Points};

use gvt_core::generate::CancelFlag;
use gvt_probe::sweep::parse_levels;
use gvt_probe::{Answer, LevelStats, Metric, ProbeReport, ProbeSpec, Sweep};

use crate::mark;

/// Scenes per level a new probe starts with.
const DEFAULT_PER_LEVEL: usize = 10;
/// The curves' colours, first model first (as the CLI's plots).
const CURVES: [Color32; 2] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
];

/// A probe that runs or ran, with the answers so far.
pub struct ProbeRun {
    /// The worker's request id.
    pub id: u64,
    pub spec: ProbeSpec,
    /// The models asked: the loaded one, and the second one when there is one.
    pub models: Vec<String>,
    pub answers: Vec<Answer>,
    pub cancel: CancelFlag,
    pub running: bool,
    /// Why it stopped early, if it failed.
    pub error: Option<String>,
    /// The report of the answers so far: recounted on first use after an answer arrives,
    /// then shared by the panel, the page mirror and the exports of every later frame.
    report: OnceCell<ProbeReport>,
}

impl ProbeRun {
    /// Every figure so far, recounted from the answers.
    pub fn report(&self) -> &ProbeReport {
        self.report
            .get_or_init(|| ProbeReport::from_answers(&self.spec, &self.models, &self.answers))
    }

    fn total(&self) -> usize {
        self.spec.levels.len() * self.spec.per_level * self.models.len()
    }
}

/// What the user asked for.
pub enum ProbeAction {
    Run(ProbeSpec),
    Stop,
    /// Open the scenes of this level with their questions.
    OpenLevel(u32),
    ExportCsv,
    ExportJson,
    /// The curve as drawn, as a PNG (a screenshot of its rectangle).
    ExportPlot(egui::Rect),
}

pub struct ProbePanel {
    sweep: Sweep,
    levels: String,
    per_level: usize,
    seed: u64,
    /// Why the settings do not make a probe.
    invalid: Option<String>,
    pub run: Option<ProbeRun>,
}

impl Default for ProbePanel {
    fn default() -> Self {
        let sweep = Sweep::Count;
        Self {
            sweep,
            levels: levels_text(&sweep.default_levels()),
            per_level: DEFAULT_PER_LEVEL,
            seed: 0,
            invalid: None,
            run: None,
        }
    }
}

/// "0..9" for a run of consecutive levels, "16,32,64" otherwise.
fn levels_text(levels: &[u32]) -> String {
    match levels {
        [first, .., last] if levels.windows(2).all(|w| w[1] == w[0] + 1) => {
            format!("{first}..{last}")
        }
        _ => levels
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

impl ProbePanel {
    /// The probe the settings describe, or why there is none.
    fn spec(&self) -> Result<ProbeSpec, String> {
        let mut spec = ProbeSpec::new(self.sweep, self.per_level, self.seed);
        spec.levels = parse_levels(&self.levels).map_err(|e| e.to_string())?;
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// Starts showing run `id` of `spec` on `models`.
    pub fn start(&mut self, id: u64, spec: ProbeSpec, models: Vec<String>, cancel: CancelFlag) {
        self.run = Some(ProbeRun {
            id,
            spec,
            models,
            answers: Vec::new(),
            cancel,
            running: true,
            error: None,
            report: OnceCell::new(),
        });
    }

    /// An answer of run `id` arrived.
    pub fn record(&mut self, id: u64, answer: Answer) {
        if let Some(run) = self.run.as_mut().filter(|r| r.id == id) {
            run.answers.push(answer);
            run.report = OnceCell::new();
        }
    }

    /// Run `id` ended.
    pub fn finish(&mut self, id: u64, error: Option<String>) {
        if let Some(run) = self.run.as_mut().filter(|r| r.id == id) {
            run.running = false;
            run.error = error;
        }
    }

    /// Draws the panel. `can_run` says why a probe cannot start now, if it cannot.
    pub fn ui(&mut self, ui: &mut Ui, can_run: Result<(), &str>) -> Option<ProbeAction> {
        let mut action = None;
        let running = self.run.as_ref().is_some_and(|r| r.running);
        ui.horizontal_wrapped(|ui| {
            ui.label("Sweep");
            let before = self.sweep;
            let _ = egui::ComboBox::from_id_salt("probe sweep")
                .selected_text(self.sweep.name())
                .show_ui(ui, |ui| {
                    for sweep in Sweep::ALL {
                        ui.selectable_value(&mut self.sweep, sweep, sweep.name())
                            .on_hover_text(sweep.parameter());
                    }
                })
                .response
                .accessible_name("Sweep");
            if self.sweep != before {
                self.levels = levels_text(&self.sweep.default_levels());
            }
            ui.label("Levels");
            let levels = ui
                .add(
                    egui::TextEdit::singleline(&mut self.levels)
                        .desired_width(120.0)
                        .hint_text("0..9 or 16,32,64"),
                )
                .accessible_name("Probe levels");
            mark(&levels, "Probe levels");
            ui.label("Scenes per level");
            let _ = ui
                .add(egui::DragValue::new(&mut self.per_level).range(1..=1000))
                .accessible_name("Scenes per level");
            ui.label("Seed");
            let _ = ui
                .add(egui::DragValue::new(&mut self.seed))
                .accessible_name("Probe seed");
            self.invalid = self.spec().err();
            if running {
                let stop = ui.button("Stop probe");
                mark(&stop, "Stop probe");
                if stop.clicked() {
                    action = Some(ProbeAction::Stop);
                }
            } else {
                let why_not = can_run.err().or(self.invalid.as_deref());
                let run = ui
                    .add_enabled(why_not.is_none(), egui::Button::new("Run probe"))
                    .on_disabled_hover_text(why_not.unwrap_or_default());
                mark(&run, "Run probe");
                if run.clicked()
                    && let Ok(spec) = self.spec()
                {
                    action = Some(ProbeAction::Run(spec));
                }
            }
        });
        ui.label(RichText::new(self.sweep.parameter()).weak());
        if let Some(why) = &self.invalid {
            ui.colored_label(ui.visuals().warn_fg_color, why);
        }
        let Some(run) = &self.run else {
            ui.label("Run a probe to see how accuracy changes with the level.");
            return action;
        };
        let done = run.answers.len();
        let status = match (&run.error, run.running) {
            (Some(error), _) => format!("Stopped: {error}"),
            (None, true) => format!("{done} of {} questions", run.total()),
            (None, false) if done < run.total() => format!("Stopped after {done} questions"),
            (None, false) => format!("Done: {done} questions"),
        };
        ui.add(
            egui::ProgressBar::new(done as f32 / run.total().max(1) as f32)
                .text(status)
                .animate(run.running),
        );
        let report = run.report();
        let mut plot_rect = None;
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() * 0.6).max(240.0);
            ui.allocate_ui(egui::vec2(width, ui.available_height()), |ui| {
                let (clicked, rect) = curve(ui, report);
                plot_rect = Some(rect);
                if let Some(level) = clicked {
                    action = Some(ProbeAction::OpenLevel(level));
                }
            });
            ui.vertical(|ui| {
                if let Some(a) = level_table(ui, report) {
                    action = Some(a);
                }
                ui.horizontal(|ui| {
                    if ui.button("Export CSV…").clicked() {
                        action = Some(ProbeAction::ExportCsv);
                    }
                    if ui.button("Export JSON…").clicked() {
                        action = Some(ProbeAction::ExportJson);
                    }
                    if ui.button("Export plot PNG…").clicked()
                        && let Some(rect) = plot_rect
                    {
                        action = Some(ProbeAction::ExportPlot(rect));
                    }
                });
            });
        });
        action
    }
}

/// Accuracy against the level with its 95% Wilson band, one curve per model; returns the
/// level of a clicked point, and where the plot is.
fn curve(ui: &mut Ui, report: &ProbeReport) -> (Option<u32>, egui::Rect) {
    let sweep = report.spec.sweep;
    let levels = report.spec.levels.clone();
    let answered: Vec<Vec<&LevelStats>> = report
        .models
        .iter()
        .map(|c| c.levels.iter().filter(|s| s.n > 0).collect())
        .collect();
    let labels = levels.clone();
    let response = Plot::new("probe curve")
        .height(ui.available_height().clamp(200.0, 360.0))
        .include_y(0.0)
        .include_y(1.0)
        .include_x(f64::from(*levels.iter().min().unwrap_or(&0)))
        .include_x(f64::from(*levels.iter().max().unwrap_or(&1)))
        .x_axis_label(sweep.parameter())
        .y_axis_label(Metric::Accuracy.title())
        .x_axis_formatter(move |mark, _| {
            let level = mark.value.round();
            if (mark.value - level).abs() < 1e-9 && labels.contains(&(level as u32)) {
                sweep.level_label(level as u32)
            } else {
                String::new()
            }
        })
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .legend(Legend::default().position(Corner::LeftBottom))
        .show(ui, |plot| {
            for ((stats, curve), color) in answered.iter().zip(&report.models).zip(CURVES) {
                let xs: Vec<f64> = stats.iter().map(|s| f64::from(s.level)).collect();
                let lows: Vec<f64> = stats.iter().map(|s| s.ci_low).collect();
                let highs: Vec<f64> = stats.iter().map(|s| s.ci_high).collect();
                let points: Vec<[f64; 2]> = stats
                    .iter()
                    .map(|s| [f64::from(s.level), s.accuracy])
                    .collect();
                if !xs.is_empty() {
                    plot.add(
                        FilledArea::new(
                            format!("{}: 95% interval", curve.name),
                            &xs,
                            &lows,
                            &highs,
                        )
                        .fill_color(color.gamma_multiply(0.2)),
                    );
                }
                plot.line(
                    Line::new(curve.name.clone(), PlotPoints::from(points.clone())).color(color),
                );
                plot.points(
                    Points::new(curve.name.clone(), PlotPoints::from(points))
                        .color(color)
                        .radius(4.0)
                        .filled(true),
                );
            }
            let clicked = plot.response().clicked();
            plot.pointer_coordinate().filter(|_| clicked)
        });
    let plot = response.response.accessible_name("Probe curve");
    mark(&plot, "Probe curve");
    // The level nearest the click, among those with answers.
    let clicked = response.inner.and_then(|at| {
        answered
            .first()?
            .iter()
            .min_by(|a, b| {
                let d = |s: &LevelStats| (f64::from(s.level) - at.x).abs();
                d(a).total_cmp(&d(b))
            })
            .map(|s| s.level)
    });
    (clicked, plot.rect)
}

/// One row per level: per model, accuracy with its interval and the count error; and a
/// button that opens the level's scenes.
fn level_table(ui: &mut Ui, report: &ProbeReport) -> Option<ProbeAction> {
    let mut action = None;
    let first = report.models.first()?;
    egui::ScrollArea::vertical()
        .max_height(280.0)
        .show(ui, |ui| {
            egui::Grid::new("probe levels")
                .striped(true)
                .num_columns(report.models.len() + 3)
                .show(ui, |ui| {
                    ui.label(RichText::new("level").strong());
                    ui.label(RichText::new("n").strong());
                    for curve in &report.models {
                        ui.label(RichText::new(format!("{}: accuracy (95%)", curve.name)).strong());
                    }
                    ui.label("");
                    ui.end_row();
                    for (row, s) in first.levels.iter().enumerate() {
                        ui.label(&s.label);
                        ui.label(s.n.to_string());
                        for curve in &report.models {
                            ui.label(curve.levels[row].to_string());
                        }
                        let name = format!("Open level {}", s.label);
                        let open = ui
                            .add_enabled(s.n > 0, egui::Button::new("Open"))
                            .on_hover_text("Open this level's scenes, wrong answers first")
                            .accessible_name(&name);
                        mark(&open, &name);
                        if open.clicked() {
                            action = Some(ProbeAction::OpenLevel(s.level));
                        }
                        ui.end_row();
                    }
                });
        });
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_back_as_written() {
        assert_eq!(levels_text(&[0, 1, 2, 3]), "0..3");
        assert_eq!(levels_text(&[16, 32, 64]), "16,32,64");
        assert_eq!(levels_text(&[5]), "5");
        for sweep in Sweep::ALL {
            let levels = sweep.default_levels();
            assert_eq!(parse_levels(&levels_text(&levels)).unwrap(), levels);
        }
    }
}
