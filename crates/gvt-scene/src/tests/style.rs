//! Varied drawing styles: the same objects as the classic scene, other proportions, edges and
//! outlines, and ground truth that follows what is drawn.

use super::fnv;
use crate::render::{Background, BackgroundKind, outline_px};
use crate::shapes::{HEART_POINT, STAR};
use crate::style::{UPRIGHT, heart_outline, rotation_from_half_tangent, star_vertices};
use crate::{Forms, Rng, Scene, SceneRequest, Shape, Style};

/// Forms over the corners of the varied ranges, squashed and not, tilted and not.
fn forms_to_test() -> Vec<Forms> {
    let mut all = vec![Forms::default()];
    let corners = [
        Forms {
            star_inner: 0.32,
            ring_inner: 0.75,
            cross_half_width: 0.18,
            diamond_width: 0.65,
            triangle_width: 0.7,
            heart_spacing: 0.6,
            heart_tip: 3.2,
            ..Forms::default()
        },
        Forms {
            star_inner: 0.58,
            ring_inner: 0.3,
            cross_half_width: 0.45,
            diamond_width: 1.35,
            triangle_width: 1.35,
            heart_spacing: 1.0,
            heart_tip: 1.9,
            ..Forms::default()
        },
    ];
    for forms in corners {
        all.push(forms);
        for squash in [[0.5, 1.0], [1.0, 0.7]] {
            all.push(Forms { squash, ..forms });
        }
        let tilted = Forms {
            tilt: rotation_from_half_tangent(0.176),
            triangle_turn: rotation_from_half_tangent(-0.8).map(|x| -x),
            ..forms
        };
        all.push(tilted);
        all.push(Forms {
            tilt: rotation_from_half_tangent(-0.1),
            squash: [1.0, 0.6],
            ..tilted
        });
    }
    all
}

/// Mean of the inside points of `shape` over a fine grid of its box, and their share.
fn centroid_and_area(shape: Shape, forms: &Forms) -> ([f32; 2], f32) {
    const N: usize = 201;
    let (mut sum, mut inside) = ([0.0f32; 2], 0usize);
    for i in 0..N * N {
        let [u, v] = [i % N, i / N].map(|k| -1.0 + 2.0 * k as f32 / (N - 1) as f32);
        if shape.contains_in(u, v, forms) {
            sum = [sum[0] + u, sum[1] + v];
            inside += 1;
        }
    }
    (
        sum.map(|x| x / inside as f32),
        inside as f32 / (N * N) as f32,
    )
}

/// A tilt turns the shape clockwise on screen about its box's centre and scales it by
/// `1 / (|cos| + |sin|)`; the triangle's own turn adds to the tilt, and a turned triangle
/// is centred and scaled to fit its box by its own corners; circles and rings are left as
/// they are. Checked on the triangle's centroid (a third of the way from the base's
/// middle to the apex: `(0, 1/3)` upright) and on the shapes' areas.
#[test]
fn tilted_shapes_turn_clockwise_and_shrink_to_fit_their_box() {
    let (upright, full) = centroid_and_area(Shape::Triangle, &Forms::default());
    assert!(upright[0].abs() < 0.01 && (upright[1] - 1.0 / 3.0).abs() < 0.01);
    // A triangle turned a quarter clockwise points its apex right: centroid (-1/3, 0).
    let points_right = |forms: &Forms| {
        let (c, area) = centroid_and_area(Shape::Triangle, forms);
        assert!(
            (c[0] + 1.0 / 3.0).abs() < 0.01 && c[1].abs() < 0.01,
            "{c:?}"
        );
        area
    };
    // A quarter turn: half tangent 1.
    let quarter = Forms {
        triangle_turn: rotation_from_half_tangent(1.0),
        ..Forms::default()
    };
    assert!((points_right(&quarter) - full).abs() < 0.01);
    // 30 degrees of tilt (half tangent tan 15°) and a turn by 60 more: 90 in all, scaled
    // by 1 / (cos 90° + sin 90°) = 1 for the triangle; the square is scaled by
    // 1 / (cos 30° + sin 30°).
    let both = Forms {
        tilt: rotation_from_half_tangent(0.267_949_2),
        triangle_turn: rotation_from_half_tangent(0.577_350_3),
        ..Forms::default()
    };
    points_right(&both);
    let k = 1.0 / (0.866_025_4 + 0.5);
    let (_, square) = centroid_and_area(Shape::Square, &both);
    assert!(
        (square - k * k).abs() < 0.01,
        "square area {square}, want {}",
        k * k
    );
    // Turned by 45 degrees, the classic triangle's corners span 3/sqrt(2) of its box's
    // units along both axes: fitted, it is scaled by 2 / (3/sqrt(2)) = 0.943, where turning
    // its box would scale it by 1 / (cos 45° + sin 45°) = 0.707, and it reaches all four
    // sides of its box.
    let eighth = Forms {
        triangle_turn: rotation_from_half_tangent(0.414_213_56),
        ..Forms::default()
    };
    let (_, area) = centroid_and_area(Shape::Triangle, &eighth);
    let k = 2.0 * std::f32::consts::SQRT_2 / 3.0;
    assert!(
        (area - k * k * full).abs() < 0.01,
        "area {area}, want {}",
        k * k * full
    );
    let reaches = |u: f32, v: f32| Shape::Triangle.contains_in(u, v, &eighth);
    let grid = (0..=200).map(|i| -1.0 + i as f32 / 100.0);
    for side in [-0.98f32, 0.98] {
        assert!(
            grid.clone().any(|t| reaches(side, t)),
            "no point at u = {side}"
        );
        assert!(
            grid.clone().any(|t| reaches(t, side)),
            "no point at v = {side}"
        );
    }
    for shape in [Shape::Circle, Shape::Ring] {
        assert_eq!(
            centroid_and_area(shape, &both),
            centroid_and_area(shape, &Forms::default())
        );
    }
}

