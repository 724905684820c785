//! `gvt train`'s machinery: a trained model exports to GGUF that answers exactly like the
//! in-memory model, and a run resumed from a checkpoint continues exactly.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use gvt_core::device::ComputeDevice;
use gvt_core::generate::CancelFlag;
use gvt_core::gguf::GgufFile;
use gvt_core::model::{Gvt, Keep, KvCache, WeightFormat};
use gvt_core::pipeline::Pipeline;
use gvt_core::preprocess::Preprocessor;
use gvt_scene::Scene;
use gvt_train::{Event, TrainConfig, Trainer};
use image::DynamicImage;

fn small_run(seed: u64) -> TrainConfig {
    TrainConfig::new()
        .with_seed(seed)
        .with_vision_steps(3)
        .with_qa_steps(2)
        .with_vision_batch(2)
        .with_qa_batch(2)
        .with_questions_per_scene(2)
        .with_eval_every(0)
        .with_checkpoint_every(0)
}

/// Last-position logits of `model` for a scene and a question, on its own device.
fn logits(model: &Gvt, pipeline_like: &Pipeline, scene: &Scene) -> Vec<f32> {
    let vision = pipeline_like.config.vision.as_ref().unwrap();
    let image = DynamicImage::ImageRgb8(scene.render(vision.image_size as u32).unwrap());
    let prompt = pipeline_like
        .prompt("How many circles are there in the image?", Some(&image))
        .unwrap();
    let device = model.llm.devices()[0].clone();
    let pixels = Preprocessor::new(vision).tensor(&image, &device);
    let visual = model.visual.as_ref().unwrap().forward(pixels, None);
    let embeds = model.prompt_embeds(&prompt.prefix, Some(visual.embeds), &prompt.suffix);
    let [_, t, _] = embeds.dims();
    let step = model.llm.forward(
        embeds,
        &mut KvCache::new(model.llm.depth()),
        Keep::default(),
    );
    let last: Tensor<3> = model.llm.logits(step.hidden.narrow(1, t - 1, 1));
    gvt_testkit::to_vec(last)
}

#[test]
fn exported_gguf_answers_like_the_model_in_memory() {
    let device = Device::flex();
    // At another image size than the preset's: the file says it, and the pipeline sees it.
    let mut trainer = Trainer::new(small_run(3).with_image_size(96), &device).unwrap();
    // A couple of steps so that no parameter is still at its initial constant.
    trainer.step().unwrap();
    let file = GgufFile::from_bytes(trainer.export(WeightFormat::F32).unwrap().to_bytes()).unwrap();
    assert!(
        file.tensors.iter().all(|t| !t.name.starts_with("train.")),
        "the stage 1 probe stays out of exported models"
    );
    let pipeline = Pipeline::load(&file, None, ComputeDevice::flex(), &mut |_, _| {}).unwrap();
    assert_eq!(pipeline.config.vision.as_ref().unwrap().image_size, 96);
    let scene = Scene::random(11);
    let in_memory = logits(&trainer.model().gvt.valid(), &pipeline, &scene);
    let exported = logits(pipeline.model.burn().unwrap(), &pipeline, &scene);
    gvt_testkit::assert_close("exported vs in-memory logits", &exported, &in_memory, 1e-5);

    // Q8_0 keeps the answer's ranking and stays close.
    let q8 = GgufFile::from_bytes(trainer.export(WeightFormat::Q8_0).unwrap().to_bytes()).unwrap();
    assert!(q8.file_size() < file.file_size() / 2);
    let q8 = Pipeline::load(&q8, None, ComputeDevice::flex(), &mut |_, _| {}).unwrap();
    let quantized = logits(q8.model.burn().unwrap(), &q8, &scene);
    gvt_testkit::assert_close("Q8_0 vs f32 logits", &quantized, &in_memory, 5e-2);
}

fn losses(trainer: &mut Trainer, dir: Option<&std::path::Path>) -> Vec<f32> {
    let mut out = Vec::new();
    trainer
        .run(dir, &CancelFlag::default(), &mut |event| {
            if let Event::Step(step) = event {
                out.push(step.loss);
            }
        })
        .unwrap();
    out
}

