//! The 1x1 "expand" convolution in front of a depthwise one, folded into it.
//!
//! In an inverted-residual block a 1x1 convolution widens the channels (16 to 96 on a 112x112 map in the bundled
//! model) and the depthwise convolution reads them back: the wide map makes a round trip through memory, and tract's
//! matrix product writes it a short row at a time (its tiles hold channels, the layout wants pixels). Folded, each
//! wide channel plane is computed when the depthwise op needs it, into a buffer that stays in cache, as a weighted
//! sum of the narrow input planes with its bias and ReLU6, four channels at a time. Only maps of 28x28 and larger
//! are folded: on smaller ones the map stays in cache anyway, and tract's register-blocked matrix product is the
//! faster sum.

use std::sync::Arc;

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

use super::clamp_after;
use super::sum::{four_planes, Group, Tap4, LANES, LANES4};

/// The smallest map (pixels per channel) worth folding. Measured node by node on x86-64 (`shoplens bench --ops
/// --nodes`, docs/benchmarks.md): with four channels summed at once ([`Expand::planes4`]) the folded op beats tract's
/// product, its packing and the plain op on the bundled model's 56x56 maps (0.53 against 0.79 ms, 0.58 against 0.72)
/// and on its 28x28 ones (0.43 against 0.47, 0.32 against 0.32); at 14x14 and 7x7 the whole model got slower (13.9
/// and 17.1 ms against 12.4 in all): there tract's register-blocked product is the faster sum.
const MIN_PLANE: usize = 28 * 28;

/// A 1x1 convolution of `inputs` channels into the depthwise op's channels, bias added, optionally clamped.
#[derive(Debug, Clone)]
pub(crate) struct Expand {
    pub(super) inputs: usize,
    /// `channels x inputs`.
    pub(super) weights: Arc<[f32]>,
    pub(super) bias: Arc<[f32]>,
    pub(super) clamp: Option<(f32, f32)>,
    /// Whether its output keeps a batch axis (of 1): `[1, C, H, W]` rather than `[C, H, W]`.
    pub(super) batch: bool,
}

impl PartialEq for Expand {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let clamp = |c: Option<(f32, f32)>| c.map(|(a, b)| (a.to_bits(), b.to_bits()));
        self.inputs == other.inputs
            && bits(&self.weights) == bits(&other.weights)
            && bits(&self.bias) == bits(&other.bias)
            && clamp(self.clamp) == clamp(other.clamp)
            && self.batch == other.batch
    }
}

impl Expand {
    /// Channel `c`'s output at pixel `p` by the definition, `clamp(bias[c] + sum over i of weights[c][i] *
    /// input[i * len + p])`: for the pixels past the last whole group of a vector sum.
    #[inline(always)]
    pub(super) fn value(&self, input: &[f32], len: usize, c: usize, p: usize) -> f32 {
        let weights = &self.weights[c * self.inputs..(c + 1) * self.inputs];
        let sum = weights.iter().enumerate().fold(self.bias[c], |s, (i, &w)| s + w * input[i * len + p]);
        self.clamp.map_or(sum, |(lo, hi)| sum.max(lo).min(hi))
    }

    /// Channels `c..c + 4`'s taps over input planes of `len` pixels into `taps`, one per input plane, and their
    /// biases: what [`Group::sum4`] takes.
    pub(super) fn taps4(&self, c: usize, len: usize, taps: &mut Vec<Tap4>) -> [f32; 4] {
        let weights = &self.weights[c * self.inputs..(c + 4) * self.inputs];
        taps.clear();
        taps.extend((0..self.inputs).map(|i| (i * len, [0, 1, 2, 3].map(|k| weights[k * self.inputs + i]))));
        [0, 1, 2, 3].map(|k| self.bias[c + k])
    }

