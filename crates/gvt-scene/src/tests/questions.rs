//! Questions: GVTBench templates, exact answers, balance, unambiguity, splits.

use std::path::PathBuf;

use crate::qa::{Mix, NO, Qa, QaGenerator, QuestionKind, Split, YES, describe};
use crate::{
    Background, Color, GradientDirection, Object, Position, Scene, SceneRequest, Shape, Size,
};

/// Records copied verbatim from GVTBench's `coco_oc.json` and `coco_mci.json`.
const OC_EXCERPT: &str = r#"[{"image_id": 42102, "text_in": "How many people are there in the image?", "text_out": "1", "n_obj_exist": 3}, {"image_id": 135604, "text_in": "How many sports balls are there in the image?", "text_out": "1", "n_obj_exist": 3}, {"image_id": 409630, "text_in": "How many mice are there in the image?", "text_out": "1", "n_obj_exist": 3}]"#;
const MCI_EXCERPT: &str = r#"[{"image_id": 58350, "text_in": "Does cell phone exist in the image?", "text_out": "No.", "n_obj_exist": 6}, {"image_id": 279278, "text_in": "Does cup exist in the image?", "text_out": "Yes.", "n_obj_exist": 23}, {"image_id": 25560, "text_in": "Does hot dog exist in the image?", "text_out": "No.", "n_obj_exist": 4}]"#;

/// The string values of `"field": "..."` in a JSON text (GVTBench values hold no escapes).
fn string_fields(json: &str, field: &str) -> Vec<String> {
    let key = format!("\"{field}\": \"");
    json.split(key.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(value, _)| value.to_string()))
        .collect()
}

/// The GVTBench directory: `$GVTBENCH_DIR`, else the repository's `tests/fixtures/gvtbench`.
fn gvtbench_dir() -> PathBuf {
    std::env::var_os("GVTBENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gvtbench")
        })
}

/// Our template around the class name: (prefix, suffix).
fn template(question: &str, class: &str) -> (String, String) {
    match question.split_once(class) {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => panic!("{class:?} not in {question:?}"),
    }
}

/// Every GVTBench question has our prefix and suffix around a class name, and every answer
/// has our format.
fn check_against(oc: &str, mci: &str) -> usize {
    let scene = Scene::random(3);
    let (oc_prefix, oc_suffix) = template(&Qa::count(&scene, Shape::Star).question, "stars");
    let (mci_prefix, mci_suffix) = template(&Qa::exist(&scene, Shape::Star).question, "star");
    let mut checked = 0;
    for (json, prefix, suffix) in [
        (oc, &oc_prefix, &oc_suffix),
        (mci, &mci_prefix, &mci_suffix),
    ] {
        for q in string_fields(json, "text_in") {
            let class = q
                .strip_prefix(prefix.as_str())
                .and_then(|r| r.strip_suffix(suffix.as_str()));
            assert!(
                class.is_some_and(|c| !c.is_empty() && !c.contains('?')),
                "{q:?} does not fit {prefix:?}...{suffix:?}"
            );
            checked += 1;
        }
    }
    for a in string_fields(oc, "text_out") {
        assert!(
            !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()),
            "{a:?}"
        );
    }
    for a in string_fields(mci, "text_out") {
        assert!(a == YES || a == NO, "{a:?}");
    }
    checked
}

#[test]
fn templates_match_gvtbench_excerpts() {
    assert_eq!(check_against(OC_EXCERPT, MCI_EXCERPT), 6);
    // The class name is singular in MCI, plural in OC; answers are digits and "Yes."/"No.".
    let scene = Scene {
        style: crate::Style::default(),
        seed: 0,
        background: Background::Plain {
            color: [200, 200, 200],
        },
        objects: vec![object(Shape::Star, Color::Red, 0.5, 0.5)],
    };
    assert_eq!(
        Qa::exist(&scene, Shape::Star).question,
        "Does star exist in the image?"
    );
    assert_eq!(Qa::exist(&scene, Shape::Star).answer, "Yes.");
    assert_eq!(Qa::exist(&scene, Shape::Cross).answer, "No.");
    assert_eq!(
        Qa::count(&scene, Shape::Cross).question,
        "How many crosses are there in the image?"
    );
    assert_eq!(Qa::count(&scene, Shape::Cross).answer, "0");
    assert_eq!(Qa::count(&scene, Shape::Star).answer, "1");
}

