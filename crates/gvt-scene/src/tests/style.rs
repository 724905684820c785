//! Varied drawing styles: the same objects as the classic scene, other proportions, edges and
//! outlines, and ground truth that follows what is drawn.

use crate::render::Background;
use crate::shapes::STAR;
use crate::style::star_vertices;
use crate::{Forms, Scene, SceneRequest, Style};

#[test]
fn star_vertices_of_the_classic_radius_are_the_classic_star() {
    for (got, want) in star_vertices(0.45).iter().zip(&STAR) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
    // Other radii keep the outer points on the box and the inner ones inside it.
    let thin = star_vertices(0.32);
    assert_eq!(thin[0], [0.0, -1.0]);
    assert!(thin.iter().all(|[x, y]| x.abs() <= 1.0 && y.abs() <= 1.0));
}

#[test]
fn varied_scenes_keep_the_classic_objects_in_another_style() {
    let mut styles = Vec::new();
    let mut white = 0;
    for seed in 0..200 {
        let classic = Scene::generate(seed, &SceneRequest::default()).unwrap();
        let varied = Scene::generate(seed, &SceneRequest::default().varied()).unwrap();
        assert_eq!(
            classic,
            Scene::random(seed),
            "the classic scene is unchanged"
        );
        assert_eq!(classic.style, Style::default());
        assert_eq!(varied.objects, classic.objects);
        assert_eq!(
            varied,
            Scene::generate(seed, &SceneRequest::default().varied()).unwrap()
        );
        white += usize::from(varied.background == Background::Plain { color: [255; 3] });
        styles.push(varied.style);
    }
    let hard = styles.iter().filter(|s| !s.antialias).count();
    let outlined = styles.iter().filter(|s| s.outline > 0.0).count();
    assert!((70..=130).contains(&hard), "{hard} of 200 with hard edges");
    assert!((40..=100).contains(&outlined), "{outlined} of 200 outlined");
    assert!((35..=95).contains(&white), "{white} of 200 on white");
    let squashed = styles
        .iter()
        .filter(|s| s.forms.squash != [1.0, 1.0])
        .count();
    assert!((70..=130).contains(&squashed), "{squashed} of 200 squashed");
    let rings: Vec<f32> = styles.iter().map(|s| s.forms.ring_inner).collect();
    assert!(rings.iter().any(|&r| r < 0.4) && rings.iter().any(|&r| r > 0.65));
}

/// Every pixel away from the edges shows what the ground truth says is there: the topmost
/// covering object's colour (or its outline's shade) or the background.
#[test]
fn varied_renders_follow_the_ground_truth() {
    let side = 256u32;
    for seed in 0..40 {
        let scene = Scene::generate(seed, &SceneRequest::default().varied()).unwrap();
        let image = scene.render(side).unwrap();
        let forms: &Forms = &scene.style.forms;
        let mut checked = 0;
        for py in (0..side).step_by(3) {
            for px in (0..side).step_by(3) {
                let at = [
                    (px as f32 + 0.5) / side as f32,
                    (py as f32 + 0.5) / side as f32,
                ];
                // Skip pixels within 2 px of any outline: edges blend.
                let near_edge = scene.objects.iter().any(|o| {
                    let half = 0.5 * o.side();
                    let (u, v) = ((at[0] - o.center[0]) / half, (at[1] - o.center[1]) / half);
                    (o.shape.sdf_in(u, v, forms) * half * side as f32).abs()
                        < 2.0 + 2.0 * scene.style.outline
                });
                if near_edge {
                    continue;
                }
                let pixel = image.get_pixel(px, py).0.map(f32::from);
                let want = match scene.objects.iter().rev().find(|o| o.covers_in(at, forms)) {
                    Some(object) => object.color.rgb().map(f32::from),
                    None => scene.background.color_at(at[0], at[1]),
                };
                let off = pixel
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(
                    off <= 1.0,
                    "seed {seed} at {px},{py}: {pixel:?}, want {want:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 3000, "seed {seed}: only {checked} pixels checked");
    }
}