/// Every shape in every form stays inside its box: a point outside the box is never
/// inside the shape (the ground truth clips at the box, the drawing would not).
#[test]
fn shapes_stay_inside_their_box() {
    const N: usize = 161;
    for forms in forms_to_test() {
        for shape in Shape::ALL {
            for i in 0..N * N {
                let [u, v] = [i % N, i / N].map(|k| -1.2 + 2.4 * k as f32 / (N - 1) as f32);
                if u.abs().max(v.abs()) > 1.0 + 1e-4 {
                    assert!(
                        !shape.contains_in(u, v, &forms),
                        "{shape:?} {forms:?} covers ({u}, {v})"
                    );
                }
            }
        }
    }
}

/// Every sdf is a lower bound of the true distance to the outline (what the rasteriser's
/// shortcut relies on), checked by brute force: the true distance from a point is at least
/// the distance to the nearest grid sample on the other side, less the grid's half diagonal.
#[test]
fn sdf_never_exceeds_the_true_distance() {
    const N: usize = 241;
    let h = 2.4 / (N - 1) as f32;
    let grid: Vec<[f32; 2]> = (0..N * N)
        .map(|i| [-1.2 + h * (i % N) as f32, -1.2 + h * (i / N) as f32])
        .collect();
    let mut rng = Rng::new(7);
    for forms in forms_to_test() {
        for shape in Shape::ALL {
            let inside: Vec<bool> = grid
                .iter()
                .map(|&[u, v]| shape.contains_in(u, v, &forms))
                .collect();
            for _ in 0..60 {
                let (u, v) = (rng.range_f32(-1.1, 1.1), rng.range_f32(-1.1, 1.1));
                let d = shape.sdf_in(u, v, &forms);
                let nearest = grid
                    .iter()
                    .zip(&inside)
                    .filter(|&(_, &i)| i != (d <= 0.0))
                    .map(|(&[x, y], _)| ((x - u) * (x - u) + (y - v) * (y - v)).sqrt())
                    .fold(f32::INFINITY, f32::min);
                assert!(
                    d.abs() <= nearest + h,
                    "{shape:?} {forms:?} at ({u}, {v}): sdf {d}, true distance about {nearest}"
                );
            }
        }
    }
}

/// `core_width_in` is twice the depth of the deepest inside point, up to the star's and
/// heart's cautious bounds.
#[test]
fn core_width_is_twice_the_deepest_inside_point() {
    const N: usize = 401;
    for forms in forms_to_test() {
        for shape in Shape::ALL {
            let deepest = (0..N * N)
                .map(|i| {
                    let [u, v] = [i % N, i / N].map(|k| -1.0 + 2.0 * k as f32 / (N - 1) as f32);
                    -shape.sdf_in(u, v, &forms)
                })
                .fold(0f32, f32::max);
            let width = shape.core_width_in(&forms);
            // Exact but for the star's and heart's cautious bounds.
            let low = match shape {
                Shape::Star | Shape::Heart => 1.2,
                _ => 1.97,
            };
            assert!(
                width <= 2.0 * deepest + 0.01 && width >= low * deepest,
                "{shape:?} {forms:?}: core width {width}, deepest point {deepest}"
            );
        }
    }
}

