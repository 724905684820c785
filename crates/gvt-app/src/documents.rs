//! What the app works on: images (from a file, a drop, the clipboard, the gallery or a new
//! generated scene), each with its own conversation. Pure state, no drawing.

use std::sync::Arc;

use image::DynamicImage;

use gvt_core::attention::AttentionRecord;
use gvt_core::generate::{CancelFlag, Generation, StopReason, Timings};
use gvt_core::preprocess::decode_image;
use gvt_core::{Error, Result};
use gvt_probe::Trial;
use gvt_probe::look::Look;
use gvt_scene::qa::Qa;
use gvt_scene::{Color, Scene, SceneRequest, Shape};

/// Longest side of the copy drawn on screen; the model always gets the original.
const DISPLAY_SIDE: u32 = 1024;
/// Side generated scenes are drawn at for people.
const SCENE_DISPLAY_SIDE: u32 = 512;

/// One image and its conversation.
pub struct Document {
    pub name: String,
    /// The image as loaded (what the model sees, resized by its preprocessor).
    pub image: Arc<DynamicImage>,
    /// What is drawn: the image, at most [`DISPLAY_SIDE`] on a side.
    pub display: Arc<DynamicImage>,
    /// The ground truth, when the image is a generated scene.
    pub scene: Option<Scene>,
    /// How a probe's scene is drawn for the model (its side, blur, noise, clutter, paint).
    pub look: Option<Look>,
    /// For a "what if" edit, the document it was made from.
    pub edited_from: Option<usize>,
    /// Questions offered for this image (see [`suggested_questions`]).
    pub suggestions: Vec<String>,
    pub turns: Vec<Turn>,
}

impl Document {
    pub fn from_image(name: impl Into<String>, image: DynamicImage) -> Result<Self> {
        let name = name.into();
        if image.width() == 0 || image.height() == 0 {
            return Err(Error::Image(format!("{name} has no pixels")));
        }
        let display = if image.width().max(image.height()) > DISPLAY_SIDE {
            image.thumbnail(DISPLAY_SIDE, DISPLAY_SIDE)
        } else {
            image.clone()
        };
        Ok(Self {
            name,
            image: Arc::new(image),
            display: Arc::new(display),
            scene: None,
            look: None,
            edited_from: None,
            suggestions: suggested_questions(None),
            turns: Vec::new(),
        })
    }

    /// Decodes a file's bytes; the error names the file.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self> {
        let image = decode_image(bytes).map_err(|e| match e {
            Error::Image(why) => Error::Image(format!("{name}: {why}")),
            other => other,
        })?;
        Self::from_image(name, image)
    }

    pub fn from_scene(name: impl Into<String>, scene: Scene) -> Result<Self> {
        let rgb = scene
            .render(SCENE_DISPLAY_SIDE)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let mut doc = Self::from_image(name, DynamicImage::ImageRgb8(rgb))?;
        doc.suggestions = suggested_questions(Some(&scene));
        doc.scene = Some(scene);
        Ok(doc)
    }

    /// A probe's trial: the picture the model saw at input side `side`, its scene as the
    /// ground truth, and its question first among the suggestions.
    pub fn from_trial(name: impl Into<String>, trial: &Trial, side: u32) -> Result<Self> {
        let mut doc = Self::from_look(name, trial.scene.clone(), trial.look, side)?;
        doc.suggestions.insert(0, trial.qa.question.clone());
        Ok(doc)
    }

    /// The document of `scene`, an edit of this document's scene (number `index`), drawn the
    /// same way.
    pub fn edited(&self, index: usize, name: String, scene: Scene) -> Result<Self> {
        let mut doc = match self.look {
            Some(look) => Self::from_look(name, scene, look, self.image.width())?,
            None => Self::from_scene(name, scene)?,
        };
        doc.edited_from = Some(index);
        Ok(doc)
    }

    /// `scene` drawn with `look` for a model whose input is `side` pixels square.
    fn from_look(name: impl Into<String>, scene: Scene, look: Look, side: u32) -> Result<Self> {
        let rgb = look
            .render(&scene, side)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let mut doc = Self::from_image(name, DynamicImage::ImageRgb8(rgb))?;
        doc.suggestions = suggested_questions(Some(&scene));
        doc.scene = Some(scene);
        doc.look = Some(look);
        Ok(doc)
    }

    /// The image to give a model whose input is `side` pixels square. Scenes are rendered
    /// at exactly that size, as in training (a probe's with its look), instead of
    /// downscaling the display copy.
    pub fn model_input(&self, side: Option<usize>) -> Arc<DynamicImage> {
        let rendered = match (&self.scene, &self.look, side) {
            (Some(scene), Some(look), Some(side)) => look.render(scene, side as u32).ok(),
            (Some(scene), None, Some(side)) => scene.render(side as u32).ok(),
            _ => None,
        };
        rendered.map_or_else(
            || self.image.clone(),
            |rgb| Arc::new(DynamicImage::ImageRgb8(rgb)),
        )
    }

    /// Whether an answer is still streaming.
    pub fn is_busy(&self) -> bool {
        self.turns
            .iter()
            .flat_map(Turn::both)
            .any(|t| t.state == TurnState::Streaming)
    }

    /// Stops this image's answers that are still streaming (or waiting to start).
    pub fn stop(&self) {
        self.turns
            .iter()
            .flat_map(Turn::both)
            .filter(|t| t.state == TurnState::Streaming)
            .for_each(|t| t.cancel.cancel());
    }
}

