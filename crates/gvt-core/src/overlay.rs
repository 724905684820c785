//! The last stage of the pipeline: a heat map over the patch grid, upsampled and blended over
//! the original image. The model sees the image stretched to a square, so patch `(r, c)`
//! covers the same fraction of the original: rows `r/G..(r+1)/G`, columns `c/G..(c+1)/G`.

use image::{DynamicImage, Rgba, RgbaImage};

use crate::attention::Heatmap;

/// Colour scales for the heat map, exact as their authors define them (`colorous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform black-purple-orange-yellow (matplotlib's inferno).
    #[default]
    Inferno,
    /// Perceptually uniform blue-green-yellow (matplotlib's viridis).
    Viridis,
    /// Dark red to pale yellow (ColorBrewer's YlOrRd, reversed), to keep the image readable.
    Red,
}

impl Colormap {
    pub const ALL: [Colormap; 3] = [Colormap::Inferno, Colormap::Viridis, Colormap::Red];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Inferno => "Inferno",
            Colormap::Viridis => "Viridis",
            Colormap::Red => "Red",
        }
    }

    /// Colour of `t` in [0, 1].
    pub fn color(self, t: f32) -> [u8; 3] {
        let t = f64::from(t.clamp(0.0, 1.0));
        let c = match self {
            Colormap::Inferno => colorous::INFERNO.eval_continuous(t),
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Colormap::Red => colorous::YELLOW_ORANGE_RED.eval_continuous(1.0 - t),
        };
        c.into_array()
    }
}

/// How to draw the overlay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverlayStyle {
    /// 0 = image only, 1 = heat map only (at the hottest spot).
    pub opacity: f32,
    pub colormap: Colormap,
    /// Draw the patch grid lines.
    pub show_grid: bool,
}

impl Default for OverlayStyle {
    fn default() -> Self {
        Self {
            opacity: 0.6,
            colormap: Colormap::Inferno,
            show_grid: false,
        }
    }
}