/// Outlines never cover a whole shape: every object that is on top over some pixels shows
/// its own fill colour in some of them, at every render size.
#[test]
fn outlined_objects_still_show_their_fill() {
    let mut outlined = 0;
    for seed in 0..400 {
        let scene = Scene::generate(seed, &SceneRequest::default().varied()).unwrap();
        if scene.style.outline == 0.0 {
            continue;
        }
        // On a dark background the darker outline would fade into it.
        assert!(scene.background.is_light(), "seed {seed}: outlined on dark");
        outlined += 1;
        let forms = &scene.style.forms;
        for side in [64u32, 128, 224] {
            let image = scene.render(side).unwrap();
            for (i, object) in scene.objects.iter().enumerate() {
                let on_top = |px: u32, py: u32| {
                    let at = [px, py].map(|p| (p as f32 + 0.5) / side as f32);
                    let top = scene.objects.iter().rposition(|o| o.covers_in(at, forms));
                    top == Some(i)
                };
                // Too thin to take an outline at this size and smooth: drawn as a plain
                // smooth shape, which may cover no pixel whole.
                let core = object.shape.core_width_in(&forms.for_object(object))
                    * 0.5
                    * object.side()
                    * side as f32;
                let outline = outline_px(scene.style.outline, core, side as f32);
                if scene.style.antialias && outline == 0.0 {
                    continue;
                }
                let [x0, y0, x1, y1] = object.bbox_px(side);
                let pixels: Vec<(u32, u32)> = (y0..y1)
                    .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                    .filter(|&(x, y)| on_top(x, y))
                    .collect();
                if pixels.len() < 4 {
                    continue;
                }
                let fill = object.color.rgb();
                let shown = pixels.iter().any(|&(x, y)| {
                    let p = image.get_pixel(x, y).0;
                    p.iter().zip(&fill).all(|(&a, &b)| a.abs_diff(b) <= 1)
                });
                assert!(
                    shown,
                    "seed {seed} at {side} px: {object:?} shows no fill in {} pixels",
                    pixels.len()
                );
            }
        }
    }
    assert!(outlined > 60, "only {outlined} of 400 scenes outlined");
}

/// `is_light` tells the light family (and white) from the dark one, by what is drawn.
#[test]
fn light_backgrounds_are_the_light_family() {
    let mut rng = Rng::new(3);
    let mut light = 0;
    for _ in 0..400 {
        let background = Background::random(&mut rng, None);
        let mean = (0..64)
            .map(|i| background.color_at((i % 8) as f32 / 8.0 + 0.06, (i / 8) as f32 / 8.0 + 0.06))
            .map(|c| c.iter().sum::<f32>() / 3.0)
            .sum::<f32>()
            / 64.0;
        assert_eq!(
            background.is_light(),
            mean > 128.0,
            "{background:?}: mean {mean}"
        );
        light += usize::from(mean > 128.0);
    }
    assert!((150..=250).contains(&light), "{light} of 400 light");
    assert!(Background::Plain { color: [255; 3] }.is_light());
}

/// The white background replaces only a random or plain one: a requested kind is kept.
#[test]
fn varied_scenes_keep_a_requested_background_kind() {
    for kind in BackgroundKind::ALL {
        let request = SceneRequest::default().varied().background(kind);
        for seed in 0..60 {
            let scene = Scene::generate(seed, &request).unwrap();
            assert_eq!(scene.background.kind(), kind, "seed {seed}");
        }
    }
}