#[test]
fn templates_match_every_gvtbench_record() {
    let dir = gvtbench_dir();
    let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => text,
        Err(e) => panic!(
            "{}: {e} (set GVTBENCH_DIR to the GVTBench folder)",
            dir.join(name).display()
        ),
    };
    let checked = check_against(&read("coco_oc.json"), &read("coco_mci.json"));
    assert_eq!(checked, 20_000);
}

fn object(shape: Shape, color: Color, x: f32, y: f32) -> Object {
    let h = 0.06;
    Object {
        shape,
        color,
        size: Size::Small,
        center: [x, y],
        bbox: [x - h, y - h, x + h, y + h],
    }
}

/// Recomputes an answer from the question text and the objects alone.
fn expected_answer(scene: &Scene, qa: &Qa) -> Option<String> {
    let q = qa.question.as_str();
    let count = |f: &dyn Fn(&Object) -> bool| scene.objects.iter().filter(|o| f(o)).count();
    let words: Vec<&str> = q.trim_end_matches('?').split(' ').collect();
    match qa.kind {
        QuestionKind::Count => {
            let shape = Shape::from_name(words.get(2)?)?;
            Some(count(&|o| o.shape == shape).to_string())
        }
        QuestionKind::ColorCount => {
            let color = Color::from_name(words.get(2)?)?;
            let shape = Shape::from_name(words.get(3)?)?;
            Some(count(&|o| o.shape == shape && o.color == color).to_string())
        }
        QuestionKind::Exist => {
            let shape = Shape::from_name(words.get(1)?)?;
            Some(
                if count(&|o| o.shape == shape) > 0 {
                    "Yes."
                } else {
                    "No."
                }
                .to_string(),
            )
        }
        QuestionKind::Color => {
            let shape = Shape::from_name(words.last()?)?;
            let matching: Vec<&Object> =
                scene.objects.iter().filter(|o| o.shape == shape).collect();
            assert_eq!(matching.len(), 1, "ambiguous colour question {q:?}");
            Some(matching[0].color.name().to_string())
        }
        QuestionKind::Position => {
            let color = Color::from_name(words.get(3)?)?;
            let shape = Shape::from_name(words.get(4)?)?;
            let matching: Vec<&Object> = scene
                .objects
                .iter()
                .filter(|o| o.shape == shape && o.color == color)
                .collect();
            assert_eq!(matching.len(), 1, "ambiguous position question {q:?}");
            let [x, y] = matching[0].center;
            let margin = |t: f32| (t - 1.0 / 3.0).abs().min((t - 2.0 / 3.0).abs());
            assert!(
                margin(x) >= 0.04 && margin(y) >= 0.04,
                "unclear position {q:?}"
            );
            let col = ["left", "", "right"][(x * 3.0) as usize];
            let row = ["top", "", "bottom"][(y * 3.0) as usize];
            let word = match (row, col) {
                ("", "") => "center".to_string(),
                ("", c) => c.to_string(),
                (r, "") => r.to_string(),
                (r, c) => format!("{r} {c}"),
            };
            Some(word)
        }
        QuestionKind::Describe => Some(describe(scene)),
    }
}

#[test]
fn answers_equal_ground_truth() {
    let mut generator = QaGenerator::new(11, Mix::default());
    let mut kinds = [0usize; 6];
    for seed in 0..800 {
        let scene = Scene::random(seed);
        let qas = generator.draw(&scene, 6);
        let mut questions: Vec<&str> = qas.iter().map(|q| q.question.as_str()).collect();
        questions.sort_unstable();
        questions.dedup();
        assert_eq!(questions.len(), qas.len(), "duplicate questions");
        for qa in &qas {
            kinds[qa.kind as usize] += 1;
            assert_eq!(
                expected_answer(&scene, qa).as_deref(),
                Some(qa.answer.as_str()),
                "seed {seed}: {qa:?}"
            );
        }
    }
    assert!(kinds.iter().all(|&n| n > 200), "{kinds:?}");
    // Count answers include zeros and run up to 9 on crowded scenes.
    let crowded = SceneRequest::new().exactly(Shape::Heart, 9);
    let scene = Scene::generate(4, &crowded).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Qa::count(&scene, Shape::Heart).answer, "9");
}

