//! The conversation about the current image: questions, streamed answers whose tokens can be
//! clicked for their heat map, timings, suggested questions and the question box.

use egui::{Color32, Key, RichText, Ui};

use super::documents::{Document, TurnState};
use gvt_core::generate::StopReason;

/// Which answer token's map is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSelection {
    pub doc: usize,
    pub turn: usize,
    pub token: usize,
}

/// What the panel asks the app to do.
pub enum ConversationAction {
    Ask(String),
    Stop,
    Select(TokenSelection),
    /// Load the model again on the CPU and ask this question there (after the GPU failed).
    RunOnCpu(String),
}

#[derive(Default)]
pub struct ConversationPanel {
    pub question: String,
}

impl ConversationPanel {
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        doc_index: usize,
        doc: &Document,
        selection: Option<TokenSelection>,
        can_ask: Result<(), &str>,
        on_gpu: bool,
    ) -> Option<ConversationAction> {
        let mut action = None;
        let busy = doc.is_busy();
        egui::Panel::bottom("question box")
            .frame(egui::Frame::NONE)
            .show(ui, |ui| {
                ui.add_space(6.0);
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new("Try:").weak());
                    for question in &doc.suggestions {
                        if ui.small_button(question.as_str()).clicked() {
                            self.question = question.clone();
                        }
                    }
                });
                ui.add_space(4.0);
                let label = ui.label("Question");
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut self.question)
                        .id_salt("question")
                        .hint_text("How many circles are there in the image?")
                        .desired_width(f32::INFINITY),
                );
                let edit = edit.labelled_by(label.id);
                super::mark(&edit, "Question");
                let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                // Why asking is not possible now, if it is not.
                let blocked = match can_ask {
                    Err(why) => Some(why),
                    Ok(()) if busy => Some("Wait for the answer, or stop it"),
                    Ok(()) => None,
                };
                ui.horizontal(|ui| {
                    let ask = ui
                        .add_enabled(blocked.is_none(), egui::Button::new("Ask"))
                        .on_hover_text("Send the question (Enter)")
                        .on_disabled_hover_text(blocked.unwrap_or_default());
                    super::mark(&ask, "Ask");
                    if (ask.clicked() || (entered && blocked.is_none()))
                        && !self.question.trim().is_empty()
                    {
                        action = Some(ConversationAction::Ask(self.question.trim().to_string()));
                        edit.request_focus();
                    }
                    let stop = ui
                        .add_enabled(busy, egui::Button::new("Stop"))
                        .on_hover_text("Stop the answer where it is");
                    super::mark(&stop, "Stop");
                    if stop.clicked() {
                        action = Some(ConversationAction::Stop);
                    }
                });
                ui.add_space(6.0);
            });
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if doc.turns.is_empty() {
                    ui.label(
                        RichText::new("Ask a question about the image. Click any word of an answer to see where the model looked for it.")
                            .weak(),
                    );
                }
                for (t, turn) in doc.turns.iter().enumerate() {
                    ui.label(RichText::new(format!("Q: {}", turn.question)).strong());
                    ui.horizontal_wrapped(|ui| {
                        ui.spacing_mut().item_spacing.x = 2.0;
                        ui.label("A:");
                        if turn.pieces.is_empty() {
                            // Still streaming (or nothing came back).
                            ui.label(&turn.answer);
                        }
                        for (k, piece) in turn.pieces.iter().enumerate() {
                            let this = TokenSelection { doc: doc_index, turn: t, token: k };
                            let selected = selection == Some(this);
                            let text = if piece.trim().is_empty() { "(space)".to_string() } else { piece.clone() };
                            let label = format!("Answer token {}: {}", k + 1, piece.trim());
                            let response = ui
                                .selectable_label(selected, text)
                                .on_hover_text("Show where the model looked for this token");
                            response.widget_info(|| {
                                egui::WidgetInfo::selected(egui::Role::Button, turn.attention.is_some(), selected, &label)
                            });
                            super::mark(&response, &label);
                            if response.clicked() && turn.attention.is_some() {
                                action = Some(ConversationAction::Select(this));
                            }
                        }
                    });
                    match &turn.state {
                        TurnState::Streaming => {
                            ui.horizontal(|ui| {
                                ui.spinner();
                                ui.label(RichText::new("answering…").weak());
                            });
                        }
                        TurnState::Failed(error) => {
                            ui.colored_label(Color32::from_rgb(220, 80, 60), format!("Error: {error}"));
                            // A lost or failing GPU: the CPU may still answer.
                            if on_gpu
                                && !busy
                                && ui
                                    .button("Run on CPU instead")
                                    .on_hover_text("Load the model again on the CPU and ask this question there")
                                    .clicked()
                            {
                                action = Some(ConversationAction::RunOnCpu(turn.question.clone()));
                            }
                        }
                        TurnState::Done(stop) => {
                            if let Some(t) = &turn.timings {
                                let tokens = match t.generated_tokens {
                                    1 => "1 token".to_string(),
                                    n => format!("{n} tokens"),
                                };
                                let mut line = format!(
                                    "image {:.0} ms · prefill {:.0} ms · {tokens}",
                                    t.image_ms, t.prefill_ms
                                );
                                if t.generated_tokens > 1 {
                                    line += &format!(" · {:.0} tokens/s", t.tokens_per_second());
                                }
                                match stop {
                                    StopReason::Cancelled => line += " · stopped",
                                    StopReason::MaxTokens => line += " · length limit",
                                    StopReason::ContextFull => line += " · context full",
                                    StopReason::StopToken => {}
                                }
                                ui.label(RichText::new(line).small().weak());
                            }
                        }
                    }
                    if let Some(second) = &turn.second {
                        let text = match &second.state {
                            TurnState::Streaming => format!("B: {}…", second.answer),
                            TurnState::Failed(error) => format!("B: error: {error}"),
                            TurnState::Done(_) => format!("B: {}", second.answer.trim()),
                        };
                        ui.label(RichText::new(text).italics())
                            .on_hover_text("The second model's answer to the same question");
                    }
                    ui.add_space(8.0);
                }
            });
        action
    }
}
