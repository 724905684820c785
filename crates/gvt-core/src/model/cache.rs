//! Key/value cache of the LLM, one entry per layer.

use burn::tensor::Tensor;

/// Keys and values of the positions seen so far.
#[derive(Debug, Default, Clone)]
pub struct KvCache {
    /// Per layer: keys and values `[b, kv_heads, t, head_dim]`.
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    len: usize,
}

impl KvCache {
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![None; layers],
            len: 0,
        }
    }

    /// Positions cached; also the RoPE offset of the next token.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn reset(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
        self.len = 0;
    }

    /// Appends this step's keys and values for `layer` and returns all of them.
    ///
    /// # Shapes
    /// - k, v: `[b, kv_heads, t, hd]` -> `[b, kv_heads, len + t, hd]` each
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: Tensor<4>,
        v: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let (k, v) = match self.layers[layer].take() {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
            None => (k, v),
        };
        self.layers[layer] = Some((k.clone(), v.clone()));
        (k, v)
    }

    /// Records that `t` positions were appended to every layer.
    pub(crate) fn advance(&mut self, t: usize) {
        self.len += t;
    }
}
