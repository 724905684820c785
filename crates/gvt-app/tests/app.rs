//! The desktop app driven like a person would, through its accessibility labels
//! (egui_kittest): open a sample scene, ask, read the streamed answer, click the answer
//! token, switch attention views; and a broken image file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gvt_app::{AppOptions, GvtApp, ViewKind, landmarks};
use gvt_core::device::DeviceChoice;
use gvt_scene::{Color, Scene, SceneRequest, Shape};

type App = Option<GvtApp>;

/// The app on the CPU, created on the harness's first frame (it needs the egui context).
fn harness() -> Harness<'static, App> {
    harness_with(AppOptions {
        device: DeviceChoice::Cpu,
        scene_seed: 7,
        ..AppOptions::default()
    })
}

fn harness_with(options: AppOptions) -> Harness<'static, App> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(
            move |ui, app: &mut App| {
                app.get_or_insert_with(|| GvtApp::new(ui.ctx(), options.clone()))
                    .show(ui)
            },
            None,
        )
}

fn app<'h>(harness: &'h Harness<'_, App>) -> &'h GvtApp {
    harness
        .state()
        .as_ref()
        .expect("the app starts on the first frame")
}

/// Runs frames until `done` holds (the engine works on its own thread meanwhile).
fn wait_for(harness: &mut Harness<'_, App>, what: &str, done: impl Fn(&GvtApp) -> bool) {
    let started = Instant::now();
    loop {
        harness.step();
        if done(app(harness)) {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            if let Ok(image) = harness.render() {
                let _ = image.save(std::env::temp_dir().join("gvt-app-timeout.png"));
            }
            panic!(
                "timed out waiting for {what} (last frame: gvt-app-timeout.png in the temp dir)"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

/// A snapshot with the answer's timings masked: they differ from run to run, the rest of
/// the window must not (a fixed width: the text's own width varies with the figures).
fn snapshot_without_timings(harness: &mut Harness<'_, App>, name: &str) {
    let timings = harness.get_by_label_contains("prefill").rect();
    harness.mask(egui::Rect::from_min_size(
        timings.min,
        egui::vec2(360.0, timings.height()),
    ));
    harness.snapshot(name);
}

/// Opens the gallery sample `name`.
fn open_sample(harness: &mut Harness<'_, App>, name: &str) {
    harness.get_by_label("Samples").click();
    harness.step();
    harness.step();
    harness.get_by_label(name).click();
    harness.step();
    harness.step();
}

/// Types `order` into the scene field and opens the new scene it asks for.
fn new_scene_with(harness: &mut Harness<'_, App>, order: &str) {
    harness.get_by_label("Scene must contain").click();
    harness.step();
    harness.get_by_label("Scene must contain").type_text(order);
    harness.step();
    harness.get_by_label("New scene").click();
    // A new scene's first frame only measures the conversation panel.
    harness.step();
    harness.step();
}

/// Opens the Probe panel, sets the count sweep's levels to 0..`last` (10 scenes each, the
/// default), runs it and waits until it is done.
fn run_count_probe(harness: &mut Harness<'_, App>, last: u32) {
    harness.get_by_label("Probe").click();
    // A new panel's first frame only measures it: clicks land from the second.
    harness.step();
    harness.step();
    harness.get_by_label("Probe levels").click();
    harness.step();
    assert!(harness.get_by_label("Probe levels").is_focused());
    // "0..9" becomes "0..{last}".
    harness.key_press(egui::Key::End);
    harness.step();
    harness.key_press(egui::Key::Backspace);
    harness.step();
    harness
        .get_by_label("Probe levels")
        .type_text(&last.to_string());
    harness.step();
    let levels = format!("0..{last}");
    assert_eq!(
        harness.get_by_label("Probe levels").value().as_deref(),
        Some(levels.as_str())
    );
    // Enter leaves the field, so that the next click lands on the button.
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.get_by_label("Run probe").click();
    harness.step();
    assert!(
        app(harness).probe_run().is_some(),
        "Run probe started nothing"
    );
    wait_for(harness, "the probe", |app| {
        app.probe_run().is_some_and(|run| !run.running)
    });
}

/// Types `question` into the question box, asks it, and runs frames until the current
/// image has an answer that is no longer streaming.
fn ask(harness: &mut Harness<'_, App>, question: &str) {
    harness.get_by_label("Question").click();
    harness.step();
    assert!(harness.get_by_label("Question").is_focused());
    harness.get_by_label("Question").type_text(question);
    harness.step();
    harness.get_by_label("Ask").click();
    wait_for(harness, &format!("the answer to \"{question}\""), |app| {
        app.current_document()
            .is_some_and(|d| !d.turns.is_empty() && !d.is_busy())
    });
}

#[test]
fn ask_about_a_sample_scene_and_explore_its_attention() {
    let mut harness = harness();
    wait_for(&mut harness, "the default model", |app| {
        app.model().is_some()
    });
    assert!(app(&harness).model().unwrap().has_vision);

    open_sample(&mut harness, "One lonely triangle");
    let truth = app(&harness)
        .current_document()
        .and_then(|d| d.scene.as_ref())
        .expect("a generated sample has a ground truth")
        .count(Shape::Triangle);
    assert_eq!(truth, 1);

    ask(&mut harness, "How many triangles are there in the image?");
    let doc = app(&harness).current_document().unwrap();
    assert_eq!(
        doc.turns[0].answer.trim(),
        truth.to_string(),
        "streamed answer"
    );
    assert!(
        app(&harness).overlay_map().is_none(),
        "no overlay before a click"
    );
    harness.get_by_label("Image One lonely triangle");

    harness
        .get_by_label(&format!("Answer token 1: {truth}"))
        .click();
    harness.step();
    let combined = app(&harness)
        .overlay_map()
        .expect("an overlay after the click");
    assert_eq!(combined.values.len(), combined.grid * combined.grid);
    harness.get_by_label_contains("with attention overlay: answer 1 token 1 \"1\", combined");

    // The landmarks the browser page publishes sit where the accessibility tree puts the
    // same controls.
    let landmarks = landmarks(&harness.ctx);
    for label in ["New scene", "Question", "Ask", "Answer token 1: 1"] {
        let mark = landmarks
            .iter()
            .find(|l| l.label == label)
            .unwrap_or_else(|| panic!("no landmark {label:?} in {landmarks:?}"));
        let node = harness.get_by_label(label).rect();
        assert!(
            (mark.rect.min - node.min).length() < 1.0 && (mark.rect.max - node.max).length() < 1.0,
            "{label}: landmark {:?}, accessibility node {node:?}",
            mark.rect
        );
    }
    assert!(landmarks.iter().any(|l| l.label == "Image"));

    harness.get_by_label("Rollout").click();
    harness.step();
    assert_eq!(app(&harness).view(), ViewKind::Rollout);
    let rollout = app(&harness).overlay_map().unwrap();
    assert_ne!(rollout, combined, "switching the view changes the map");
    harness.get_by_label_contains("attention rollout");

    harness.get_by_label("Latent 5 map").click();
    harness.step();
    assert_eq!(app(&harness).view(), ViewKind::Latent);
    let latent = app(&harness).overlay_map().unwrap();
    assert_ne!(latent, rollout);
    harness.get_by_label_contains("latent 5");

    harness.get_by_label("Combined").click();
    harness.step();
    harness.step();
    assert_eq!(app(&harness).overlay_map().unwrap(), combined);
    snapshot_without_timings(&mut harness, "sample_scene_with_overlay");
}

#[test]
fn a_broken_image_shows_an_error_and_the_app_goes_on() {
    let mut harness = harness();
    harness.step();
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(BrokenFile(PathBuf::from("broken.png"))));
    wait_for(&mut harness, "the error", |app| app.error().is_some());
    assert!(app(&harness).current_document().is_none());
    let error = app(&harness).error().expect("an error message").to_string();
    assert!(error.contains("broken.png"), "{error}");
    harness.get_by_label_contains("Error: cannot read the image: broken.png");
    // The default model finishing its load in the meantime leaves the message on screen.
    wait_for(&mut harness, "the default model", |app| {
        app.model().is_some()
    });
    let error = app(&harness).error().map(str::to_owned);
    assert!(error.is_some_and(|e| e.contains("broken.png")));

    harness.get_by_label("New scene").click();
    // The status bar shows the model once loaded (a loading percentage would vary).
    wait_for(&mut harness, "the default model", |app| {
        app.model().is_some()
    });
    assert!(app(&harness).current_document().is_some());
    assert!(app(&harness).error().is_none());
    harness.snapshot("new_scene_after_error");
}

#[test]
fn new_scene_makes_the_scene_the_field_asks_for() {
    let mut harness = harness();
    harness.step();
    new_scene_with(&mut harness, "exactly 3 red stars, no hearts");
    let doc = app(&harness).current_document().expect("a new scene");
    let scene = doc.scene.as_ref().expect("a generated scene");
    assert_eq!(
        scene.count((Color::Red, Shape::Star)),
        3,
        "{:?}",
        scene.objects
    );
    assert_eq!(scene.count(Shape::Heart), 0, "{:?}", scene.objects);
    harness.get_by_label("Image Scene 7: exactly 3 red stars, no hearts");

    // A phrase it cannot read: an error in the status bar, the open scene stays, and Enter
    // in the field is what asks.
    harness.get_by_label("Scene must contain").click();
    harness.step();
    harness.key_press(egui::Key::End);
    harness.step();
    harness
        .get_by_label("Scene must contain")
        .type_text(", 2 blobs");
    harness.step();
    harness.key_press(egui::Key::Enter);
    harness.step();
    let error = app(&harness).error().expect("an error").to_string();
    assert!(error.contains("cannot read \"2 blobs\""), "{error}");
    harness.get_by_label_contains("\"blobs\" is not a shape");
    assert_eq!(
        app(&harness).current_document().map(|d| d.name.as_str()),
        Some("Scene 7: exactly 3 red stars, no hearts")
    );
}

/// A dropped file whose bytes are a PNG signature followed by garbage.
#[derive(Debug)]
struct BrokenFile(PathBuf);

impl egui::DroppedFile for BrokenFile {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Ok(b"\x89PNG\r\n\x1a\nthis is not a picture".to_vec())
    }
}

#[test]
fn a_pasted_image_opens_and_the_model_panel_tells_what_runs_where() {
    let mut harness = harness();
    wait_for(&mut harness, "the default model", |app| {
        app.model().is_some()
    });

    let image = egui::ColorImage::new([40, 30], vec![egui::Color32::from_rgb(200, 30, 30); 1200]);
    harness.event(egui::Event::PasteImage(Arc::new(image)));
    harness.step();
    let doc = app(&harness)
        .current_document()
        .expect("the pasted image is open");
    assert_eq!(doc.name, "Pasted image");
    assert_eq!((doc.image.width(), doc.image.height()), (40, 30));
    assert!(doc.scene.is_none(), "a pasted image has no ground truth");
    let image = egui::ColorImage::new([8, 8], vec![egui::Color32::BLUE; 64]);
    harness.event(egui::Event::PasteImage(Arc::new(image)));
    harness.step();
    assert_eq!(
        app(&harness).current_document().unwrap().name,
        "Pasted image (2)",
        "a second paste gets its own name"
    );

    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::M);
    harness.step();
    harness.step();
    harness.get_by_label("Parameters");
    harness.get_by_label("F32 x 91, Q8_0 x 65");
    harness.get_by_label("CPU (GVT Lens engine)");
    harness.get_by_label("Kernels");
    harness.get_by_label(&format!(
        "GVT Lens CPU engine ({}), weights as stored",
        gvt_core::device::shared_cpu().describe()
    ));
    harness.get_by_label("Load GGUF…");
}

/// Drops a truncated GGUF called `name` on the window and waits for the load error.
fn drop_corrupt_gguf(harness: &mut Harness<'_, App>, name: &str) {
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, b"GGUF\x03\x00\x00\x00 truncated").unwrap();
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(BrokenFile(path)));
    wait_for(harness, "the load error", |app| {
        !app.is_loading() && app.error().is_some()
    });
}

