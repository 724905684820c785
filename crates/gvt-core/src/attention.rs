//! Where the model looked: attention recorded during an answer, composed into a heat map over
//! the image's patch grid.
//!
//! Two maps chain together. The LLM's attention from the position that produced an answer
//! token to the visual tokens says which of the resampler's latents it read (token ->
//! latents); the resampler's cross-attention says which image tokens each latent gathered
//! (latents -> patches). Their product is the map for that token.

use crate::{Error, Result};

/// A dense row-major array with named axis sizes, copied off the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Probs {
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

impl Probs {
    pub fn new(dims: Vec<usize>, values: Vec<f32>) -> Result<Self> {
        if dims.iter().product::<usize>() != values.len() {
            return Err(Error::InvalidInput(format!(
                "attention of shape {dims:?} cannot hold {} values",
                values.len()
            )));
        }
        Ok(Self { dims, values })
    }

    /// The contiguous innermost row at the given outer indices.
    fn row(&self, outer: &[usize]) -> &[f32] {
        let inner = *self.dims.last().unwrap_or(&1);
        let mut offset = 0;
        for (i, &idx) in outer.iter().enumerate() {
            offset = offset * self.dims[i] + idx;
        }
        &self.values[offset * inner..(offset + 1) * inner]
    }
}

/// Attention captured while answering one question about one image.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionRecord {
    /// Patches per image side.
    pub grid: usize,
    /// Resampler cross-attention `[layers, heads, latents, media + latents]`, where media is
    /// the CLS token followed by `grid^2` patches.
    pub resampler: Probs,
    /// Per answer token, the LLM's attention from the position that produced it to the
    /// visual tokens, `[layers, heads, latents]` (raw probabilities: they do not sum to 1
    /// because the text positions take the rest).
    pub llm: Vec<Probs>,
}

/// Which attention to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapView {
    /// Token -> latents averaged over all LLM layers and heads, latents -> patches averaged
    /// over all resampler layers and heads.
    #[default]
    Combined,
    /// One LLM layer and head for token -> latents; resampler averaged.
    LlmHead { layer: usize, head: usize },
    /// One resampler layer and head for latents -> patches; LLM averaged.
    ResamplerHead { layer: usize, head: usize },
    /// What one latent (visual token) gathered, averaged over the resampler; ignores the
    /// answer token.
    Latent(usize),
    /// Attention rollout through the resampler: a latent of layer k also reaches the image
    /// through the latents of layer k-1 it attends to. LLM averaged.
    Rollout,
}

/// A normalised map over the patch grid (row-major, sums to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub grid: usize,
    pub values: Vec<f32>,
}

impl Heatmap {
    /// The `(row, col)` of the hottest patch.
    pub fn argmax(&self) -> (usize, usize) {
        let i = self
            .values
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        (i / self.grid, i % self.grid)
    }
}

/// Scales `v` to sum to 1 (uniform when it sums to 0).
fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let sum: f32 = v.iter().sum();
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    } else if !v.is_empty() {
        let u = 1.0 / v.len() as f32;
        v.iter_mut().for_each(|x| *x = u);
    }
    v
}

impl AttentionRecord {
    pub fn latents(&self) -> usize {
        self.resampler.dims[2]
    }
    pub fn resampler_layers(&self) -> usize {
        self.resampler.dims[0]
    }
    pub fn resampler_heads(&self) -> usize {
        self.resampler.dims[1]
    }
    pub fn llm_layers(&self) -> usize {
        self.llm.first().map_or(0, |p| p.dims[0])
    }
    pub fn llm_heads(&self) -> usize {
        self.llm.first().map_or(0, |p| p.dims[1])
    }
    /// Answer tokens with a recorded map.
    pub fn tokens(&self) -> usize {
        self.llm.len()
    }