/// Varied renders are bit-identical everywhere (no transcendental functions): pinned here,
/// with a classic render beside them, so a platform or refactor that changes a pixel fails.
#[test]
fn renders_match_their_golden_hashes() {
    let hash = |seed: u64, request: SceneRequest| {
        let scene = Scene::generate(seed, &request).unwrap();
        fnv(&scene.render(128).unwrap())
    };
    // Nine objects with hearts among them, outlined and squashed: with hard edges (seed
    // 37), smooth ones (14); squashed, tilted, with turned triangles and diamonds wider than
    // tall, hard edges (48).
    let nine = SceneRequest::default().objects(9, 9);
    for seed in [37, 14] {
        let scene = Scene::generate(seed, &nine.clone().varied()).unwrap();
        let style = scene.style;
        assert!(style.outline > 0.0 && style.forms.squash != [1.0, 1.0]);
        assert_eq!(style.antialias, seed == 14);
        assert!(scene.objects.iter().any(|o| o.shape == Shape::Heart));
    }
    let turned = Scene::generate(48, &nine.clone().varied()).unwrap();
    let forms = turned.style.forms;
    assert!(forms.tilt != UPRIGHT && forms.triangle_turn != UPRIGHT && forms.squash != [1.0; 2]);
    assert!(forms.diamond_width > 1.0 && !turned.style.antialias);
    for shape in [Shape::Triangle, Shape::Diamond, Shape::Heart] {
        assert!(turned.objects.iter().any(|o| o.shape == shape));
    }
    let got = [
        hash(5, nine.clone()),
        hash(37, nine.clone().varied()),
        hash(14, nine.clone().varied()),
        hash(48, nine.varied()),
    ];
    assert_eq!(
        got,
        [
            0x2A6B_6B09_5DD3_AF52,
            0xD5AF_FEA5_6B9E_7FAF,
            0x0E2A_1AC3_627F_F3FE,
            0x2031_D8A0_FEA9_2A2B
        ],
        "{got:#018X?}"
    );
}

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
    let tilted = styles.iter().filter(|s| s.forms.tilt != UPRIGHT).count();
    let turned = styles
        .iter()
        .filter(|s| s.forms.triangle_turn != UPRIGHT)
        .count();
    assert!((90..=150).contains(&tilted), "{tilted} of 200 tilted");
    assert!(
        (120..=180).contains(&turned),
        "{turned} of 200 with turned triangles"
    );
    let rings: Vec<f32> = styles.iter().map(|s| s.forms.ring_inner).collect();
    assert!(rings.iter().any(|&r| r < 0.4) && rings.iter().any(|&r| r > 0.65));
    let wide = styles
        .iter()
        .filter(|s| s.forms.diamond_width > 1.0)
        .count();
    assert!((70..=130).contains(&wide), "{wide} of 200 wide diamonds");
    let wide = styles
        .iter()
        .filter(|s| s.forms.triangle_width > 1.0)
        .count();
    assert!((75..=135).contains(&wide), "{wide} of 200 wide triangles");
}

/// A diamond's and a triangle's longer axis spans its box: a narrow one is as tall as the
/// box, a wide one as wide. The diamond's area is half its width times its height, centred;
/// the triangle's too, its apex at the top and its centroid a third of the way up from the
/// base.
#[test]
fn diamonds_and_triangles_span_their_box_along_their_longer_axis() {
    for ratio in [0.65f32, 1.0, 1.35] {
        let (width, height) = if ratio <= 1.0 {
            (ratio, 1.0)
        } else {
            (1.0, 1.0 / ratio)
        };
        for (shape, forms, centre_v) in [
            (
                Shape::Diamond,
                Forms {
                    diamond_width: ratio,
                    ..Forms::default()
                },
                0.0,
            ),
            (
                Shape::Triangle,
                Forms {
                    triangle_width: ratio,
                    ..Forms::default()
                },
                height / 3.0,
            ),
        ] {
            let (centre, area) = centroid_and_area(shape, &forms);
            assert!(
                centre[0].abs() < 0.01 && (centre[1] - centre_v).abs() < 0.01,
                "{shape:?} {ratio}: {centre:?}"
            );
            // Half extents in a box of side 2: area 2 * width * height of the box's 4.
            let want = width * height / 2.0;
            assert!(
                (area - want).abs() < 0.01,
                "{shape:?} {ratio}: area {area}, want {want}"
            );
            let inside = |u: f32, v: f32| shape.contains_in(u, v, &forms);
            // Along the base for the triangle, through the centre for the diamond.
            let across = if shape == Shape::Triangle {
                0.97 * height
            } else {
                0.0
            };
            assert!(inside(0.97 * width, across) && !inside(1.03 * width, across));
            assert!(inside(0.0, 0.97 * height) && !inside(0.0, 1.03 * height));
            assert!(inside(0.0, -0.97 * height) && !inside(0.0, -1.03 * height));
        }
    }
}