#[test]
fn existence_answers_are_balanced() {
    let mut generator = QaGenerator::new(5, Mix::only(QuestionKind::Exist));
    let (mut yes, mut no) = (0i64, 0i64);
    let mut classes = [0usize; 8];
    for seed in 0..2000 {
        let scene = Scene::random(seed);
        let qa = match generator.ask(&scene, QuestionKind::Exist) {
            Some(qa) => qa,
            None => panic!("an existence question can always be asked"),
        };
        if qa.answer == YES {
            yes += 1;
        } else {
            no += 1;
        }
        let class = qa
            .question
            .split(' ')
            .nth(1)
            .and_then(Shape::from_name)
            .map_or(0, Shape::index);
        classes[class] += 1;
    }
    assert_eq!(yes + no, 2000);
    // The generator makes up for the forced "No." of empty scenes (10% of them).
    assert!((yes - no).abs() <= 4, "yes {yes}, no {no}");
    assert_eq!(generator.exist_tally(), (yes as u64, no as u64));
    // Every class is asked about.
    assert!(classes.iter().all(|&n| n > 150), "{classes:?}");
}

#[test]
fn colour_and_position_questions_only_when_unambiguous() {
    let two_stars = Scene {
        style: crate::Style::default(),
        seed: 0,
        background: Background::Plain {
            color: [40, 40, 40],
        },
        objects: vec![
            object(Shape::Star, Color::Red, 0.15, 0.15),
            object(Shape::Star, Color::Blue, 0.85, 0.85),
            object(Shape::Square, Color::Blue, 0.5, 0.15),
            object(Shape::Square, Color::Blue, 0.5, 0.85),
            object(Shape::Ring, Color::Green, 0.34, 0.5),
        ],
    };
    assert_eq!(Qa::color_of(&two_stars, Shape::Star), None);
    assert_eq!(Qa::color_of(&two_stars, Shape::Heart), None);
    assert_eq!(
        Qa::color_of(&two_stars, Shape::Ring).map(|q| q.answer),
        Some("green".to_string())
    );
    assert_eq!(
        Qa::position_of(&two_stars, Color::Blue, Shape::Square),
        None
    );
    // The ring's centre is on the line between left and center.
    assert_eq!(Qa::position_of(&two_stars, Color::Green, Shape::Ring), None);
    let red_star = Qa::position_of(&two_stars, Color::Red, Shape::Star);
    assert_eq!(
        red_star.map(|q| (q.question, q.answer)),
        Some(("Where is the red star?".to_string(), "top left".to_string()))
    );
    assert_eq!(
        Qa::position_of(&two_stars, Color::Blue, Shape::Star).map(|q| q.answer),
        Some("bottom right".to_string())
    );

    // Drawn questions respect the same rules (checked by `expected_answer`'s asserts).
    let mut generator = QaGenerator::new(2, Mix::only(QuestionKind::Color));
    let mut asked = 0;
    for seed in 0..300 {
        let scene = Scene::random(seed);
        for kind in [QuestionKind::Color, QuestionKind::Position] {
            match generator.ask(&scene, kind) {
                Some(qa) => {
                    asked += 1;
                    assert_eq!(expected_answer(&scene, &qa), Some(qa.answer.clone()));
                }
                None => {
                    let unique_shape = Shape::ALL.iter().any(|&s| scene.count(s) == 1);
                    if kind == QuestionKind::Color {
                        assert!(!unique_shape, "seed {seed}: a colour question was possible");
                    }
                }
            }
        }
    }
    assert!(asked > 300, "{asked}");
}