#[test]
fn a_resumed_run_continues_exactly() {
    let device = Device::flex();
    // A vocabulary small enough to fill up whatever the phrasings, so that only its tokens
    // tell runs with other phrasings apart (below).
    let run = || small_run(5).with_vocab_size(320);
    let mut straight = Trainer::new(run(), &device).unwrap();
    let all = losses(&mut straight, None);
    assert_eq!(all.len(), 5);

    let dir = std::env::temp_dir().join(format!("gvt-train-resume-{}", std::process::id()));
    let mut first = Trainer::new(run(), &device).unwrap();
    first.step().unwrap();
    first.step().unwrap();
    first.save(&dir).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&dir, &device).unwrap();
    let rest = losses(&mut resumed, Some(&dir));
    assert_eq!(rest.len(), 3);
    gvt_testkit::assert_close("losses after resuming", &rest, &all[2..], 1e-4);

    // Resuming a finished run runs no step and announces no stage.
    let mut finished = Trainer::resume(&dir, &device).unwrap();
    let mut events = Vec::new();
    finished
        .run(Some(&dir), &CancelFlag::default(), &mut |event| {
            events.push(event)
        })
        .unwrap();
    assert!(events.is_empty(), "a finished run reported {events:?}");

    // The final checkpoint is a model file like any other.
    let checkpoint = GgufFile::open(&dir.join("checkpoint.gguf")).unwrap();
    Pipeline::load(&checkpoint, None, ComputeDevice::cpu(), &mut |_, _| {}).unwrap();

    // A run whose vocabulary this version would learn differently (here: its settings say
    // other phrasings, as when the training phrasings change) is refused, not resumed with
    // its embeddings under other tokens.
    let config = dir.join("train.json");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("\"paraphrase_share\": 0.0"), "{text}");
    let other = text.replace("\"paraphrase_share\": 0.0", "\"paraphrase_share\": 0.5");
    std::fs::write(&config, other).unwrap();
    let err = Trainer::resume(&dir, &device).err().unwrap().to_string();
    assert!(
        err.contains("vocabulary") && err.contains("checkpoint.gguf"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_started_from_a_model_keeps_its_weights_and_vocabulary() {
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("gvt-train-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut base = Trainer::new(small_run(3).with_vocab_size(320), &device).unwrap();
    base.step().unwrap();
    let exported = base.export(WeightFormat::F32).unwrap().to_bytes();
    let path = dir.join("base.gguf");
    std::fs::write(&path, &exported).unwrap();

    // Other settings (whose own vocabulary would differ) and another seed.
    let init = Some(path.display().to_string());
    let warm_run = || {
        small_run(4)
            .with_paraphrase_share(0.5)
            .with_init(init.clone())
    };
    let mut warm = Trainer::new(warm_run(), &device).unwrap();
    assert_eq!(warm.vocab, base.vocab, "the model's vocabulary is kept");
    assert_eq!(
        warm.export(WeightFormat::F32).unwrap().to_bytes(),
        exported,
        "every weight of the model is copied"
    );
    // The probe, which no exported model has, starts as in a fresh run of the seed.
    let probe = |t: &Trainer| gvt_testkit::to_vec(t.model().probe.weight.val());
    let fresh = Trainer::new(small_run(4).with_vocab_size(320), &device).unwrap();
    assert_eq!(probe(&warm), probe(&fresh));
    assert_ne!(probe(&warm), probe(&base));

    // It trains, and resumes with the model's vocabulary, not one learnt from its settings.
    warm.step().unwrap();
    let checkpoints = dir.join("run");
    warm.save(&checkpoints).unwrap();
    let resumed = Trainer::resume(&checkpoints, &device).unwrap();
    assert_eq!(resumed.vocab, base.vocab);
    assert_eq!(resumed.position, warm.position);

    // At another image size, every weight is the model's but the position table, which is
    // resampled to the new grid.
    let mut larger = Trainer::new(warm_run().with_image_size(160), &device).unwrap();
    let larger_file =
        GgufFile::from_bytes(larger.export(WeightFormat::F32).unwrap().to_bytes()).unwrap();
    let base_file = GgufFile::from_bytes(exported.clone()).unwrap();
    let values = |file: &GgufFile, name: &str| file.tensor(name).unwrap().to_f32().unwrap();
    for info in &base_file.tensors {
        if info.name != "v.pos_embd" {
            assert_eq!(
                values(&larger_file, &info.name),
                values(&base_file, &info.name),
                "{}",
                info.name
            );
        }
    }
    let width = base_file.tensor("v.pos_embd").unwrap().shape()[2];
    assert_eq!(
        larger_file.tensor("v.pos_embd").unwrap().shape(),
        [1, 1 + 10 * 10, width]
    );
    assert_eq!(
        values(&larger_file, "v.pos_embd"),
        gvt_train::warm::resample_positions(&values(&base_file, "v.pos_embd"), 8, 10, width)
    );
    larger.step().unwrap();

    // A model of another architecture is refused, naming the file.
    let mut deeper = base.export(WeightFormat::F32).unwrap();
    deeper
        .metadata_mut()
        .insert("gvt.vision.block_count", gvt_core::gguf::Value::U32(5));
    let deeper_path = dir.join("deeper.gguf");
    std::fs::write(&deeper_path, deeper.to_bytes()).unwrap();
    let err = Trainer::new(
        warm_run().with_init(Some(deeper_path.display().to_string())),
        &device,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("deeper.gguf") && err.contains("architecture") && err.contains("5 blocks"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Bilinear resampling between patch centres, against values worked out by hand (they
/// match PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`) and a table that
/// is linear in the image position, which the new grid's inner patches must reproduce.
#[test]
fn position_tables_resample_between_patch_centres() {
    use gvt_train::warm::resample_positions;
    // Class row 9, grid [[0, 1], [2, 3]], to 4 x 4.
    let out = resample_positions(&[9.0, 0.0, 1.0, 2.0, 3.0], 2, 4, 1);
    #[rustfmt::skip]
    let expected = [
        9.0,
        0.0, 0.25, 0.75, 1.0,
        0.5, 0.75, 1.25, 1.5,
        1.5, 1.75, 2.25, 2.5,
        2.0, 2.25, 2.75, 3.0,
    ];
    assert_eq!(out, expected);

    // Two channels linear in the patch centre's place in the image (y, x in [0, 1]).
    let linear = |grid: usize, y: usize, x: usize| {
        let (fy, fx) = (
            (y as f32 + 0.5) / grid as f32,
            (x as f32 + 0.5) / grid as f32,
        );
        [1.0 + 2.0 * fy - 3.0 * fx, -0.5 * fy + 4.0 * fx]
    };
    let mut table = vec![7.0, -7.0];
    for y in 0..8 {
        for x in 0..8 {
            table.extend(linear(8, y, x));
        }
    }
    assert_eq!(resample_positions(&table, 8, 8, 2), table);
    let out = resample_positions(&table, 8, 10, 2);
    assert_eq!(out.len(), 2 * (1 + 100));
    assert_eq!(out[..2], [7.0, -7.0]);
    // Patches 1..=8 of 10 have their centres between the old grid's first and last ones.
    for y in 1..9 {
        for x in 1..9 {
            let at = 2 * (1 + y * 10 + x);
            for (got, want) in out[at..at + 2].iter().zip(linear(10, y, x)) {
                assert!((got - want).abs() < 1e-5, "({y}, {x}): {got} vs {want}");
            }
        }
    }
}

#[test]
fn image_sizes_that_are_not_whole_patches_are_refused() {
    for size in [100, 48, 272] {
        let err = Trainer::new(small_run(1).with_image_size(size), &Device::flex())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(&format!("{size} px")), "{err}");
    }
}

#[test]
fn both_stages_learn_a_fixed_batch() {
    let device = Device::flex();
    let mut trainer = Trainer::new(
        small_run(1).with_vision_steps(40).with_qa_steps(40),
        &device,
    )
    .unwrap();
    let scenes: Vec<Scene> = (0..4).map(Scene::random).collect();
    let first = trainer.step_on(&scenes, &[]).unwrap();
    let mut last = first.clone();
    for _ in 0..30 {
        last = trainer.step_on(&scenes, &[]).unwrap();
    }
    eprintln!(
        "stage 1: loss {} -> {}, patch accuracy {:?} -> {:?}",
        first.loss, last.loss, first.patch_accuracy, last.patch_accuracy
    );
    assert!(last.loss < 0.5 * first.loss);
    let accuracy = last.patch_accuracy.unwrap();
    assert!(accuracy.shape > 0.9);
    assert!(accuracy.count > 0.8);
    assert!(accuracy.position > 0.8);
}

/// `count_loss_weight` scales the two count terms of stage 1 and nothing else: from the
/// same weights, the first loss grows linearly in it, by a positive amount per unit.
#[test]
fn the_count_loss_weight_scales_stage_one_count_losses() {
    let device = Device::flex();
    let scenes: Vec<Scene> = (0..2).map(Scene::random).collect();
    let first_loss = |weight: f64| {
        let config = small_run(3).with_count_loss_weight(weight);
        let mut trainer = Trainer::new(config, &device).unwrap();
        trainer.step_on(&scenes, &[]).unwrap().loss
    };
    let [one, two, four] = [1.0, 2.0, 4.0].map(first_loss);
    let per_unit = two - one;
    assert!(per_unit > 0.1, "count losses {per_unit}");
    let expected = one + 3.0 * per_unit;
    assert!(
        (four - expected).abs() < 1e-3 * expected,
        "loss at weight 4: {four}, expected {expected} (1: {one}, 2: {two})"
    );
}