/// Hearts of every proportion: the general outline gives the classic constants for the
/// classic proportions, the straight sides are tangent to the lobes, and the heart spans its
/// box along its longer axis, centred in the other.
#[test]
fn hearts_are_smooth_and_span_their_box_along_their_longer_axis() {
    let classic = heart_outline(1.0, 3.0);
    assert!((classic.radius - 0.5).abs() < 1e-6 && classic.lobe == [0.5, -0.5]);
    for (got, want) in classic.point.iter().zip(HEART_POINT) {
        assert!((got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6);
    }
    for (spacing, tip) in [
        (1.0f32, 3.0f32),
        (0.6, 3.2),
        (1.0, 1.9),
        (0.8, 2.5),
        (0.6, 1.9),
    ] {
        let forms = Forms {
            heart_spacing: spacing,
            heart_tip: tip,
            ..Forms::default()
        };
        let heart = forms.heart();
        let [_, right, touch, apex, _] = heart.point;
        let radius = (touch[0] - right[0]).hypot(touch[1] - right[1]);
        assert!((radius - heart.radius).abs() < 1e-5, "{spacing} {tip}");
        let side = [apex[0] - touch[0], apex[1] - touch[1]];
        let normal = [touch[0] - right[0], touch[1] - right[1]];
        assert!((side[0] * normal[0] + side[1] * normal[1]).abs() < 1e-5);
        // The outer tangent, not the inner one.
        assert!(touch[0] > right[0], "{spacing} {tip}: {touch:?}");
        // The outline's extent over a fine grid.
        const N: usize = 801;
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for i in 0..N * N {
            let p = [i % N, i / N].map(|k| -1.0 + 2.0 * k as f32 / (N - 1) as f32);
            if Shape::Heart.contains_in(p[0], p[1], &forms) {
                for a in 0..2 {
                    lo[a] = lo[a].min(p[a]);
                    hi[a] = hi[a].max(p[a]);
                }
            }
        }
        let wide = 2.0 * (spacing + 1.0) >= 1.0 + tip;
        let (long, short) = if wide { (0, 1) } else { (1, 0) };
        let cell = 2.0 / (N - 1) as f32;
        assert!(
            hi[long] > 1.0 - 2.0 * cell && lo[long] < -1.0 + 2.0 * cell,
            "{spacing} {tip}: {lo:?} {hi:?}"
        );
        assert!(
            (hi[short] + lo[short]).abs() < 2.0 * cell,
            "{spacing} {tip}: {lo:?} {hi:?}"
        );
        let ratio = (1.0 + tip).min(2.0 * (spacing + 1.0)) / (1.0 + tip).max(2.0 * (spacing + 1.0));
        let span = hi[short] - lo[short];
        assert!(
            (span - 2.0 * ratio).abs() < 2.0 * cell,
            "{spacing} {tip}: {span}, want {}",
            2.0 * ratio
        );
    }
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
                    (o.shape.sdf_in(u, v, &forms.for_object(o)) * half * side as f32).abs()
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

/// In a scene whose triangles are turned, each triangle adds a turn of its own, so they
/// point different ways (as other programs draw them); other shapes, and triangles in
/// unturned scenes, keep the scene's forms.
#[test]
fn turned_triangles_point_their_own_ways() {
    let request = SceneRequest::new().exactly(Shape::Triangle, 4).varied();
    let scene = (0..100)
        .map(|seed| Scene::generate(seed, &request).unwrap())
        .find(|scene| scene.style.forms.triangle_turn != UPRIGHT)
        .expect("a scene with turned triangles");
    let forms = scene.style.forms;
    let triangles: Vec<_> = scene
        .objects
        .iter()
        .filter(|o| o.shape == Shape::Triangle)
        .collect();
    assert_eq!(triangles.len(), 4);
    let turns: Vec<[f32; 2]> = triangles
        .iter()
        .map(|o| forms.for_object(o).triangle_turn)
        .collect();
    for (i, [c, s]) in turns.iter().enumerate() {
        assert!(
            (c * c + s * s - 1.0).abs() < 1e-5,
            "not a rotation: {c}, {s}"
        );
        for other in &turns[i + 1..] {
            assert!(
                (c - other[0]).abs() + (s - other[1]).abs() > 1e-3,
                "{turns:?}"
            );
        }
    }
    for object in scene.objects.iter().filter(|o| o.shape != Shape::Triangle) {
        assert_eq!(forms.for_object(object), forms);
    }
    let unturned = Forms {
        triangle_turn: UPRIGHT,
        ..forms
    };
    assert_eq!(unturned.for_object(triangles[0]), unturned);
}