    fn check_view(&self, view: MapView) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidInput(what));
        match view {
            MapView::LlmHead { layer, head }
                if layer >= self.llm_layers() || head >= self.llm_heads() =>
            {
                bad(format!(
                    "LLM layer {layer} head {head} out of range ({} layers x {} heads)",
                    self.llm_layers(),
                    self.llm_heads()
                ))
            }
            MapView::ResamplerHead { layer, head }
                if layer >= self.resampler_layers() || head >= self.resampler_heads() =>
            {
                bad(format!(
                    "resampler layer {layer} head {head} out of range ({} layers x {} heads)",
                    self.resampler_layers(),
                    self.resampler_heads()
                ))
            }
            MapView::Latent(l) if l >= self.latents() => bad(format!(
                "latent {l} out of range ({} latents)",
                self.latents()
            )),
            _ => Ok(()),
        }
    }

    /// How much answer token `token` read each latent, summing to 1.
    pub fn token_to_latents(&self, token: usize, view: MapView) -> Result<Vec<f32>> {
        self.check_view(view)?;
        let probs = self.llm.get(token).ok_or_else(|| {
            Error::InvalidInput(format!(
                "answer token {token} has no attention (the answer has {} tokens)",
                self.tokens()
            ))
        })?;
        let (layers, heads, latents) = (probs.dims[0], probs.dims[1], probs.dims[2]);
        let mut acc = vec![0.0; latents];
        let mut add = |layer: usize, head: usize| {
            for (a, p) in acc.iter_mut().zip(probs.row(&[layer, head])) {
                *a += p;
            }
        };
        match view {
            MapView::LlmHead { layer, head } => add(layer, head),
            _ => (0..layers).for_each(|l| (0..heads).for_each(|h| add(l, h))),
        }
        Ok(normalise(acc))
    }

    /// For each latent, its map over the patches, each summing to 1: `[latents][grid^2]`.
    /// The CLS key and the latent keys are dropped (they are not places in the image).
    pub fn latents_to_patches(&self, view: MapView) -> Result<Vec<Vec<f32>>> {
        self.check_view(view)?;
        let (layers, heads, latents) = (
            self.resampler_layers(),
            self.resampler_heads(),
            self.latents(),
        );
        let patches = self.grid * self.grid;
        let media = 1 + patches;
        // Head-averaged [latents][media + latents] for one layer.
        let layer_mean = |layer: usize| -> Vec<Vec<f32>> {
            (0..latents)
                .map(|l| {
                    let mut row = vec![0.0; media + latents];
                    for h in 0..heads {
                        for (r, p) in row.iter_mut().zip(self.resampler.row(&[layer, h, l])) {
                            *r += p / heads as f32;
                        }
                    }
                    row
                })
                .collect()
        };
        let patches_of = |row: &[f32]| normalise(row[1..media].to_vec());
        let maps = match view {
            MapView::ResamplerHead { layer, head } => (0..latents)
                .map(|l| patches_of(self.resampler.row(&[layer, head, l])))
                .collect(),
            MapView::Rollout => {
                // reach[l] = direct media attention + attention to previous latents' reach.
                let mut reach = vec![vec![0.0; patches]; latents];
                for layer in 0..layers {
                    let mean = layer_mean(layer);
                    reach = mean
                        .iter()
                        .map(|row| {
                            let mut r = row[1..media].to_vec();
                            for (j, prev) in reach.iter().enumerate() {
                                let w = row[media + j];
                                r.iter_mut().zip(prev).for_each(|(x, p)| *x += w * p);
                            }
                            r
                        })
                        .collect();
                }
                reach.into_iter().map(normalise).collect()
            }
            _ => {
                let mut acc = vec![vec![0.0; patches]; latents];
                for layer in 0..layers {
                    for (a, row) in acc.iter_mut().zip(layer_mean(layer)) {
                        a.iter_mut()
                            .zip(patches_of(&row))
                            .for_each(|(x, p)| *x += p / layers as f32);
                    }
                }
                acc
            }
        };
        Ok(maps)
    }

    /// The heat map for answer token `token` (ignored by [`MapView::Latent`]).
    pub fn heatmap(&self, token: usize, view: MapView) -> Result<Heatmap> {
        let maps = self.latents_to_patches(view)?;
        let values = match view {
            MapView::Latent(l) => maps[l].clone(),
            _ => {
                let weights = self.token_to_latents(token, view)?;
                let mut v = vec![0.0; self.grid * self.grid];
                for (w, map) in weights.iter().zip(&maps) {
                    v.iter_mut().zip(map).for_each(|(x, m)| *x += w * m);
                }
                normalise(v)
            }
        };
        Ok(Heatmap {
            grid: self.grid,
            values,
        })
    }
}

