//! Choosing the next token from logits: greedy, or temperature + nucleus (top-p) sampling.

use crate::rng::Rng;
use crate::{Error, Result};

/// How to pick the next token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// Always the most likely token (GVT's evaluation setting).
    Greedy,
    /// Softmax at `temperature`, keep the smallest set of tokens whose probability reaches
    /// `top_p`, sample from it with a generator seeded by `seed`.
    TopP {
        temperature: f32,
        top_p: f32,
        seed: u64,
    },
}

impl Sampling {
    /// Sampling from the CLI's or the app's settings: a temperature of 0 means greedy.
    /// Unusable values are refused, naming the option.
    pub fn from_settings(temperature: f32, top_p: f32, seed: u64) -> Result<Self> {
        let rule = if temperature == 0.0 {
            Sampling::Greedy
        } else {
            Sampling::TopP {
                temperature,
                top_p,
                seed,
            }
        };
        rule.validate()?;
        Ok(rule)
    }

    /// Refuses a temperature that is negative or not finite, and a top-p outside (0, 1].
    pub fn validate(&self) -> Result<()> {
        let Sampling::TopP {
            temperature, top_p, ..
        } = *self
        else {
            return Ok(());
        };
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "temperature {temperature} is unusable: it must be a finite number, 0 or more \
                 (0 = greedy)"
            )));
        }
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(Error::InvalidInput(format!(
                "top-p {top_p} is unusable: it must be above 0 and at most 1"
            )));
        }
        Ok(())
    }
}

/// Picks tokens according to a [`Sampling`] rule.
#[derive(Debug, Clone)]
pub struct Sampler {
    rule: Sampling,
    rng: Rng,
}

impl Sampler {
    pub fn new(rule: Sampling) -> Self {
        let seed = match rule {
            Sampling::TopP { seed, .. } => seed,
            Sampling::Greedy => 0,
        };
        Self {
            rule,
            rng: Rng::new(seed),
        }
    }

    /// `(temperature, top_p)` when tokens are drawn, `None` when every choice is the
    /// largest logit.
    pub fn nucleus_rule(&self) -> Option<(f32, f32)> {
        match self.rule {
            Sampling::TopP {
                temperature, top_p, ..
            } if temperature > 0.0 => Some((temperature, top_p)),
            _ => None,
        }
    }

    /// The uniform draw in `[0, 1)` for the next token, from the same generator
    /// [`Sampler::sample`] draws from (the GPU engine samples with it).
    pub fn draw(&mut self) -> f32 {
        self.rng.next_f32()
    }

    /// [`Sampler::draw`] when tokens are drawn; greedy choices take no draw (the CPU path
    /// takes none either, so both consume the generator alike).
    pub fn draw_if_sampling(&mut self) -> f32 {
        if self.nucleus_rule().is_some() {
            self.draw()
        } else {
            0.0
        }
    }

    /// The next token id for these logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        match self.rule {
            Sampling::Greedy => argmax(logits),
            Sampling::TopP {
                temperature, top_p, ..
            } if temperature > 0.0 => {
                let candidates = nucleus(logits, temperature, top_p);
                let mut u = self.rng.next_f32() * candidates.iter().map(|c| c.1).sum::<f32>();
                for &(id, p) in &candidates {
                    if u < p {
                        return id;
                    }
                    u -= p;
                }
                candidates.last().map_or(0, |c| c.0)
            }
            Sampling::TopP { .. } => argmax(logits),
        }
    }
}

/// Index of the largest logit (the first one on ties); NaNs never win.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] || logits[best].is_nan() {
            best = i;
        }
    }
    best as u32
}

/// The smallest set of most likely tokens whose probability reaches `top_p`, as
/// `(id, unnormalised probability)` in decreasing order.
fn nucleus(logits: &[f32], temperature: f32, top_p: f32) -> Vec<(u32, f32)> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &x)| (i as u32, ((x - max) / temperature).exp()))
        .filter(|(_, p)| *p > 0.0)
        .collect();
    let total: f32 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut cumulative = 0.0;
    let mut keep = 0;
    for (_, p) in &probs {
        keep += 1;
        cumulative += p / total;
        if cumulative >= top_p {
            break;
        }
    }
    probs.truncate(keep.max(1));
    probs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_logit() {
        assert_eq!(argmax(&[0.1, 2.0, -1.0, 1.9]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5, 0.2]), 1);
        let mut s = Sampler::new(Sampling::Greedy);
        assert_eq!(s.sample(&[0.0, 0.0, 3.0, 1.0]), 2);
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Probabilities ~ [0.64, 0.24, 0.09, 0.03]: top_p 0.8 keeps tokens 0 and 1 only.
        let logits = [3.0, 2.0, 1.0, 0.0];
        let kept: Vec<u32> = nucleus(&logits, 1.0, 0.8).iter().map(|c| c.0).collect();
        assert_eq!(kept, vec![0, 1]);
        let mut s = Sampler::new(Sampling::TopP {
            temperature: 1.0,
            top_p: 0.8,
            seed: 7,
        });
        let mut counts = [0; 4];
        for _ in 0..2000 {
            counts[s.sample(&logits) as usize] += 1;
        }
        assert_eq!(counts[2] + counts[3], 0);
        // 0.64 / 0.88 = 73% of draws for token 0.
        assert!((1300..1600).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn unusable_settings_are_refused_by_name() {
        assert_eq!(
            Sampling::from_settings(0.0, 2.0, 1).unwrap(),
            Sampling::Greedy
        );
        let bad = [
            (f32::NAN, 0.9, "temperature NaN is unusable"),
            (-1.0, 0.9, "temperature -1 is unusable"),
            (f32::INFINITY, 0.9, "temperature inf is unusable"),
            (0.7, f32::NAN, "top-p NaN is unusable"),
            (0.7, 0.0, "top-p 0 is unusable"),
            (0.7, 2.0, "top-p 2 is unusable"),
        ];
        for (temperature, top_p, message) in bad {
            let err = Sampling::from_settings(temperature, top_p, 1).unwrap_err();
            assert!(err.to_string().starts_with(message), "{err}");
        }
        assert!(Sampling::from_settings(0.7, 1.0, 1).is_ok());
    }

    #[test]
    fn seeded_sampling_repeats() {
        let logits = [1.0, 1.1, 0.9, 1.05];
        let rule = Sampling::TopP {
            temperature: 0.8,
            top_p: 0.95,
            seed: 42,
        };
        let a: Vec<u32> = {
            let mut s = Sampler::new(rule);
            (0..50).map(|_| s.sample(&logits)).collect()
        };
        let b: Vec<u32> = {
            let mut s = Sampler::new(rule);
            (0..50).map(|_| s.sample(&logits)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(|&t| t != a[0]), "sampling never varied");
    }
}