#[test]
fn a_corrupt_gguf_is_refused_and_the_loaded_model_keeps_answering() {
    let mut harness = harness();
    wait_for(&mut harness, "the default model", |app| {
        app.model().is_some()
    });
    let before = app(&harness).model().cloned();

    drop_corrupt_gguf(&mut harness, "gvt-app-test-corrupt.gguf");
    let error = app(&harness).error().unwrap().to_string();
    assert!(error.contains("cannot load the model"), "{error}");
    assert_eq!(
        app(&harness).model().cloned(),
        before,
        "the old model stays"
    );

    // Switching the device reloads the model that runs, not the file that failed.
    harness.get_by_label("Auto").click();
    harness.step();
    wait_for(&mut harness, "the reload", |app| !app.is_loading());
    assert!(
        app(&harness).error().is_none(),
        "{:?}",
        app(&harness).error()
    );
    assert_eq!(app(&harness).model().unwrap().name, before.unwrap().name);

    harness.get_by_label("New scene").click();
    harness.step();
    harness.step();
    harness.get_by_label("Question").click();
    harness.step();
    harness
        .get_by_label("Question")
        .type_text("Does circle exist in the image?");
    harness.step();
    harness.key_press(egui::Key::Enter);
    wait_for(&mut harness, "the answer", |app| {
        app.current_document()
            .is_some_and(|d| !d.turns.is_empty() && !d.is_busy())
    });
    let answer = &app(&harness).current_document().unwrap().turns[0].answer;
    assert!(answer == "Yes." || answer == "No.", "{answer}");
}