#[test]
fn descriptions_have_fixed_wording() {
    let mut scene = Scene {
        style: crate::Style::default(),
        seed: 0,
        background: Background::Gradient {
            from: [30, 30, 30],
            to: [80, 80, 80],
            direction: GradientDirection::Vertical,
        },
        objects: vec![
            object(Shape::Star, Color::Blue, 0.8, 0.2),
            object(Shape::Circle, Color::Red, 0.2, 0.2),
            object(Shape::Circle, Color::Red, 0.2, 0.8),
        ],
    };
    assert_eq!(
        describe(&scene),
        "There are two red circles and a blue star on a gradient background."
    );
    scene.objects.remove(1);
    scene
        .objects
        .push(object(Shape::Heart, Color::Orange, 0.5, 0.5));
    scene
        .objects
        .push(object(Shape::Circle, Color::Green, 0.8, 0.8));
    scene.background = Background::Plain {
        color: [200, 200, 200],
    };
    assert_eq!(
        describe(&scene),
        "There is a red circle, a green circle, a blue star and an orange heart on a plain \
         background."
    );
    scene.objects.clear();
    assert_eq!(
        describe(&scene),
        "There are no objects on a plain background."
    );
    scene
        .objects
        .push(object(Shape::Ring, Color::Orange, 0.5, 0.5));
    assert_eq!(
        Qa::describe(&scene).answer,
        "There is an orange ring on a plain background."
    );
    assert_eq!(
        Qa::describe(&scene).question,
        "Describe the image in one sentence."
    );
}