    /// The first `out.len()` pixels of channel `c` into `out`, from `input` (`inputs` planes of `len` pixels, from
    /// the first pixel wanted on; `out.len() <= len`, checked by the caller): [`Group::sum`] with one tap per input
    /// plane. `taps` is scratch. Returns whether the vector sum computed its groups ([`Group::sum`]).
    ///
    /// # Safety
    /// The CPU must support `G` ([`Group::sum`]).
    #[inline(always)]
    #[must_use]
    pub(super) unsafe fn plane<G: Group>(
        &self,
        input: &[f32],
        len: usize,
        c: usize,
        out: &mut [f32],
        taps: &mut Vec<(usize, f32)>,
    ) -> bool {
        let weights = &self.weights[c * self.inputs..(c + 1) * self.inputs];
        taps.clear();
        taps.extend(weights.iter().enumerate().map(|(i, &w)| (i * len, w)));
        let full = out.len() - out.len() % LANES;
        // SAFETY: the caller's promise; `input` holds `inputs` planes of `len` from the first pixel on, and every
        // group ends at or before `out.len() <= len`, so every tap reads inside its own plane.
        let done = unsafe { G::sum(input, taps, self.bias[c], self.clamp, &mut out[..full]) };
        for (p, out) in out.iter_mut().enumerate().skip(full) {
            *out = self.value(input, len, c, p);
        }
        done
    }

    /// Channels `c..c + 4`'s planes, as [`Expand::plane`] makes each, into `planes` (four planes one after the
    /// other): [`Group::sum4`] with one tap per input plane, so each input value is loaded once for the four. This is
    /// what the fold spends most of its time on: the input planes (16 of 112x112 in the bundled model) are larger
    /// than the nearest cache and are read again for every four channels, not for every channel. `taps` is scratch.
    /// Returns whether the vector sum computed its groups ([`Group::sum4`]).
    ///
    /// # Safety
    /// The CPU must support `G` ([`Group::sum4`]).
    #[inline(always)]
    #[must_use]
    pub(super) unsafe fn planes4<G: Group>(
        &self,
        input: &[f32],
        c: usize,
        planes: &mut [f32],
        taps: &mut Vec<Tap4>,
    ) -> bool {
        let len = planes.len() / 4;
        let bias = self.taps4(c, len, taps);
        let full = len - len % LANES4;
        let done = match four_planes(planes, len, full) {
            // SAFETY: the caller's promise; `input` holds `inputs` planes of `len` (checked by the caller), and every
            // group ends at or before `len`, so every tap reads inside its own plane.
            Some(planes) => unsafe { G::sum4(input, taps, bias, self.clamp, planes) },
            None => false,
        };
        for (k, plane) in planes.chunks_exact_mut(len.max(1)).enumerate() {
            for (p, out) in plane.iter_mut().enumerate().skip(full) {
                *out = self.value(input, len, c + k, p);
            }
        }
        done
    }
}

/// The expand convolution (and its clamp) that feeds `src`, the input of a depthwise convolution of `channels`
/// channels over `plane` (h, w): the op and the outlet it reads. tract declutters a 1x1 convolution into an
/// `EinSum` `IHW,OI->OHW` (weights `[O, I]`; `NIHW,...` with a batch of 1 for a model's first one) and an `Add` of the bias; that pair, optionally followed by a
/// `Max`-then-`Min` clamp, each read only by the next, is what is folded. `None` for anything else.
pub(super) fn recognize(
    model: &TypedModel,
    src: OutletId,
    channels: usize,
    plane: (usize, usize),
) -> TractResult<Option<(Expand, OutletId)>> {
    if plane.0 * plane.1 < MIN_PLANE || !single_reader(model, src.node) {
        return Ok(None);
    }
    Ok(pattern(model, src)?.filter(|(_, _, dims)| *dims == (channels, plane)).map(|(e, input, _)| (e, input)))
}

/// Whether node `id`'s output is read by one node only, and is not a model output.
fn single_reader(model: &TypedModel, id: usize) -> bool {
    model.node(id).outputs[0].successors.len() == 1 && !model.outputs.contains(&OutletId::new(id, 0))
}

/// A 1x1 convolution on a map of at least [`MIN_PLANE`] pixels ending at `src` (its bias `Add`, or the `Min` of its
/// clamp), whoever reads it: the convolution, the outlet it reads and its output's channels and map, for
/// [`super::pointwise`].
pub(super) fn large(model: &TypedModel, src: OutletId) -> TractResult<Option<(Expand, OutletId, usize)>> {
    let found = pattern(model, src)?;
    Ok(found.filter(|(_, _, (_, (h, w)))| h * w >= MIN_PLANE).map(|(e, input, (c, _))| (e, input, c)))
}