#[test]
fn a_model_that_fails_off_the_cpu_offers_the_cpu() {
    let mut harness = harness_with(AppOptions {
        device: DeviceChoice::Auto,
        scene_seed: 7,
        ..AppOptions::default()
    });
    wait_for(&mut harness, "the default model", |app| {
        app.model().is_some()
    });
    drop_corrupt_gguf(&mut harness, "gvt-app-test-corrupt-auto.gguf");
    harness.get_by_label("Run on CPU instead").click();
    harness.step();
    wait_for(&mut harness, "the reload on the CPU", |app| {
        !app.is_loading() && app.model().is_some_and(|m| !m.is_gpu)
    });
    assert!(app(&harness).error().is_none());
    assert_eq!(
        app(&harness).model().unwrap().device,
        "CPU (GVT Lens engine)"
    );
    // On the CPU there is nothing left to offer.
    assert!(harness.query_by_label("Run on CPU instead").is_none());
}

#[test]
fn the_start_up_question_is_answered_and_its_first_token_shown() {
    let scene = Scene::generate(
        5,
        &SceneRequest::new().objects(2, 4).exactly(Shape::Star, 1),
    )
    .unwrap();
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(scene.render(256).unwrap())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut harness = harness_with(AppOptions {
        device: DeviceChoice::Cpu,
        image: Some(("stars.png".into(), png)),
        question: Some("Does star exist in the image?".into()),
        ..AppOptions::default()
    });
    wait_for(&mut harness, "the start-up answer", |app| {
        app.selection().is_some()
    });
    let doc = app(&harness).current_document().unwrap();
    assert_eq!(doc.name, "stars.png");
    assert_eq!(doc.turns.len(), 1);
    assert!(app(&harness).overlay_map().is_some());
    harness.get_by_label_contains("with attention overlay: answer 1 token 1");
}