/// Where a turn is.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnState {
    Streaming,
    Done(StopReason),
    Failed(String),
}

/// One question and its answer.
pub struct Turn {
    /// Request id the engine's replies carry.
    pub id: u64,
    pub question: String,
    /// The answer so far (streamed pieces joined).
    pub answer: String,
    /// The answer's tokens as text pieces, once finished; the attention maps index these.
    pub pieces: Vec<String>,
    pub state: TurnState,
    pub attention: Option<AttentionRecord>,
    pub timings: Option<Timings>,
    /// The second model's answer to the same question, when one is loaded.
    pub second: Option<Box<Turn>>,
    /// Stops this answer.
    cancel: CancelFlag,
}

impl Turn {
    pub fn new(id: u64, question: String, cancel: CancelFlag) -> Self {
        Self {
            id,
            question,
            answer: String::new(),
            pieces: Vec::new(),
            state: TurnState::Streaming,
            attention: None,
            timings: None,
            second: None,
            cancel,
        }
    }

    /// This turn and the second model's, if any.
    pub fn both(&self) -> impl Iterator<Item = &Turn> {
        std::iter::once(self).chain(self.second.as_deref())
    }

    pub fn finish(&mut self, generation: Generation) {
        self.answer = generation.text;
        self.pieces = generation.pieces;
        self.state = TurnState::Done(generation.stop);
        self.attention = generation.attention;
        self.timings = Some(generation.timings);
    }
}

/// A gallery entry.
pub struct Sample {
    pub name: &'static str,
    make: fn() -> Result<Document>,
}

impl Sample {
    pub fn open(&self) -> Result<Document> {
        (self.make)()
    }
}

fn scene_sample(name: &str, seed: u64, request: &SceneRequest) -> Result<Document> {
    let scene = Scene::generate(seed, request).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Document::from_scene(name, scene)
}

