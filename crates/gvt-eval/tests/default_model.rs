//! The embedded default model (`assets/gvt-tiny.gguf`): its scores on held-out scenes, the
//! same answers on the CPU and the GPU, and attention that falls on the objects asked about.
//! The floors sit a few points under the scores recorded in `assets/MODEL.md`, so a change
//! that breaks the model, the loader or generation fails here.

use gvt_core::attention::MapView;
use gvt_core::default_model;
use gvt_core::device::ComputeDevice;
use gvt_core::generate::{CancelFlag, GenerateOptions};
use gvt_core::pipeline::Pipeline;
use gvt_eval::report::Report;
use gvt_eval::synthetic;
use gvt_scene::qa::{Qa, Split};
use gvt_scene::{Scene, SceneRequest};
use image::DynamicImage;

fn load(device: ComputeDevice) -> Pipeline {
    let file = default_model::open().expect("the embedded model parses");
    Pipeline::load(&file, None, device, &mut |_, _| {}).expect("the embedded model loads")
}

fn accuracy(report: &Report, task: &str) -> f64 {
    report
        .entries
        .iter()
        .find(|e| e.name == task)
        .unwrap_or_else(|| panic!("{task} missing from the report"))
        .metrics
        .accuracy()
}

const SCENES: usize = 200;
/// (task, floor) on the first 200 test scenes from seed 0: two and a half to four points
/// under the scores measured when the model was shipped (OC 98.9, MCI 100.0, colour 100.0,
/// position 99.4; chance is about 11% for position; 95.5 on the balanced counts 0-9, and
/// 98.9 and 99.5 on counting and presence asked in the held-out phrasings).
const FLOORS: [(&str, f64); 7] = [
    ("OC", 0.96),
    ("MCI", 0.96),
    ("color", 0.96),
    ("position", 0.95),
    ("OC, counts 0-9", 0.93),
    ("OC, paraphrased", 0.96),
    ("MCI, paraphrased", 0.96),
];
/// Scenes asked again on the GPU (lavapipe in CI is slow).
const GPU_SCENES: usize = 40;

fn evaluate(pipeline: &Pipeline, n: usize) -> (Report, Vec<synthetic::Sample>) {
    pollster::block_on(synthetic::evaluate(
        pipeline,
        Split::Test,
        n,
        0,
        &CancelFlag::default(),
        &mut |_, _| {},
    ))
    .unwrap()
}

#[test]
fn held_out_scores_stay_above_the_floor_on_cpu_and_gpu() {
    let (cpu, cpu_samples) = evaluate(&load(ComputeDevice::cpu()), SCENES);
    eprint!("{}", cpu.to_table());
    for (task, floor) in FLOORS {
        let got = accuracy(&cpu, task);
        assert!(got >= floor, "{task}: {got:.3} is under the floor {floor}");
    }
    // The GPU path (wgpu, Q8_0 weights kept quantized) gives the same answers.
    if let Some(gpu) = gvt_testkit::wgpu_compute() {
        let (_, gpu_samples) = evaluate(&load(gpu), GPU_SCENES);
        let same = gpu_samples
            .iter()
            .zip(&cpu_samples)
            .filter(|(g, c)| g.qa == c.qa && g.answer == c.answer)
            .count();
        let share = same as f64 / gpu_samples.len() as f64;
        eprintln!(
            "GPU and CPU agree on {same} of {} answers",
            gpu_samples.len()
        );
        assert!(
            share >= 0.98,
            "GPU and CPU answers differ: {share:.3} agree"
        );
    }
}

#[test]
fn counting_attention_falls_on_the_counted_objects() {
    let pipeline = load(ComputeDevice::cpu());
    let vision = pipeline.config.vision.clone().unwrap();
    let options = GenerateOptions {
        max_new_tokens: 4,
        capture_attention: true,
        ..Default::default()
    };
    let (mut on_objects, mut chance, mut scenes) = (0.0, 0.0, 0);
    for seed in Split::Test.seeds(1000).take(40) {
        let scene = Scene::generate(seed, &SceneRequest::default()).unwrap();
        let Some(&shape) = scene.shapes_present().first() else {
            continue;
        };
        let image = DynamicImage::ImageRgb8(scene.render(vision.image_size as u32).unwrap());
        let qa = Qa::count(&scene, shape);
        let answer = pollster::block_on(pipeline.ask(
            Some(&image),
            &qa.question,
            &options,
            &CancelFlag::default(),
            &mut |_| {},
        ))
        .unwrap();
        let map = answer
            .attention
            .unwrap()
            .answer_heatmap(MapView::Combined)
            .unwrap();
        let g = map.grid;
        let inside = |i: usize| {
            let x = ((i % g) as f32 + 0.5) / g as f32;
            let y = ((i / g) as f32 + 0.5) / g as f32;
            scene
                .objects
                .iter()
                .filter(|o| o.shape == shape)
                .any(|o| o.bbox[0] <= x && x <= o.bbox[2] && o.bbox[1] <= y && y <= o.bbox[3])
        };
        let patches: Vec<usize> = (0..g * g).filter(|&i| inside(i)).collect();
        on_objects += patches.iter().map(|&i| map.values[i] as f64).sum::<f64>();
        chance += patches.len() as f64 / (g * g) as f64;
        scenes += 1;
    }
    let (on_objects, chance) = (on_objects / scenes as f64, chance / scenes as f64);
    eprintln!(
        "attention mass on the counted objects' boxes: {:.1}% (their area: {:.1}%) over {scenes} scenes",
        100.0 * on_objects,
        100.0 * chance
    );
    assert!(on_objects > 1.5 * chance);
}

/// The second renderer's set (`tests/fixtures/pil-scenes`, drawn by Pillow: flat shapes on
/// white, non-square canvases, other proportions; never trained on), through the GVTBench
/// harness `gvt eval gvtbench` runs. The floors sit a few points under the shipped model's
/// scores there (OC 83.0 on 300 questions; MCI 98.7 on 600; the first generation scored
/// 33.3 and 87.3); OC is still short of issue 23's bar (OC >= 85, MCI >= 95).
#[test]
fn scenes_drawn_by_another_renderer_stay_above_the_floor() {
    use gvt_eval::gvtbench::{self, Task};
    use gvt_eval::real;
    let pipeline = load(ComputeDevice::cpu());
    let images = gvt_testkit::fixture("pil-scenes");
    for (file, task, floor) in [("oc.json", Task::Oc, 0.79), ("mci.json", Task::Mci, 0.95)] {
        let items = gvtbench::load(images.join(file)).unwrap();
        let outcome = pollster::block_on(real::run(
            &pipeline,
            &items,
            &images,
            None,
            Default::default(),
            &mut std::io::sink(),
            &CancelFlag::default(),
            &mut |_, _| {},
        ))
        .unwrap();
        assert!(outcome.missing.is_empty(), "{:?}", outcome.missing);
        assert_eq!(outcome.answers.len(), items.len());
        let report = real::report(task, &items, &outcome.answers, "pil-scenes").unwrap();
        eprint!("{}", report.to_table());
        let got = accuracy(&report, task.name());
        assert!(
            got >= floor,
            "{}: {got:.3} is under the floor {floor}",
            task.name()
        );
    }
}