#[test]
fn a_lost_gpu_fails_the_answer_and_offers_the_cpu_which_answers() {
    // A lost GPU stays lost for the whole process, and other tests use it.
    if !gvt_testkit::in_own_process("a_lost_gpu_fails_the_answer_and_offers_the_cpu_which_answers")
    {
        return;
    }
    let Some(gpu) = gvt_testkit::wgpu_compute() else {
        return;
    };
    let mut harness = harness_with(AppOptions {
        device: DeviceChoice::Gpu,
        scene_seed: 7,
        ..AppOptions::default()
    });
    wait_for(&mut harness, "the default model on the GPU", |app| {
        app.model().is_some_and(|m| m.is_gpu)
    });
    harness.get_by_label("New scene").click();
    harness.step();
    harness.step();
    gvt_testkit::lose_gpu(&gpu);

    let question = "How many circles are there in the image?";
    ask(&mut harness, question);
    harness.get_by_label_contains("Error: the GPU failed: the device was lost (");

    harness.get_by_label("Run on CPU instead").click();
    harness.step();
    wait_for(&mut harness, "the answer on the CPU", |app| {
        app.model().is_some_and(|m| !m.is_gpu)
            && app
                .current_document()
                .is_some_and(|d| d.turns.len() == 2 && !d.is_busy())
    });
    let doc = app(&harness).current_document().unwrap();
    assert_eq!(doc.turns[1].question, question);
    assert!(!doc.turns[1].answer.trim().is_empty());
    assert_eq!(
        app(&harness).model().unwrap().device,
        "CPU (GVT Lens engine)"
    );
    // The failed turn keeps its error; on the CPU nothing more is offered.
    assert!(harness.query_by_label("Run on CPU instead").is_none());
}