#[test]
fn descriptions_list_every_object() {
    let words = [
        "a", "an", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    for seed in 0..300 {
        let scene = Scene::random(seed);
        let text = describe(&scene);
        assert!(text.starts_with("There ") && text.ends_with(" background."));
        let name = scene.background.kind().name();
        assert!(text.contains(&format!("on a {name} background")), "{text}");
        let mut total = 0;
        let tokens: Vec<&str> = text.trim_end_matches('.').split([' ', ',']).collect();
        for w in tokens.windows(3) {
            if let (Some(i), Some(color), Some(shape)) = (
                words.iter().position(|x| *x == w[0]),
                Color::from_name(w[1]),
                Shape::from_name(w[2]),
            ) {
                let n = i.max(1);
                assert_eq!(scene.count((color, shape)), n, "seed {seed}: {text}");
                total += n;
            }
        }
        assert_eq!(total, scene.objects.len(), "seed {seed}: {text}");
    }
}

#[test]
fn generator_is_deterministic_and_mix_is_honoured() {
    let draw = |seed: u64, mix: Mix| {
        let mut generator = QaGenerator::new(seed, mix);
        (0..50)
            .flat_map(|s| generator.draw(&Scene::random(s), 4))
            .collect::<Vec<Qa>>()
    };
    assert_eq!(draw(1, Mix::default()), draw(1, Mix::default()));
    assert_ne!(draw(1, Mix::default()), draw(2, Mix::default()));
    for kind in QuestionKind::ALL {
        let qas = draw(3, Mix::only(kind));
        assert!(!qas.is_empty());
        assert!(qas.iter().all(|q| q.kind == kind), "{kind:?}");
    }
    let none = Mix {
        count: 0,
        ..Mix::only(QuestionKind::Count)
    };
    assert!(draw(4, none).is_empty());
    // A scene offers one description only.
    let mut generator = QaGenerator::new(0, Mix::only(QuestionKind::Describe));
    assert_eq!(generator.draw(&Scene::random(1), 5).len(), 1);
}

#[test]
fn splits_are_deterministic_disjoint_and_sized() {
    let mut counts = [0usize; 3];
    for seed in 0..100_000u64 {
        let split = Split::of(seed);
        assert_eq!(split, Split::of(seed));
        counts[split as usize] += 1;
    }
    assert!((88_500..=91_500).contains(&counts[0]), "{counts:?}");
    assert!((4_300..=5_700).contains(&counts[1]), "{counts:?}");
    assert!((4_300..=5_700).contains(&counts[2]), "{counts:?}");
    let train: Vec<u64> = Split::Train.seeds(1000).take(500).collect();
    let test: Vec<u64> = Split::Test.seeds(1000).take(500).collect();
    let validation: Vec<u64> = Split::Validation.seeds(1000).take(500).collect();
    assert!(train.windows(2).all(|w| w[0] < w[1]));
    for s in &test {
        assert!(!train.contains(s) && !validation.contains(s));
        assert_eq!(Split::of(*s), Split::Test);
    }
    assert!(Split::Test.seeds(u64::MAX - 10_000).next().is_some());
    assert_eq!(Split::ALL.map(Split::name), ["train", "validation", "test"]);
    // Positions words come from the shared grid.
    assert_eq!(Position::of([0.9, 0.1]).word(), "top right");
}

#[test]
fn held_out_phrasings_are_never_drawn_for_training() {
    use crate::qa::{HELD_OUT_COUNT, HELD_OUT_EXIST};
    let held_out: Vec<String> = Shape::ALL
        .iter()
        .flat_map(|shape| {
            HELD_OUT_COUNT
                .iter()
                .chain(&HELD_OUT_EXIST)
                .map(|t| t.replace("{}", shape.plural()))
        })
        .collect();
    let mut generators = [0.0, 0.5, 1.0]
        .map(|share| QaGenerator::new(5, Mix::default()).with_paraphrase_share(share));
    for seed in 0..300 {
        let scene = Scene::generate(seed, &SceneRequest::default()).unwrap();
        for qa in generators.iter_mut().flat_map(|g| g.draw(&scene, 6)) {
            assert!(
                !held_out.contains(&qa.question),
                "trained on {:?}",
                qa.question
            );
        }
        // A paraphrase keeps its template question's answer.
        for shape in Shape::ALL {
            for variant in 0..2 {
                let count = Qa::count_paraphrased(&scene, shape, variant);
                assert_eq!(count.answer, Qa::count(&scene, shape).answer);
                assert!(held_out.contains(&count.question));
                let exist = Qa::exist_paraphrased(&scene, shape, variant);
                assert_eq!(exist.answer, Qa::exist(&scene, shape).answer);
                assert_eq!(exist.kind, QuestionKind::Exist);
            }
        }
    }
}

/// Training's extra wordings share no three-word sequence with a held-out phrasing (only
/// the evaluation templates, asked in both splits, may), so a paraphrased question is new
/// wording and not a near-twin of one trained on.
#[test]
fn training_wordings_share_no_three_words_with_held_out_ones() {
    use crate::qa::{HELD_OUT_COUNT, HELD_OUT_EXIST, fill, phrasings};
    // Words, with the shape in either number as one placeholder.
    fn trigrams(text: &str) -> Vec<String> {
        let words: Vec<String> = text
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .map(|w| match w.as_str() {
                "star" | "stars" => "<shape>".to_owned(),
                _ => w,
            })
            .collect();
        words.windows(3).map(|w| w.join(" ")).collect()
    }
    let shape = Shape::Star;
    let held_out: Vec<String> = HELD_OUT_COUNT
        .iter()
        .chain(&HELD_OUT_EXIST)
        .flat_map(|t| trigrams(&t.replace("{}", shape.plural())))
        .collect();
    for kind in QuestionKind::ALL {
        for template in &phrasings(kind)[1..] {
            let text = fill(template, Some(shape), Some(Color::Red));
            for gram in trigrams(&text) {
                assert!(!held_out.contains(&gram), "{text:?} shares {gram:?}");
            }
        }
    }
    // Every held-out phrasing's first word opens a training phrasing of its kind.
    let first = |t: &str| t.split_whitespace().next().unwrap().to_owned();
    for (kind, held) in [
        (QuestionKind::Count, &HELD_OUT_COUNT),
        (QuestionKind::Exist, &HELD_OUT_EXIST),
    ] {
        let openings: Vec<String> = phrasings(kind).iter().map(|t| first(t)).collect();
        for template in held {
            assert!(
                openings.contains(&first(template)),
                "{template:?} vs {openings:?}"
            );
        }
    }
    // "Can you" opens only presence questions, as the held-out "Can you see any": when it
    // opened counting too, a model answered that held-out question with numbers.
    let opens = |kind: QuestionKind| phrasings(kind).iter().any(|t| t.starts_with("Can you"));
    assert!(opens(QuestionKind::Exist) && !opens(QuestionKind::Count));
    // ... and it does so with several verbs before "any {plural}", so that "Can you", not
    // the verb, tells a presence question.
    let verbs: std::collections::BTreeSet<&str> = phrasings(QuestionKind::Exist)
        .iter()
        .filter_map(|t| t.strip_prefix("Can you ")?.split_once(" any {plural}"))
        .map(|(verb, _)| verb)
        .collect();
    assert!(verbs.len() >= 4, "{verbs:?}");
    // "in this" (held out after the subject) is heard in both kinds after other words, and
    // in presence questions that "see" the object, as "Can you see any stars in this
    // picture?" does.
    let heard = |kind: QuestionKind, also: &str| {
        phrasings(kind)
            .iter()
            .any(|t| t.contains(" in this ") && t.contains(also))
    };
    assert!(heard(QuestionKind::Count, "Count") && heard(QuestionKind::Exist, " see "));
    // The check catches a near-twin.
    let twin = trigrams("What is the number of stars in the image?");
    assert!(twin.iter().any(|gram| held_out.contains(gram)));
}

/// With a paraphrase share, training asks every phrasing of every kind, each with the
/// template question's answer; with none, exactly the template questions.
#[test]
fn paraphrased_training_questions_keep_the_templates_answers() {
    use crate::qa::phrasings;
    use std::collections::HashSet;
    let mut templates = QaGenerator::new(8, Mix::default());
    let mut paraphrased = QaGenerator::new(8, Mix::default()).with_paraphrase_share(1.0);
    let mut seen: HashSet<String> = HashSet::new();
    for seed in 0..1500 {
        let scene = Scene::generate(seed, &SceneRequest::default()).unwrap();
        for kind in QuestionKind::ALL {
            let (Some(t), Some(p)) = (templates.ask(&scene, kind), paraphrased.ask(&scene, kind))
            else {
                continue;
            };
            assert_eq!(
                (t.kind, &t.answer),
                (p.kind, &p.answer),
                "{:?} / {:?}",
                t.question,
                p.question
            );
            assert_ne!(t.question, p.question, "share 1 always rephrases");
            let matching: Vec<usize> = (0..phrasings(kind).len())
                .filter(|&i| fills(&phrasings(kind)[i], &p.question))
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "{:?} fits phrasings {matching:?}",
                p.question
            );
            seen.insert(format!("{kind:?} {}", matching[0]));
        }
    }
    for kind in QuestionKind::ALL {
        for i in 1..phrasings(kind).len() {
            assert!(
                seen.contains(&format!("{kind:?} {i}")),
                "{kind:?} phrasing {i} never asked"
            );
        }
    }
    // Articles agree with what follows; the template is GVTBench's.
    let scene = Scene::generate(1, &SceneRequest::default()).unwrap();
    assert_eq!(
        Qa::exist(&scene, Shape::Ring).question,
        "Does ring exist in the image?"
    );
    assert_eq!(
        crate::qa::fill("Is there {a} {color} star?", None, Some(Color::Orange)),
        "Is there an orange star?"
    );
    assert_eq!(
        crate::qa::fill("Is there {a} {name}?", Some(Shape::Heart), None),
        "Is there a heart?"
    );
}

/// Whether `text` is `template` filled with some shape and colour.
fn fills(template: &str, text: &str) -> bool {
    fits(template, text)
        && Shape::ALL.iter().any(|&shape| {
            Color::ALL
                .iter()
                .any(|&color| crate::qa::fill(template, Some(shape), Some(color)) == text)
        })
}

/// Whether `text` is `template` with its placeholders filled: its literal pieces, in order,
/// from the first character to the last.
fn fits(template: &str, text: &str) -> bool {
    let pieces: Vec<&str> = template
        .split('{')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once('}').map_or(part, |(_, rest)| rest)
            }
        })
        .collect();
    if pieces.len() == 1 {
        return text == template;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}