impl AttentionRecord {
    /// The map for the whole answer: the mean of the per-token maps.
    pub fn answer_heatmap(&self, view: MapView) -> Result<Heatmap> {
        if self.tokens() == 0 {
            return Err(Error::InvalidInput(
                "the answer is empty; there is no map to show".into(),
            ));
        }
        let mut values = vec![0.0; self.grid * self.grid];
        for token in 0..self.tokens() {
            let map = self.heatmap(token, view)?;
            values.iter_mut().zip(map.values).for_each(|(v, m)| *v += m);
        }
        Ok(Heatmap {
            grid: self.grid,
            values: normalise(values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 resampler layers x 2 heads, 3 latents, a 2x2 grid (media = CLS + 4 patches);
    /// 2 LLM layers x 1 head. Latent 1 looks at patch 3 (bottom right) in every layer and
    /// head; the others spread evenly; the LLM reads latent 1 for token 0 and latent 0 for
    /// token 1.
    fn record() -> AttentionRecord {
        let (layers, heads, latents, grid) = (2, 2, 3, 2);
        let keys = 1 + grid * grid + latents;
        let mut resampler = Vec::new();
        for _ in 0..layers * heads {
            for l in 0..latents {
                let mut row = vec![0.0f32; keys];
                if l == 1 {
                    row[1 + 3] = 0.9;
                    row[0] = 0.1;
                } else {
                    row.iter_mut().for_each(|x| *x = 1.0 / keys as f32);
                }
                resampler.extend(row);
            }
        }
        let llm_row = |hot: usize| {
            let mut v = Vec::new();
            for _ in 0..2 {
                let mut row = vec![0.01f32; latents];
                row[hot] = 0.5;
                v.extend(row);
            }
            Probs::new(vec![2, 1, latents], v).unwrap()
        };
        AttentionRecord {
            grid,
            resampler: Probs::new(vec![layers, heads, latents, keys], resampler).unwrap(),
            llm: vec![llm_row(1), llm_row(0)],
        }
    }

    fn assert_sums_to_one(v: &[f32]) {
        let s: f32 = v.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "sum {s}");
    }

    #[test]
    fn every_view_gives_a_normalised_grid() {
        let r = record();
        for view in [
            MapView::Combined,
            MapView::LlmHead { layer: 1, head: 0 },
            MapView::ResamplerHead { layer: 0, head: 1 },
            MapView::Latent(2),
            MapView::Rollout,
        ] {
            let map = r.heatmap(0, view).unwrap();
            assert_eq!(map.values.len(), 4);
            assert_sums_to_one(&map.values);
            for row in r.latents_to_patches(view).unwrap() {
                assert_sums_to_one(&row);
            }
            assert_sums_to_one(&r.token_to_latents(1, view).unwrap());
        }
    }

    #[test]
    fn the_hot_patch_is_found() {
        let r = record();
        // Token 0 reads latent 1, which looks at patch 3 = (1, 1).
        let map = r.heatmap(0, MapView::Combined).unwrap();
        assert_eq!(map.argmax(), (1, 1));
        assert!(map.values[3] > 0.5, "{:?}", map.values);
        // Token 1 reads latent 0, which spreads evenly: no patch dominates.
        let map = r.heatmap(1, MapView::Combined).unwrap();
        let max = map.values.iter().cloned().fold(0.0, f32::max);
        assert!(max < 0.4, "{:?}", map.values);
        assert_eq!(r.heatmap(1, MapView::Latent(1)).unwrap().argmax(), (1, 1));
    }

    #[test]
    fn rollout_carries_attention_through_latents() {
        let mut r = record();
        // Make latent 0 of the last layer attend only to latent 1 of the previous layer:
        // directly it sees no patch, through rollout it sees patch 3.
        let keys = r.resampler.dims[3];
        let (heads, latents) = (2, 3);
        for h in 0..heads {
            let start = ((heads + h) * latents) * keys;
            let row = &mut r.resampler.values[start..start + keys];
            row.iter_mut().for_each(|x| *x = 0.0);
            row[1 + 4 + 1] = 1.0;
        }
        let rolled = r.latents_to_patches(MapView::Rollout).unwrap();
        assert!(rolled[0][3] > 0.8, "{:?}", rolled[0]);
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let r = record();
        assert!(r.heatmap(5, MapView::Combined).is_err());
        assert!(
            r.heatmap(0, MapView::LlmHead { layer: 2, head: 0 })
                .is_err()
        );
        assert!(
            r.heatmap(0, MapView::ResamplerHead { layer: 0, head: 2 })
                .is_err()
        );
        assert!(r.heatmap(0, MapView::Latent(3)).is_err());
        assert!(Probs::new(vec![2, 2], vec![0.0; 3]).is_err());
    }
}