#[test]
fn a_probe_draws_its_curve_and_a_level_opens_with_its_answers() {
    let mut harness = harness();
    wait_for(&mut harness, "the model", |app| app.model().is_some());
    // The count sweep, levels 0..2 instead of the default 0..9, 10 scenes each.
    run_count_probe(&mut harness, 2);
    let run = app(&harness).probe_run().unwrap();
    assert_eq!(run.error, None);
    assert_eq!(run.spec.levels, vec![0, 1, 2]);
    let report = run.report();
    let per_level: Vec<usize> = report.models[0].levels.iter().map(|s| s.n).collect();
    assert_eq!(per_level, vec![10, 10, 10]);
    for a in &run.answers {
        assert_eq!(
            a.truth,
            a.level.to_string(),
            "a count sweep asks the level's count"
        );
    }
    harness.get_by_label_contains("Done: 30 questions");
    harness.get_by_label("Probe curve");
    harness.snapshot("probe_panel_with_curve");

    // Its row opens level 2's scenes, each asked its question again.
    // Level 0's row opens its scenes; a click on the curve opens the nearest level's: at
    // the plot's right end, the last level.
    harness.get_by_label("Open level 0").click();
    harness.step();
    let doc = app(&harness)
        .current_document()
        .expect("a scene of level 0");
    assert!(doc.name.starts_with("count 0, scene "), "{}", doc.name);
    // The conversation panel that came with the scene narrows the plot: let it settle.
    harness.step();
    harness.step();
    let plot = harness.get_by_label("Probe curve").rect();
    let at = egui::pos2(plot.right() - 12.0, plot.center().y);
    harness.hover_at(at);
    harness.step();
    harness.drag_at(at);
    harness.step();
    harness.drop_at(at);
    harness.step();
    let doc = app(&harness)
        .current_document()
        .expect("a scene of level 2");
    assert!(doc.name.starts_with("count 2, scene "), "{}", doc.name);
    let question = doc.turns[0].question.clone();
    let shape = Shape::ALL
        .into_iter()
        .find(|s| question.contains(&format!(" {} ", s.plural())))
        .expect("a counting question");
    assert_eq!(doc.scene.as_ref().unwrap().count(shape), 2, "{question}");
    wait_for(&mut harness, "the reopened scene's answer", |app| {
        app.overlay_map().is_some()
    });
    let doc = app(&harness).current_document().unwrap();
    let recorded = &run_answer(&harness, &doc.name);
    assert_eq!(
        doc.turns[0].answer.trim_end_matches('.'),
        recorded.trim_end_matches('.')
    );
}

/// The probe's answer for the scene a document was opened from ("count 2, scene 7").
fn run_answer(harness: &Harness<'_, App>, name: &str) -> String {
    let index: usize = name.rsplit(' ').next().unwrap().parse().unwrap();
    let run = app(harness).probe_run().unwrap();
    run.answers
        .iter()
        .find(|a| a.level == 2 && a.index == index)
        .map(|a| a.answer.clone())
        .unwrap()
}