/// Generated scenes that show off counting, identifying and locating.
pub const SAMPLES: &[Sample] = &[
    Sample {
        name: "Three circles",
        make: || {
            scene_sample(
                "Three circles",
                11,
                &SceneRequest::new().objects(3, 5).exactly(Shape::Circle, 3),
            )
        },
    },
    Sample {
        name: "One circle among others",
        make: || {
            scene_sample(
                "One circle among others",
                17,
                &SceneRequest::new().objects(4, 6).exactly(Shape::Circle, 1),
            )
        },
    },
    Sample {
        name: "Five red stars",
        make: || {
            scene_sample(
                "Five red stars",
                12,
                &SceneRequest::new()
                    .objects(5, 7)
                    .exactly((Color::Red, Shape::Star), 5),
            )
        },
    },
    Sample {
        name: "A crowd of shapes",
        make: || scene_sample("A crowd of shapes", 13, &SceneRequest::new().objects(8, 9)),
    },
    Sample {
        name: "Nine stars",
        make: || {
            scene_sample(
                "Nine stars",
                18,
                &SceneRequest::new().objects(9, 9).exactly(Shape::Star, 9),
            )
        },
    },
    // The same kind of scene drawn otherwise (squashed, tilted, outlined, other
    // proportions): does the model see shapes or one renderer's pixels?
    Sample {
        name: "Another drawing style",
        make: || {
            scene_sample(
                "Another drawing style",
                21,
                &SceneRequest::new().objects(5, 7).varied(),
            )
        },
    },
    Sample {
        name: "Hearts and rings",
        make: || {
            scene_sample(
                "Hearts and rings",
                14,
                &SceneRequest::new()
                    .objects(4, 6)
                    .at_least(Shape::Heart, 2)
                    .at_least(Shape::Ring, 1),
            )
        },
    },
    Sample {
        name: "One lonely triangle",
        make: || {
            scene_sample(
                "One lonely triangle",
                15,
                &SceneRequest::new()
                    .objects(1, 1)
                    .exactly(Shape::Triangle, 1),
            )
        },
    },
    Sample {
        name: "Empty canvas",
        make: || scene_sample("Empty canvas", 16, &SceneRequest::new().objects(0, 0)),
    },
    // Photos (licences in assets/samples/README.md): nothing like the default model's
    // training data, which is the point of probing with them.
    Sample {
        name: "Photo: coins",
        make: || {
            Document::from_bytes(
                "coins.jpg",
                include_bytes!("../../../assets/samples/coins.jpg"),
            )
        },
    },
    Sample {
        name: "Photo: cat",
        make: || {
            Document::from_bytes(
                "chelsea.jpg",
                include_bytes!("../../../assets/samples/chelsea.jpg"),
            )
        },
    },
    Sample {
        name: "Photo: coffee",
        make: || {
            Document::from_bytes(
                "coffee.jpg",
                include_bytes!("../../../assets/samples/coffee.jpg"),
            )
        },
    },
];

/// The GVTBench question templates (and the other kinds the default model learnt), filled
/// with classes that fit: the scene's own shapes when the ground truth is known, else a
/// spread of classes. The wording is [`Qa`]'s, exactly what the model was trained on.
pub fn suggested_questions(scene: Option<&Scene>) -> Vec<String> {
    let Some(scene) = scene else {
        // Any scene serves to phrase questions; only the answers would depend on it.
        let Ok(blank) = Scene::generate(0, &SceneRequest::new().objects(0, 0)) else {
            return Vec::new();
        };
        return [Shape::Circle, Shape::Star]
            .iter()
            .map(|&s| Qa::count(&blank, s).question)
            .chain([
                Qa::exist(&blank, Shape::Square).question,
                Qa::describe(&blank).question,
            ])
            .collect();
    };
    let present = scene.shapes_present();
    let absent = Shape::ALL.iter().copied().find(|s| !present.contains(s));
    let mut out: Vec<Qa> = present
        .iter()
        .take(2)
        .map(|&s| Qa::count(scene, s))
        .collect();
    out.extend(present.first().map(|&s| Qa::exist(scene, s)));
    out.extend(absent.map(|s| Qa::exist(scene, s)));
    out.extend(present.iter().find_map(|&s| Qa::color_of(scene, s)));
    out.extend(
        scene
            .objects
            .iter()
            .find_map(|o| Qa::position_of(scene, o.color, o.shape)),
    );
    out.push(Qa::describe(scene));
    out.into_iter().map(|qa| qa.question).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gallery entry opens, and the generated ones hold what their names promise.
    #[test]
    fn samples_open_and_match_their_names() {
        for sample in SAMPLES {
            let document = sample
                .open()
                .unwrap_or_else(|e| panic!("{}: {e}", sample.name));
            let Some(scene) = &document.scene else {
                assert!(sample.name.starts_with("Photo"), "{}", sample.name);
                continue;
            };
            let classic = scene.style == gvt_scene::Style::default();
            assert_eq!(
                classic,
                sample.name != "Another drawing style",
                "{}",
                sample.name
            );
            let counts = [
                ("Three circles", Shape::Circle, 3),
                ("One circle among others", Shape::Circle, 1),
                ("Nine stars", Shape::Star, 9),
                ("One lonely triangle", Shape::Triangle, 1),
            ];
            for (name, shape, n) in counts {
                if sample.name == name {
                    assert_eq!(scene.count(shape), n, "{name}");
                }
            }
        }
    }
}