/// The heat map bilinearly upsampled to `width x height`, scaled so its maximum is 1.
pub fn upsample(map: &Heatmap, width: u32, height: u32) -> Vec<f32> {
    let g = map.grid;
    let max = map.values.iter().cloned().fold(0.0f32, f32::max);
    let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
    let at = |r: usize, c: usize| map.values[r * g + c] * scale;
    let coord = |p: u32, size: u32| {
        let u = ((p as f32 + 0.5) / size as f32 * g as f32 - 0.5).clamp(0.0, (g - 1) as f32);
        let i = (u.floor() as usize).min(g.saturating_sub(2));
        (i, (u - i as f32).clamp(0.0, 1.0))
    };
    let mut out = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        let (r, fy) = coord(y, height);
        for x in 0..width {
            let (c, fx) = coord(x, width);
            let (r1, c1) = ((r + 1).min(g - 1), (c + 1).min(g - 1));
            let top = at(r, c) * (1.0 - fx) + at(r, c1) * fx;
            let bottom = at(r1, c) * (1.0 - fx) + at(r1, c1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// The image with the heat map blended over it. Hot areas take the colormap's colour at
/// `opacity`; cold areas stay close to the image.
pub fn render(image: &DynamicImage, map: &Heatmap, style: &OverlayStyle) -> RgbaImage {
    let mut out = image.to_rgba8();
    let (w, h) = out.dimensions();
    let heat = upsample(map, w, h);
    for (i, px) in out.pixels_mut().enumerate() {
        let t = heat[i];
        let color = style.colormap.color(t);
        // Weight by heat so the image stays visible where the model did not look.
        let a = style.opacity * (0.25 + 0.75 * t);
        for c in 0..3 {
            px[c] = (px[c] as f32 * (1.0 - a) + color[c] as f32 * a).round() as u8;
        }
    }
    if style.show_grid && map.grid > 1 {
        let line = Rgba([255, 255, 255, 255]);
        for k in 1..map.grid as u32 {
            let x = k * w / map.grid as u32;
            let y = k * h / map.grid as u32;
            (0..h).for_each(|yy| out.put_pixel(x.min(w - 1), yy, line));
            (0..w).for_each(|xx| out.put_pixel(xx, y.min(h - 1), line));
        }
    }
    out
}

/// Where `after` looks more than `before` (red) and less (blue), over a greyed copy of
/// `image`: both maps upsampled, their difference scaled so the largest change is fully
/// coloured. The maps must share a grid.
pub fn render_difference(image: &DynamicImage, before: &Heatmap, after: &Heatmap) -> RgbaImage {
    const MORE: [f32; 3] = [230.0, 40.0, 40.0];
    const LESS: [f32; 3] = [40.0, 110.0, 240.0];
    let mut out = image.to_rgba8();
    let (w, h) = out.dimensions();
    let mass = |m: &Heatmap| {
        // Upsampled maps are scaled to a maximum of 1; scale back to the map's own mass so
        // the two are compared as distributions.
        let max = m.values.iter().cloned().fold(0.0f32, f32::max);
        upsample(m, w, h).into_iter().map(move |v| v * max)
    };
    let diff: Vec<f32> = mass(after).zip(mass(before)).map(|(a, b)| a - b).collect();
    let largest = diff.iter().fold(0.0f32, |m, d| m.max(d.abs()));
    for (px, d) in out.pixels_mut().zip(diff) {
        let grey = 0.5 * (0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32);
        let t = if largest > 0.0 { d / largest } else { 0.0 };
        let color = if t >= 0.0 { MORE } else { LESS };
        let a = t.abs().min(1.0);
        for c in 0..3 {
            px[c] = (grey * (1.0 - a) + color[c] * a).round() as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    fn hot_corner() -> Heatmap {
        // 4x4 grid, all heat in the bottom-right patch.
        let mut values = vec![0.0; 16];
        values[15] = 1.0;
        Heatmap { grid: 4, values }
    }

    #[test]
    fn upsampling_keeps_the_hot_patch_in_place() {
        let up = upsample(&hot_corner(), 40, 40);
        assert_eq!(up.len(), 1600);
        assert!((up[39 * 40 + 39] - 1.0).abs() < 1e-6);
        assert!(up[0].abs() < 1e-6);
        assert!(up[5 * 40 + 35] < 0.01, "top right stays cold");
    }

    #[test]
    fn the_overlay_colours_where_the_model_looked() {
        let image =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 48, image::Rgb([128, 128, 128])));
        let style = OverlayStyle {
            opacity: 0.8,
            colormap: Colormap::Inferno,
            show_grid: false,
        };
        let out = render(&image, &hot_corner(), &style);
        assert_eq!(out.dimensions(), (64, 48));
        let hot = out.get_pixel(62, 46);
        let cold = out.get_pixel(2, 2);
        // The hottest colour of inferno is pale yellow; the cold corner darkens a little.
        assert!(hot[0] > 200 && hot[1] > 200, "{hot:?}");
        assert!(cold[0] < 128, "{cold:?}");
        let plain = render(
            &image,
            &hot_corner(),
            &OverlayStyle {
                opacity: 0.0,
                ..style
            },
        );
        assert_eq!(plain.get_pixel(62, 46)[0], 128);
    }

    #[test]
    fn the_difference_is_red_where_the_new_map_looks_more() {
        let image =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 40, image::Rgb([100, 100, 100])));
        let before = hot_corner();
        let mut values = vec![0.0; 16];
        values[0] = 1.0;
        let after = Heatmap { grid: 4, values };
        let out = render_difference(&image, &before, &after);
        let (gained, lost, same) = (
            out.get_pixel(1, 1),
            out.get_pixel(38, 38),
            out.get_pixel(38, 1),
        );
        assert!(gained[0] > 200 && gained[2] < 80, "{gained:?}");
        assert!(lost[2] > 200 && lost[0] < 80, "{lost:?}");
        assert_eq!(same[0], same[2], "no change stays grey: {same:?}");
        let unchanged = render_difference(&image, &before, &before);
        assert!(unchanged.pixels().all(|p| p[0] == 50 && p[2] == 50));
    }

    #[test]
    fn colormaps_match_matplotlib() {
        // matplotlib 3.8's `cm.inferno` / `cm.viridis` at these points, as 8-bit RGB.
        let cases = [
            (Colormap::Inferno, 0.0, [0, 0, 4]),
            (Colormap::Inferno, 0.5, [188, 55, 84]),
            (Colormap::Inferno, 1.0, [252, 255, 164]),
            (Colormap::Viridis, 0.0, [68, 1, 84]),
            (Colormap::Viridis, 0.5, [33, 145, 140]),
            (Colormap::Viridis, 1.0, [253, 231, 37]),
        ];
        for (map, t, want) in cases {
            let got = map.color(t);
            let off = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap();
            assert!(
                off <= 1,
                "{} at {t}: {got:?}, matplotlib {want:?}",
                map.name()
            );
        }
    }

    #[test]
    fn colormaps_run_from_dark_to_light() {
        for map in Colormap::ALL {
            let lum = |c: [u8; 3]| c.iter().map(|&x| x as u32).sum::<u32>();
            assert!(lum(map.color(0.0)) < lum(map.color(1.0)), "{}", map.name());
        }
    }
}