#[test]
fn what_if_a_star_is_removed_the_truth_and_the_answer_change_side_by_side() {
    let mut harness = harness();
    wait_for(&mut harness, "the model", |app| app.model().is_some());
    new_scene_with(&mut harness, "exactly 2 stars, exactly 3 objects");
    ask(&mut harness, "How many stars are there in the image?");
    let original = app(&harness).current_document().unwrap();
    assert_eq!(original.turns[0].answer.trim(), "2");
    let scene = original.scene.clone().unwrap();
    let star = scene
        .objects
        .iter()
        .position(|o| o.shape == Shape::Star)
        .unwrap();
    let o = &scene.objects[star];

    harness.get_by_label("What if…").click();
    harness.step();
    harness.step();
    let label = format!(
        "Object {}: {}, {}",
        star + 1,
        gvt_scene::edit::object_name(o),
        o.position().word()
    );
    harness.get_by_label(&label).click();
    harness.step();
    harness.get_by_label("Remove").click();
    harness.step();
    let edited = app(&harness).current_document().unwrap();
    assert!(
        edited
            .name
            .ends_with(&format!("remove the {}", gvt_scene::edit::object_name(o)))
    );
    let truth = edited.scene.as_ref().unwrap();
    assert_eq!(
        truth.count(Shape::Star),
        1,
        "the ground truth follows the edit"
    );
    assert_eq!(truth.objects.len(), scene.objects.len() - 1);
    wait_for(&mut harness, "the edited scene's answer", |app| {
        app.current_document()
            .is_some_and(|d| !d.turns.is_empty() && !d.is_busy())
    });
    let edited = app(&harness).current_document().unwrap();
    assert_eq!(
        edited.turns[0].question,
        "How many stars are there in the image?"
    );
    assert_eq!(
        edited.turns[0].answer.trim(),
        "1",
        "the same question, asked again"
    );
    harness.step();
    harness.get_by_label("Before: 2");
    harness.get_by_label("After: 1");
    harness.get_by_label("Difference map");
    snapshot_without_timings(&mut harness, "what_if_side_by_side");
}

#[test]
fn a_second_model_answers_beside_the_first_and_probes_beside_it() {
    let mut harness = harness();
    wait_for(&mut harness, "the model", |app| app.model().is_some());
    harness.get_by_label("Model").click();
    harness.step();
    harness.step();
    harness
        .get_by_label("Compare with the default model")
        .click();
    wait_for(&mut harness, "the second model", |app| {
        app.second_model().is_some()
    });
    open_sample(&mut harness, "One lonely triangle");
    ask(&mut harness, "How many triangles are there in the image?");
    let doc = app(&harness).current_document().unwrap();
    let (first, second) = (&doc.turns[0], doc.turns[0].second.as_ref().unwrap());
    assert_eq!(first.answer.trim(), "1");
    // The same weights, asked the same question greedily: the same answer and map.
    assert_eq!(second.answer, first.answer);
    assert_eq!(second.attention, first.attention);
    harness.step();
    harness.get_by_label("B: 1");
    harness.get_by_label("Second model: 1");
    harness.get_by_label("First model's overlay");
    harness.get_by_label("Second model's overlay");
    harness.get_by_label("Difference map");

    // A probe asks both, one curve each.
    run_count_probe(&mut harness, 1);
    let run = app(&harness).probe_run().unwrap();
    assert_eq!(run.models.len(), 2);
    assert_eq!(run.answers.len(), 2 * 2 * 10);
    let report = run.report();
    let curve = |m: usize| -> Vec<(usize, usize)> {
        report.models[m]
            .levels
            .iter()
            .map(|s| (s.n, s.correct))
            .collect()
    };
    assert_eq!(
        curve(0).iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![10, 10]
    );
    assert_eq!(
        curve(0),
        curve(1),
        "the same model gives the same curve twice"
    );
}