/// The 1x1 convolution (with its bias and clamp) ending at `src`, as [`recognize`] describes it, whoever reads
/// `src`: the convolution, the outlet it reads, and its output's channels and map.
#[allow(clippy::type_complexity)]
fn pattern(model: &TypedModel, src: OutletId) -> TractResult<Option<(Expand, OutletId, (usize, (usize, usize)))>> {
    let single_reader = |id: usize| single_reader(model, id);
    if src.slot != 0 {
        return Ok(None);
    }
    // The bias `Add`, or the `Min` of a `Max`-then-`Min` clamp after it.
    let (add_id, clamp) = if model.node(src.node).op().name() == "Add" {
        (src.node, None)
    } else {
        let max = model.node(src.node).inputs.first().map(|o| o.node);
        let add = max.and_then(|m| model.node(m).inputs.first()).map(|o| o.node);
        match add {
            Some(add) => match clamp_after(model, add)? {
                Some((lohi, min)) if min == src.node => (add, Some(lohi)),
                _ => return Ok(None),
            },
            None => return Ok(None),
        }
    };
    let add = model.node(add_id);
    // Inside the pattern each node is read by the next only; its end may have any readers.
    if add.op().name() != "Add" || add.inputs.len() != 2 || (add_id != src.node && !single_reader(add_id)) {
        return Ok(None);
    }
    let konst = |o: &OutletId| model.outlet_fact(*o).ok().and_then(|f| f.konst.clone());
    let (sum, bias) = match (konst(&add.inputs[0]), konst(&add.inputs[1])) {
        (None, Some(b)) => (add.inputs[0], b),
        (Some(b), None) => (add.inputs[1], b),
        _ => return Ok(None),
    };
    let node = model.node(sum.node);
    let Some(einsum) = node.op_as::<EinSum>() else { return Ok(None) };
    if sum.slot != 0
        || !single_reader(sum.node)
        || einsum.q_params.is_some()
        || einsum.operating_dt != f32::datum_type()
        || !["IHW,OI->OHW", "NIHW,OI->OHW", "NIHW,OI->NOHW"].contains(&einsum.axes.to_string().as_str())
        || node.inputs.len() != 2
    {
        return Ok(None);
    }
    let (input, out) = (model.outlet_fact(node.inputs[0])?, model.outlet_fact(sum)?);
    let Some(kernel) = konst(&node.inputs[1]) else { return Ok(None) };
    let (inputs, plane) = match input.shape.as_concrete() {
        Some(&[i, h, w] | &[1, i, h, w]) => (i, (h, w)),
        _ => return Ok(None),
    };
    let channels = match out.shape.as_concrete() {
        Some(&[c, h, w] | &[1, c, h, w]) if (h, w) == plane => c,
        _ => return Ok(None),
    };
    if inputs == 0
        || channels == 0
        || plane.0 * plane.1 == 0
        || input.datum_type != f32::datum_type()
        || kernel.datum_type() != f32::datum_type()
        || kernel.shape() != [channels, inputs]
        || model.outlet_fact(OutletId::new(add_id, 0))?.shape != out.shape
    {
        return Ok(None);
    }
    let Some(weights) = kernel.as_plain_ram().and_then(|k| k.as_slice::<f32>().ok().map(Arc::<[f32]>::from)) else {
        return Ok(None);
    };
    // One bias per channel, broadcast over the plane (`[O, 1, 1]` or `[1, O, 1, 1]`), or one for all.
    let Ok(bias_values) = bias.cast_to::<f32>() else { return Ok(None) };
    let per_channel = matches!(bias.shape(), [o, 1, 1] | [1, o, 1, 1] if *o == channels);
    let bias: Arc<[f32]> = match bias_values.as_plain_ram().and_then(|b| b.as_slice::<f32>().ok()) {
        Some(b) if per_channel && b.len() == channels => b.into(),
        Some(&[b]) if bias.shape().iter().all(|&d| d == 1) => vec![b; channels].into(),
        _ => return Ok(None),
    };
    let batch = out.rank() == 4;
    Ok(Some((Expand { inputs, weights, bias, clamp, batch }, node.inputs[0], (channels, plane))))
}
