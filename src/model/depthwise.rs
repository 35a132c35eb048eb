//! Depthwise convolutions, with the ReLU6 that follows them, as one tract op of our own.
//!
//! tract 0.23 runs a depthwise convolution through a generic zone-by-zone kernel and the clamp after it as a second
//! pass; the two took about half of the model's time (docs/benchmarks.md). This op pads one channel plane at a time
//! into a small buffer split into `stride x stride` phases (rows and columns by remainder), so every tap reads a
//! contiguous run; then it sums 32 outputs at a time over all taps in registers and clamps them on the way out.
//! The sums use explicit vector instructions: AVX-512 or else AVX2 and FMA where the x86-64 CPU has them (checked at
//! run time), NEON on arm64 (every core's baseline), a scalar loop elsewhere. Channels are split over the thread pool tract's
//! matrix products use.
//!
//! A 1x1 convolution in front of one, on a large map, is folded in ([`expand`]); one on a large map that none takes in
//! (a block's projection) becomes an op of its own ([`pointwise`]), with the same four-channel sums.
//!
//! [`fuse`] swaps the ops in before tract optimizes the graph; a convolution it does not recognize exactly (another
//! layout, dilation, quantization, weights that are not constants) stays tract's. On arm64 tract lays the graph out
//! channels-last (HWC) after the first block, so there only its stem, first depthwise convolution and projection
//! are ours for now.

use std::sync::Arc;

use rayon::prelude::*;
use tract_linalg::multithread::{current_tract_executor, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

mod expand;
mod pointwise;
mod sum;

use expand::Expand;
#[cfg(target_arch = "aarch64")]
use sum::Neon;
use sum::{four_planes, Group, Scalar, Tap4, LANES};
#[cfg(target_arch = "x86_64")]
use sum::{Avx2, Avx512};

/// One depthwise convolution of a batch-1 `[1, C, H, W]` or `[C, H, W]` f32 tensor, bias added, optionally clamped.
#[derive(Debug, Clone)]
pub(crate) struct DepthwiseConv {
    channels: usize,
    kernel: (usize, usize),
    stride: usize,
    /// Zero rows above and columns left of the input.
    pad: (usize, usize),
    input: (usize, usize),
    output: (usize, usize),
    /// `channels x kh x kw`.
    weights: Arc<[f32]>,
    bias: Arc<[f32]>,
    clamp: Option<(f32, f32)>,
    /// The 1x1 convolution in front, folded in: the op then reads that convolution's input (`expand.inputs`
    /// channels) and makes each of its own input planes as it goes.
    expand: Option<Expand>,
    /// Input planes each output channel sums over: 1 for a depthwise convolution, all of them (a few: a model's
    /// stem, 3 colour planes) for a dense one; `weights` is then `channels x dense x kh x kw`.
    dense: usize,
}

impl PartialEq for DepthwiseConv {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let clamp = |c: Option<(f32, f32)>| c.map(|(a, b)| (a.to_bits(), b.to_bits()));
        (self.channels, self.kernel, self.stride, self.pad, self.input, self.output)
            == (other.channels, other.kernel, other.stride, other.pad, other.input, other.output)
            && bits(&self.weights) == bits(&other.weights)
            && bits(&self.bias) == bits(&other.bias)
            && clamp(self.clamp) == clamp(other.clamp)
            && self.expand == other.expand
            && self.dense == other.dense
    }
}

impl Eq for DepthwiseConv {}

impl Op for DepthwiseConv {
    fn name(&self) -> StaticName {
        "ShopLensDepthwise".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} channels, {}x{} kernel, stride {}, pad {:?}, clamp {:?}, expanded from {:?} channels, {} planes each",
            self.channels,
            self.kernel.0,
            self.kernel.1,
            self.stride,
            self.pad,
            self.clamp,
            self.expand.as_ref().map(|e| e.inputs),
            self.dense
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = self.output_shape(input.shape())?;
        let input = input.try_as_plain_ram()?;
        let input = input.as_slice::<f32>()?;
        // SAFETY: every element is written below: `run` fills each of its channels' output planes in full.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&shape)? };
        let done = {
            let mut view = out.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            match current_tract_executor() {
                // The pool the embedder runs tract's matrix products on: channels split among its threads.
                Executor::MultiThread(pool) if self.channels > 1 => {
                    // A dense convolution pads all its input planes in every chunk: one chunk per thread. Otherwise
                    // four per thread, so that a slow core does not hold the others up.
                    let chunks = pool.current_num_threads() * if self.dense > 1 { 1 } else { 4 };
                    let per = self.channels.div_ceil(chunks).max(1);
                    // Whole blocks of four where `run` sums four channels at once.
                    let per = if self.reads_all_inputs() { per.next_multiple_of(4) } else { per };
                    let (plane_in, plane_out) = (self.input.0 * self.input.1, self.output.0 * self.output.1);
                    pool.install(|| {
                        out.par_chunks_mut(per * plane_out).enumerate().all(|(i, out)| {
                            // Folded or dense, every chunk of channels reads all the input planes.
                            let input = match self.reads_all_inputs() {
                                true => input,
                                false => &input[i * per * plane_in..],
                            };
                            self.run(input, out, i * per)
                        })
                    })
                }
                _ => self.run(input, out, 0),
            }
        };
        if !done {
            bail!("{}: a vector sum did not fit its buffer (a sizing bug); outputs left unwritten", self.name());
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DepthwiseConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0].shape.as_concrete().context("depthwise input shape must be concrete")?;
        Ok(tvec!(f32::fact(self.output_shape(shape)?)))
    }

    fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let expand = self.expand.as_ref().map_or(0, |e| e.inputs * self.input.0 * self.input.1);
        let taps = self.dense * self.kernel.0 * self.kernel.1;
        let macs = self.channels * (taps * self.output.0 * self.output.1 + expand);
        Ok(tvec!((Cost::FMA(f32::datum_type()), macs.into())))
    }

    as_op!();
}

impl DepthwiseConv {
    /// Whether every output channel reads every input plane (not just its own).
    fn reads_all_inputs(&self) -> bool {
        self.expand.is_some() || self.dense > 1
    }

    /// The input channels the op reads.
    fn input_channels(&self) -> usize {
        match &self.expand {
            Some(e) => e.inputs,
            None if self.dense > 1 => self.dense,
            None => self.channels,
        }
    }

    fn output_shape(&self, input: &[usize]) -> TractResult<TVec<usize>> {
        let (c, h, w) = match input {
            [1, c, h, w] | [c, h, w] => (*c, *h, *w),
            _ => bail!("depthwise input {input:?} is not [1, C, H, W] or [C, H, W]"),
        };
        if (c, (h, w)) != (self.input_channels(), self.input) {
            bail!("depthwise input {input:?} changed shape");
        }
        if let Some(e) = &self.expand {
            // As the folded 1x1 convolution's output is laid out (tract's `...->NOHW` or `...->OHW`).
            let (c, (oh, ow)) = (self.channels, self.output);
            return Ok(if e.batch { tvec![1, c, oh, ow] } else { tvec![c, oh, ow] });
        }
        let mut shape: TVec<usize> = input.into();
        let n = shape.len();
        shape[n - 3] = self.channels;
        shape[n - 2] = self.output.0;
        shape[n - 1] = self.output.1;
        Ok(shape)
    }

    /// The convolution of `input` (`n x H x W`: channels `first..first + n`; with `expand`, all its `inputs x H x W`)
    /// into `out` (`n x OH x OW`). `false` if a vector sum found its buffer too small ([`Group::sum`]): a sizing bug,
    /// outputs left unwritten.
    #[must_use]
    fn run(&self, input: &[f32], out: &mut [f32], first: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has all three, checked just above.
            return unsafe { self.run_avx512(input, out, first) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has both features, checked just above.
            return unsafe { self.run_avx2(input, out, first) };
        }
        // SAFETY: NEON is part of the arm64 baseline.
        #[cfg(target_arch = "aarch64")]
        return unsafe { self.run_with::<Neon>(input, out, first) };
        // SAFETY: the scalar sum runs anywhere.
        #[allow(unreachable_code)]
        unsafe {
            self.run_with::<Scalar>(input, out, first)
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn run_avx512(&self, input: &[f32], out: &mut [f32], first: usize) -> bool {
        // SAFETY: this function is only entered on CPUs with AVX-512F, AVX2 and FMA.
        unsafe { self.run_with::<Avx512>(input, out, first) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2(&self, input: &[f32], out: &mut [f32], first: usize) -> bool {
        // SAFETY: this function is only entered on CPUs with AVX2 and FMA (`#[target_feature]` makes calling it
        // unsafe elsewhere).
        unsafe { self.run_with::<Avx2>(input, out, first) }
    }

    /// Generic over the inner sum, the only arithmetic: written with explicit vector instructions, because the
    /// release profile optimizes this crate for size, which turns the compiler's own vectorizer off. Inlined into
    /// `run_avx2`, so the AVX2 sum runs with those features enabled.
    ///
    /// # Safety
    /// The CPU must support `G` ([`Group::sum`]).
    #[inline(always)]
    unsafe fn run_with<G: Group>(&self, input: &[f32], out: &mut [f32], first: usize) -> bool {
        let (kh, kw) = self.kernel;
        let (h, w) = self.input;
        let (oh, ow) = self.output;
        let s = self.stride;
        // The padded plane: every input row and column an output reads, zeros around the input. It is stored as
        // `s x s` phases (rows and columns split by remainder mod `s`), each `rows x cols`, so that in every phase
        // an output and its right-hand neighbour read neighbouring values.
        let (ph, pw) = ((oh - 1) * s + kh, (ow - 1) * s + kw);
        let cols = pw.div_ceil(s);
        // One spare row: the flat loops below also compute (and drop) `cols - ow` columns past each output row.
        let rows = ph.div_ceil(s) + 1;
        let phase_len = rows * cols;
        // Outputs are computed `cols` to a row (the last `cols - ow` of each are dropped) and `LANES` at a time,
        // each group summed over every tap in registers.
        let flat = (oh * cols).next_multiple_of(LANES);
        let padded = s * s * phase_len;
        // `LANES` spare values: the last group of the last phase reads up to `LANES - 1` past it. A dense
        // convolution pads all its input planes once, one after the other.
        let mut phases = vec![0f32; self.dense * padded + LANES];
        let mut acc = vec![0f32; flat];
        // Padded (oy * s + ky, ox * s + kx) is phase (ky % s, kx % s) at (oy + ky / s, ox + kx / s): the offset of
        // tap (ky, kx) of input plane `i`, in the order a channel's weights are stored (plane, row, column). The
        // same for every channel; only the weights change.
        let offsets: Vec<usize> = (0..self.dense * kh * kw)
            .map(|t| {
                let (i, ky, kx) = (t / (kh * kw), t / kw % kh, t % kw);
                i * padded + ((ky % s) * s + kx % s) * phase_len + (ky / s) * cols + kx / s
            })
            .collect();
        let mut taps: Vec<(usize, f32)> = Vec::with_capacity(offsets.len());
        let mut done = true;
        if self.dense > 1 {
            for (i, phases) in phases.chunks_exact_mut(padded).take(self.dense).enumerate() {
                // SAFETY: the caller's promise.
                unsafe { self.pad_plane::<G>(&input[i * h * w..(i + 1) * h * w], phases, (ph, pw), (phase_len, cols)) };
            }
        }
        let n = out.len() / (oh * ow);
        // Where every channel reads all the input planes, four channels at a time: each value loaded once for four.
        let blocked = if self.reads_all_inputs() { n - n % 4 } else { 0 };
        let mut taps4: Vec<Tap4> = Vec::new();
        let mut four = vec![
            0f32;
            if blocked == 0 {
                0
            } else if self.expand.is_some() {
                4 * h * w
            } else {
                4 * flat
            }
        ];
        for (c, out) in out.chunks_exact_mut(4 * oh * ow).take(blocked / 4).enumerate().map(|(b, o)| (4 * b, o)) {
            let outs = out.chunks_exact_mut(oh * ow);
            match &self.expand {
                Some(e) => {
                    // SAFETY: the caller's promise.
                    done &= unsafe { e.planes4::<G>(input, first + c, &mut four, &mut taps4) };
                    for (k, (src, out)) in four.chunks_exact(h * w).zip(outs).enumerate() {
                        // SAFETY: the caller's promise.
                        unsafe { self.pad_plane::<G>(src, &mut phases, (ph, pw), (phase_len, cols)) };
                        // SAFETY: the caller's promise.
                        done &=
                            unsafe { self.channel::<G>(&phases, &offsets, first + c + k, &mut taps, &mut acc, out) };
                    }
                }
                None => {
                    let weights = &self.weights[(first + c) * offsets.len()..(first + c + 4) * offsets.len()];
                    taps4.clear();
                    taps4.extend(
                        offsets
                            .iter()
                            .enumerate()
                            .map(|(t, &o)| (o, [0, 1, 2, 3].map(|k| weights[k * offsets.len() + t]))),
                    );
                    let bias = [0, 1, 2, 3].map(|k| self.bias[first + c + k]);
                    done &= match four_planes(&mut four, flat, flat) {
                        // SAFETY: the caller's promise.
                        Some(accs) => unsafe { G::sum4(&phases, &taps4, bias, self.clamp, accs) },
                        None => false,
                    };
                    for (acc, out) in four.chunks_exact(flat).zip(outs) {
                        self.copy_rows(acc, out);
                    }
                }
            }
        }
        let mut plane = vec![0f32; if self.expand.is_some() { h * w } else { 0 }];
        for (c, out) in out.chunks_exact_mut(oh * ow).enumerate().skip(blocked) {
            let src: &[f32] = match &self.expand {
                Some(e) => {
                    // SAFETY: the caller's promise.
                    done &= unsafe { e.plane::<G>(input, h * w, first + c, &mut plane, &mut taps) };
                    &plane
                }
                None if self.dense > 1 => &[],
                None => &input[c * h * w..(c + 1) * h * w],
            };
            if self.dense == 1 {
                // Every plane lands on the same positions: the zeros around it, written once, stay.
                // SAFETY: the caller's promise.
                unsafe { self.pad_plane::<G>(src, &mut phases, (ph, pw), (phase_len, cols)) };
            }
            // SAFETY: the caller's promise.
            done &= unsafe { self.channel::<G>(&phases, &offsets, first + c, &mut taps, &mut acc, out) };
        }
        done
    }

    /// Channel `c`'s outputs into `out` (`oh x ow`): the taps at `offsets` into the padded `phases`, with the
    /// channel's weights, summed a group of outputs at a time into `acc` (`cols` to a row), then its rows copied.
    /// `taps` is scratch. Returns what [`Group::sum`] does.
    ///
    /// # Safety
    /// The CPU must support `G` ([`Group::sum`]).
    #[inline(always)]
    #[must_use]
    unsafe fn channel<G: Group>(
        &self,
        phases: &[f32],
        offsets: &[usize],
        c: usize,
        taps: &mut Vec<(usize, f32)>,
        acc: &mut [f32],
        out: &mut [f32],
    ) -> bool {
        let weights = &self.weights[c * offsets.len()..][..offsets.len()];
        taps.clear();
        taps.extend(offsets.iter().copied().zip(weights.iter().copied()));
        // SAFETY: the caller's promise.
        let done = unsafe { G::sum(phases, taps, self.bias[c], self.clamp, acc) };
        self.copy_rows(acc, out);
        done
    }

    /// The outputs of `acc` (computed `cols` to a row, the last `cols - ow` of each dropped) into `out`, whole rows
    /// at a time: a clamp here, a value at a time, took longer than the sums (opt-level "s").
    ///
    /// A row goes in blocks of [`COPY`] values, copies of a fixed size the compiler inlines, rather than one
    /// `memcpy` call per row (most rows are 7 or 14 values long, on the small maps). Its last block may run past the
    /// row into the rows after it, which are copied later and overwrite those values; the rows where that would run
    /// past `out` or `acc` are copied exactly.
    #[inline(always)]
    fn copy_rows(&self, acc: &[f32], out: &mut [f32]) {
        let ow = self.output.1;
        let cols = ((ow - 1) * self.stride + self.kernel.1).div_ceil(self.stride);
        let rows = (out.len() / ow).min(acc.len() / cols);
        let blocks = ow.div_ceil(COPY);
        let (src, dst) = (acc.as_ptr(), out.as_mut_ptr());
        for row in 0..rows {
            let (from, to) = (row * cols, row * ow);
            if from + blocks * COPY <= acc.len() && to + blocks * COPY <= out.len() {
                for k in (0..blocks).map(|b| b * COPY) {
                    // SAFETY: both ranges end at or before `blocks * COPY` past their row's start, checked just above;
                    // `acc` and `out` are distinct slices.
                    unsafe { std::ptr::copy_nonoverlapping(src.add(from + k), dst.add(to + k), COPY) };
                }
            } else {
                out[to..to + ow].copy_from_slice(&acc[from..from + ow]);
            }
        }
    }

    /// Copies one input plane into its `s x s` phases (zeros already around it), dropping what no output reads.
    ///
    /// # Safety
    /// The CPU must support `G` ([`Group::split`]).
    #[inline(always)]
    unsafe fn pad_plane<G: Group>(
        &self,
        src: &[f32],
        phases: &mut [f32],
        (ph, pw): (usize, usize),
        (phase_len, cols): (usize, usize),
    ) {
        let (h, w) = self.input;
        let (s, pad) = (self.stride, self.pad.1);
        for iy in 0..h.min(ph - self.pad.0) {
            let y = iy + self.pad.0;
            // Input columns past the last one an output reads are dropped.
            let line = &src[iy * w..iy * w + w.min(pw - pad)];
            let row = (y % s) * s * phase_len + (y / s) * cols;
            if s == 1 {
                phases[row + pad..row + pad + line.len()].copy_from_slice(line);
            } else {
                // Padded column `x = ix + pad` goes to phase `x % 2` at `x / 2`: the even input columns to phase
                // `pad % 2` from `pad / 2` on, the odd ones to the other phase from `(pad + 1) / 2` on.
                let (phase0, phase1) = phases[row..].split_at_mut(phase_len);
                let (row0, row1) = (&mut phase0[..cols], &mut phase1[..cols]);
                let (evens, odds) = match pad % 2 {
                    0 => (&mut row0[pad / 2..], &mut row1[pad / 2..]),
                    _ => (&mut row1[pad / 2..], &mut row0[pad.div_ceil(2)..]),
                };
                // SAFETY: the caller's promise.
                unsafe { G::split(line, evens, odds) };
            }
        }
    }
}

/// Values per block in [`DepthwiseConv::copy_rows`]: one AVX register, two NEON ones.
const COPY: usize = 8;

/// The most input planes a dense convolution may have to be ours: every output channel sums `planes x kh x kw`
/// taps over all of them, which pays off against tract's im2col and matrix product only when they are few.
const MAX_DENSE_INPUTS: usize = 4;

/// Replaces every depthwise convolution of `model` that [`DepthwiseConv`] runs exactly (batch 1, f32, NCHW or CHW,
/// OIHW constant weights and bias, stride 1 or 2, no dilation, explicit padding) by one, with a directly following
/// `Max(lo)` then `Min(hi)` (ONNX's `Clip`, as tract declutters it) folded in. Returns how many it replaced.
pub(crate) fn fuse(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let Some((op, source, last)) = recognize(model, id)? else { continue };
        // A replacement tract refuses (say, facts that differ after all) leaves tract's convolution in place.
        match replacement(model, id, op, source, last) {
            Ok(patch) => patch.apply(model)?,
            Err(e) => {
                log::debug!("depthwise convolution {} stays tract's: {e}", model.node(id).name);
                continue;
            }
        }
        replaced += 1;
    }
    let pointwise = pointwise::fuse(model)?;
    log::debug!("{replaced} depthwise and {pointwise} pointwise convolutions are ours");
    Ok(replaced)
}

/// The patch wiring `op`, reading `source`, in place of the nodes up to `last`.
fn replacement(
    model: &TypedModel,
    id: usize,
    op: DepthwiseConv,
    source: OutletId,
    last: usize,
) -> TractResult<TypedModelPatch> {
    let node = model.node(id);
    let mut patch = TypedModelPatch::default();
    let tap = patch.tap_model(model, source)?;
    let out = patch.wire_node(format!("{}.shoplens", node.name), op, &[tap])?[0];
    patch.shunt_outside(model, OutletId::new(last, 0), out)?;
    Ok(patch)
}

/// The op for node `id`, the outlet it reads (the conv's input, or the input of an expand convolution folded in)
/// and the last node it replaces (the conv, or the clamp's `Min`), if it fits.
fn recognize(model: &TypedModel, id: usize) -> TractResult<Option<(DepthwiseConv, OutletId, usize)>> {
    let node = model.node(id);
    let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
    let spec = &conv.pool_spec;
    let (inputs, c) = (spec.input_channels, spec.output_channels);
    // Depthwise, or dense over a few input planes (a stem over colour planes).
    let dense = match conv.group {
        g if g == inputs && c == inputs => 1,
        1 if (2..=MAX_DENSE_INPUTS).contains(&inputs) => inputs,
        _ => return Ok(None),
    };
    let fits = conv.q_params.is_none()
        && matches!(conv.kernel_fmt, KernelFormat::OIHW)
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.kernel_shape.len() == 2
        && spec.dilations.as_ref().is_none_or(|d| d.iter().all(|&d| d == 1))
        && node.inputs.len() == 3;
    if !fits {
        return Ok(None);
    }
    let strides = spec.strides.clone().unwrap_or_else(|| tvec!(1, 1));
    let stride = match strides.as_slice() {
        &[a, b] if a == b && (a == 1 || a == 2) => a,
        _ => return Ok(None),
    };
    let PaddingSpec::Explicit(before, _) = &spec.padding else { return Ok(None) };
    let input = model.outlet_fact(node.inputs[0])?;
    let output = model.outlet_fact(OutletId::new(id, 0))?;
    let (Some(ishape), Some(oshape)) = (input.shape.as_concrete(), output.shape.as_concrete()) else {
        return Ok(None);
    };
    let (h, w, oh, ow) = match (ishape, oshape) {
        ([1, _, h, w], [1, _, oh, ow]) | ([_, h, w], [_, oh, ow]) => (*h, *w, *oh, *ow),
        _ => return Ok(None),
    };
    let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
    let consts = |slot: usize| model.outlet_fact(node.inputs[slot]).ok().and_then(|f| f.konst.clone());
    let (Some(kernel), Some(bias)) = (consts(1), consts(2)) else { return Ok(None) };
    if input.datum_type != f32::datum_type()
        || kernel.datum_type() != f32::datum_type()
        || kernel.shape() != [c, if dense > 1 { dense } else { 1 }, kh, kw]
        || [c, h, w, oh, ow].contains(&0)
        || before.len() != 2
        || before[0] >= kh
        || before[1] >= kw
    {
        return Ok(None);
    }
    let Some(weights) = kernel.as_plain_ram().and_then(|k| k.as_slice::<f32>().ok().map(Arc::<[f32]>::from)) else {
        return Ok(None);
    };
    let Ok(bias) = bias.cast_to::<f32>() else { return Ok(None) };
    let bias: Arc<[f32]> = match bias.as_plain_ram().and_then(|b| b.as_slice::<f32>().ok()) {
        Some(b) if b.len() == c => b.into(),
        Some(&[b]) => vec![b; c].into(),
        _ => return Ok(None),
    };
    let mut op = DepthwiseConv {
        channels: c,
        kernel: (kh, kw),
        stride,
        pad: (before[0], before[1]),
        input: (h, w),
        output: (oh, ow),
        weights,
        bias,
        clamp: None,
        expand: None,
        dense,
    };
    let mut last = id;
    if let Some((lo, min_node)) = clamp_after(model, id)? {
        op.clamp = Some(lo);
        last = min_node;
    }
    let mut source = node.inputs[0];
    if dense > 1 {
        return Ok(Some((op, source, last)));
    }
    if let Some((e, outlet)) = expand::recognize(model, source, c, (h, w))? {
        op.expand = Some(e);
        source = outlet;
    }
    Ok(Some((op, source, last)))
}

/// `((lo, hi), id of the Min)` when the conv's only consumer is `Max(x, lo)` and that one's is `Min(x, hi)`.
fn clamp_after(model: &TypedModel, id: usize) -> TractResult<Option<((f32, f32), usize)>> {
    let only_next = |id: usize| -> Option<usize> {
        let succ = &model.node(id).outputs[0].successors;
        let out_is_model_output = model.outputs.contains(&OutletId::new(id, 0));
        (succ.len() == 1 && !out_is_model_output).then(|| succ[0].node)
    };
    let scalar = |id: usize| -> Option<f32> {
        let node = model.node(id);
        let other = node.inputs.get(1)?;
        let konst = model.outlet_fact(*other).ok()?.konst.clone()?;
        let value =
            konst.as_uniform()?.cast_to::<f32>().ok()?.try_as_plain_ram().ok()?.to_scalar::<f32>().ok().copied();
        value.filter(|v| v.is_finite())
    };
    let Some(max) = only_next(id) else { return Ok(None) };
    let max_node = model.node(max);
    if max_node.op().name() != "Max" || max_node.inputs.len() != 2 || max_node.inputs[0].node != id {
        return Ok(None);
    }
    let Some(min) = only_next(max) else { return Ok(None) };
    let min_node = model.node(min);
    if min_node.op().name() != "Min" || min_node.inputs.len() != 2 || min_node.inputs[0].node != max {
        return Ok(None);
    }
    // A constant that broadcasts (a uniform [2, 1, 1, 1], say) would change the output's shape: not a plain clamp.
    let same_fact = |node: usize| -> TractResult<bool> {
        let (a, b) = (model.outlet_fact(OutletId::new(node, 0))?, model.outlet_fact(OutletId::new(id, 0))?);
        Ok(a.shape == b.shape && a.datum_type == b.datum_type)
    };
    if !same_fact(max)? || !same_fact(min)? {
        return Ok(None);
    }
    match (scalar(max), scalar(min)) {
        (Some(lo), Some(hi)) if lo <= hi => Ok(Some(((lo, hi), min))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution straight from its definition: zero padding, then clamp.
    fn reference(op: &DepthwiseConv, input: &[f32]) -> Vec<f32> {
        let ((kh, kw), (h, w), (oh, ow), s) = (op.kernel, op.input, op.output, op.stride);
        let mut out = Vec::new();
        for c in 0..op.channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = op.bias[c];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let (y, x) = (
                                (oy * s + ky) as isize - op.pad.0 as isize,
                                (ox * s + kx) as isize - op.pad.1 as isize,
                            );
                            if (0..h as isize).contains(&y) && (0..w as isize).contains(&x) {
                                sum +=
                                    op.weights[(c * kh + ky) * kw + kx] * input[(c * h + y as usize) * w + x as usize];
                            }
                        }
                    }
                    out.push(op.clamp.map_or(sum, |(lo, hi)| sum.max(lo).min(hi)));
                }
            }
        }
        out
    }

    fn values(n: usize, seed: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
            })
            .collect()
    }

    /// Runs `op` on `input` with the vector sum and the scalar one, and split at channel `at` as two threads would
    /// run it, and checks the three against `want` (the split run exactly against the whole one).
    fn check(op: &DepthwiseConv, input: &[f32], want: &[f32], at: usize) {
        let (h, w) = op.input;
        let plane_out = op.output.0 * op.output.1;
        let mut got = vec![f32::NAN; want.len()];
        assert!(op.run(input, &mut got, 0));
        let mut scalar = vec![f32::NAN; want.len()];
        // SAFETY: the scalar sum runs anywhere.
        assert!(unsafe { op.run_with::<Scalar>(input, &mut scalar, 0) });
        // `run` takes the widest sums the CPU has: the AVX2 ones, where AVX-512 is there too, run here as well.
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            let mut avx2 = vec![f32::NAN; want.len()];
            // SAFETY: the CPU has both features, checked just above.
            assert!(unsafe { op.run_avx2(input, &mut avx2, 0) });
            for (i, (g, r)) in avx2.iter().zip(want).enumerate() {
                assert!((g - r).abs() <= 1e-4 * (1.0 + r.abs()), "{op:?} at {i}, AVX2: {g} vs {r}");
            }
        }
        let mut split = vec![f32::NAN; want.len()];
        let (a, b) = split.split_at_mut(at * plane_out);
        assert!(op.run(input, a, 0));
        // As `eval` slices it: a plain depthwise chunk reads its own planes, the others all of them.
        assert!(op.run(if op.reads_all_inputs() { input } else { &input[at * h * w..] }, b, at));
        assert_eq!(split, got);
        for (i, ((g, sc), r)) in got.iter().zip(&scalar).zip(want).enumerate() {
            let tol = 1e-4 * (1.0 + r.abs());
            assert!((g - r).abs() <= tol && (sc - r).abs() <= tol, "{op:?} at {i}: {g} / {sc} vs {r}");
        }
    }

    #[test]
    fn matches_the_definition_on_every_shape_the_op_takes() {
        let mut seed = 7;
        let mut cases = 0;
        for (kh, kw) in [(3usize, 3usize), (5, 5), (1, 1), (3, 5)] {
            for s in [1usize, 2] {
                for (h, w) in [(7usize, 7usize), (14, 9), (1, 1), (2, 40), (33, 5)] {
                    for (pt, pl) in [(0, 0), (kh / 2, kw / 2), (kh - 1, 0), (0, kw.saturating_sub(2))] {
                        // The output as tract sizes it: padding after so the last window fits, at least one output.
                        let oh = (h + 2 * pt).saturating_sub(kh) / s + 1;
                        let ow = (w + 2 * pl).saturating_sub(kw) / s + 1;
                        for clamp in [None, Some((0.0, 6.0))] {
                            let channels = 3;
                            let op = DepthwiseConv {
                                channels,
                                kernel: (kh, kw),
                                stride: s,
                                pad: (pt, pl),
                                input: (h, w),
                                output: (oh, ow),
                                weights: values(channels * kh * kw, &mut seed).into(),
                                bias: values(channels, &mut seed).into(),
                                clamp,
                                expand: None,
                                dense: 1,
                            };
                            let input = values(channels * h * w, &mut seed);
                            let want = reference(&op, &input);
                            // Channel 0, then channels 1 and 2.
                            check(&op, &input, &want, 1);
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 320);
    }

    #[test]
    fn a_dense_convolution_matches_the_definition() {
        let mut seed = 9;
        for ((h, w), s, (pt, pl)) in
            [((23usize, 30usize), 2usize, (0usize, 0usize)), ((9, 7), 1, (1, 1)), ((4, 37), 2, (1, 1))]
        {
            let (channels, planes, (kh, kw)) = (6, 3, (3, 3));
            let (oh, ow) = ((h + 2 * pt - kh) / s + 1, (w + 2 * pl - kw) / s + 1);
            let op = DepthwiseConv {
                channels,
                kernel: (kh, kw),
                stride: s,
                pad: (pt, pl),
                input: (h, w),
                output: (oh, ow),
                weights: values(channels * planes * kh * kw, &mut seed).into(),
                bias: values(channels, &mut seed).into(),
                clamp: Some((0.0, 6.0)),
                expand: None,
                dense: planes,
            };
            let input = values(planes * h * w, &mut seed);
            // Sum of one depthwise convolution per input plane (bias once), then the clamp.
            let mut want = vec![0f32; channels * oh * ow];
            for i in 0..planes {
                let plane_op = DepthwiseConv {
                    channels,
                    dense: 1,
                    clamp: None,
                    weights: (0..channels)
                        .flat_map(|c| op.weights[(c * planes + i) * kh * kw..][..kh * kw].to_vec())
                        .collect(),
                    bias: vec![0.0; channels].into(),
                    ..op.clone()
                };
                let repeated: Vec<f32> =
                    (0..channels).flat_map(|_| input[i * h * w..(i + 1) * h * w].to_vec()).collect();
                want.iter_mut().zip(reference(&plane_op, &repeated)).for_each(|(a, b)| *a += b);
            }
            for (c, chunk) in want.chunks_mut(oh * ow).enumerate() {
                chunk.iter_mut().for_each(|v| *v = (*v + op.bias[c]).clamp(0.0, 6.0));
            }
            check(&op, &input, &want, 4);
            assert_eq!(op.output_shape(&[1, planes, h, w]).unwrap().as_slice(), &[1, channels, oh, ow]);
        }
    }

    #[test]
    fn an_expand_folded_in_matches_the_definition() {
        let mut seed = 5;
        // The bundled model's kernels, strides and pads (3x3 and 5x5; stride 2 with pad 1, stride 1 with half the
        // kernel), and the expand with and without its clamp.
        let kernels = [(3usize, 2usize, 1usize), (3, 1, 1), (5, 2, 1), (5, 1, 2)];
        for ((h, w), (k, s, pad)) in
            [(57usize, 58usize), (8, 5), (3, 11)].into_iter().flat_map(|p| kernels.map(|k| (p, k)))
        {
            for clamp in [None, Some((0.0, 6.0))] {
                let (channels, inputs, (kh, kw)) = (9, 3, (k, k));
                let (oh, ow) = ((h + 2 * pad - kh) / s + 1, (w + 2 * pad - kw) / s + 1);
                let expand = Expand {
                    inputs,
                    weights: values(channels * inputs, &mut seed).into(),
                    bias: values(channels, &mut seed).into(),
                    clamp,
                    batch: false,
                };
                let op = DepthwiseConv {
                    channels,
                    kernel: (kh, kw),
                    stride: s,
                    pad: (pad, pad),
                    input: (h, w),
                    output: (oh, ow),
                    weights: values(channels * kh * kw, &mut seed).into(),
                    bias: values(channels, &mut seed).into(),
                    clamp: Some((0.0, 6.0)),
                    expand: Some(expand.clone()),
                    dense: 1,
                };
                let input = values(inputs * h * w, &mut seed);
                // The expanded planes from the definition, then the plain op's reference on them.
                let mut wide = Vec::with_capacity(channels * h * w);
                for c in 0..channels {
                    for p in 0..h * w {
                        let sum = (0..inputs)
                            .fold(expand.bias[c], |a, i| a + expand.weights[c * inputs + i] * input[i * h * w + p]);
                        wide.push(clamp.map_or(sum, |(lo, hi)| sum.max(lo).min(hi)));
                    }
                }
                let want = reference(&DepthwiseConv { expand: None, ..op.clone() }, &wide);
                // Channels 0-1 (one at a time), then 2-8 (four, then three one at a time): each reads all the input planes.
                check(&op, &input, &want, 2);
                assert_eq!(op.output_shape(&[1, inputs, h, w]).unwrap().as_slice(), &[channels, oh, ow]);
                assert_eq!(op.output_shape(&[inputs, h, w]).unwrap().as_slice(), &[channels, oh, ow]);
                let batched = DepthwiseConv { expand: Some(Expand { batch: true, ..expand.clone() }), ..op.clone() };
                assert_eq!(batched.output_shape(&[1, inputs, h, w]).unwrap().as_slice(), &[1, channels, oh, ow]);
                assert!(op.output_shape(&[1, channels, h, w]).is_err(), "it reads the narrow input");
            }
        }
    }

    /// Through tract's entry point, on a pool of three threads: 67 channels split into chunks of 6, the last one
    /// short; every output written (the output tensor starts uninitialized).
    #[test]
    fn eval_splits_channels_unevenly_over_the_pool() {
        use tract_linalg::multithread::multithread_tract_scope;
        let mut seed = 3;
        let (c, h, w) = (67, 9, 12);
        let op = DepthwiseConv {
            channels: c,
            kernel: (3, 3),
            stride: 2,
            pad: (0, 1),
            input: (h, w),
            output: (5, 6),
            weights: values(c * 9, &mut seed).into(),
            bias: values(c, &mut seed).into(),
            clamp: Some((0.0, 6.0)),
            expand: None,
            dense: 1,
        };
        let input = values(c * h * w, &mut seed);
        let want = reference(&op, &input);
        let tensor = Tensor::from_shape(&[1, c, h, w], &input).unwrap();
        let out = multithread_tract_scope(Executor::multithread(3), || {
            op.eval_out_of_plan(tvec!(tensor.into_tvalue())).unwrap().unwrap()
        });
        assert_eq!(out[0].shape(), &[1, c, 5, 6]);
        let got = out[0].to_plain_array_view::<f32>().unwrap();
        for (g, r) in got.iter().zip(&want) {
            assert!((g - r).abs() <= 1e-4 * (1.0 + r.abs()), "{g} vs {r}");
        }
    }

    /// Small graphs (tests/data/depthwise/gen.py), each run by tract alone and with the op swapped in where it fits:
    /// the same outputs, and the op only where it computes exactly what tract does.
    #[test]
    fn small_graphs_give_tracts_outputs_and_the_rest_stays_tracts() {
        let cases = [
            ("asym_s2_odd", 1),
            ("asym_s1_after_big", 1),
            ("k5_s2_pads", 1),
            ("k3x5_s2", 1),
            ("nobias", 1),
            ("max_first", 1), // the conv only: `Max(lo, x)` stays tract's
            ("max_bcast", 1), // the conv only: the clamp's constant broadcasts to a batch of 2
            ("conv_out_too", 1),
            ("many_channels", 1),
            ("same_upper", 0),
            ("same_lower", 0),
            ("mult2", 0),
            ("batch2", 0),
            ("tiny", 1),
        ];
        // With the 1x1 convolution in front: how many of them are folded in.
        let expand_cases = [("expand_clip", 1), ("expand_noclip", 1), ("expand_small_plane", 0), ("expand_out_too", 0)];
        // Dense over 2 and 3 input planes: ours; over 5: tract's.
        let dense_cases = [("dense_stem", 1), ("dense_s1", 1), ("dense_5in", 0)];
        let cases = cases
            .map(|(name, n)| (name, n, 0))
            .into_iter()
            .chain(expand_cases.map(|(name, n)| (name, 1, n)))
            .chain(dense_cases.map(|(name, n)| (name, n, 0)));
        for (name, expected, expanded) in cases {
            let load = || small_graph(name);
            let mut fused = load();
            assert_eq!(fuse(&mut fused).unwrap(), expected, "{name}");
            let folded =
                fused.nodes().iter().filter_map(|n| n.op_as::<DepthwiseConv>()).filter(|op| op.expand.is_some());
            assert_eq!(folded.count(), expanded, "{name}");
            // The 1x1 convolution whose output is also a model output stays unfolded, and becomes a pointwise op.
            let pointwise = fused.nodes().iter().filter(|n| n.op_as::<pointwise::Pointwise>().is_some()).count();
            assert_eq!(pointwise, usize::from(name == "expand_out_too"), "{name}");
            // tract's own plan for these trips a debug-build pointer check in its im2col (1x1 planes are covered
            // by the definition test above).
            if ["batch2", "tiny"].contains(&name) {
                continue;
            }
            assert_runs_like_tract(name, load(), fused);
        }
    }

    /// `tests/data/depthwise/{name}.onnx`, typed and decluttered as the embedder loads a model.
    fn small_graph(name: &str) -> TypedModel {
        let path = format!("{}/tests/data/depthwise/{name}.onnx", env!("CARGO_MANIFEST_DIR"));
        tract_onnx::onnx().model_for_path(path).unwrap().into_typed().unwrap().into_decluttered().unwrap()
    }

    /// Runs both models on one seeded input: the same outputs, within rounding.
    fn assert_runs_like_tract(name: &str, original: TypedModel, fused: TypedModel) {
        let shape: Vec<usize> = fused.input_fact(0).unwrap().shape.as_concrete().unwrap().to_vec();
        let mut seed = 11;
        let input = Tensor::from_shape(&shape, &values(shape.iter().product(), &mut seed)).unwrap();
        let run = |model: TypedModel| {
            let plan = model.into_optimized().unwrap().into_runnable().unwrap();
            plan.run(tvec!(input.clone().into_tvalue())).unwrap()
        };
        let (want, got) = (run(original), run(fused));
        assert_eq!(want.len(), got.len());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w.shape(), g.shape(), "{name}");
            let (w, g) = (w.to_plain_array_view::<f32>().unwrap(), g.to_plain_array_view::<f32>().unwrap());
            for (a, b) in w.iter().zip(g.iter()) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{name}: {a} vs {b}");
            }
        }
    }

    /// 1x1 convolutions alone (tests/data/depthwise/gen_pointwise.py): the ones the pointwise op takes give tract's
    /// outputs, and the rest stay tract's.
    #[test]
    fn small_graphs_through_the_pointwise_op_give_tracts_outputs() {
        let cases = [
            ("pw_plain", 1),
            ("pw_noclip", 1),
            ("pw_stride2", 1), // tract downsamples first; the op reads that
            ("pw_conv_read_twice", 1),
            ("pw_then_perpixel_add", 1),
            ("pw_pad", 0),
            ("pw_group2", 0),
            ("pw_wgraph", 0),
            ("pw_batch2", 0),
            ("pw_nobias", 0),
            ("pw_small", 0), // 20x20: under the smallest map
            ("pw_nhwc", 0),
            ("pw_matmul", 0),
        ];
        for (name, expected) in cases {
            let load = || small_graph(name);
            let mut fused = load();
            assert_eq!(fuse(&mut fused).unwrap(), 0, "{name}: no depthwise convolution");
            let pointwise = fused.nodes().iter().filter(|n| n.op_as::<pointwise::Pointwise>().is_some()).count();
            assert_eq!(pointwise, expected, "{name}");
            if name != "pw_wgraph" {
                assert_runs_like_tract(name, load(), fused);
            }
        }
    }

    #[test]
    fn replaces_every_depthwise_conv_of_the_bundled_model_with_its_relu6() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/shoplens-effnet-lite0-int8.onnx");
        let mut model = tract_onnx::onnx().model_for_path(path).unwrap();
        model.set_input_fact(0, f32::fact([1, 3, 224, 288]).into()).unwrap();
        let mut model = model.into_typed().unwrap().into_decluttered().unwrap();
        // On arm64 tract declutters the graph channels-last (HWC) after the first block, which the ops do not take:
        // only the stem, the first depthwise convolution and its projection (NCHW) are ours there.
        let expected = if cfg!(target_arch = "aarch64") { 2 } else { 17 };
        assert_eq!(fuse(&mut model).unwrap(), expected);
        let model = model.into_optimized().unwrap();
        let ours: Vec<&DepthwiseConv> = model.nodes().iter().filter_map(|n| n.op_as::<DepthwiseConv>()).collect();
        assert_eq!(ours.len(), expected);
        assert!(ours.iter().all(|op| op.clamp == Some((0.0, 6.0))), "every ReLU6 folded in");
        // The expand convolutions on the maps of 28x36 and larger (one 112x144, two 56x72, two 28x36), each with its
        // ReLU6.
        let expanded: Vec<_> = ours.iter().filter_map(|op| op.expand.as_ref()).collect();
        assert_eq!(expanded.len(), if expected == 17 { 5 } else { 0 });
        assert!(expanded.iter().all(|e| e.clamp == Some((0.0, 6.0))));
        // The stem: 3 colour planes into 32 channels.
        assert_eq!(ours.iter().filter(|op| op.dense == 3).count(), 1);
        // The projections on those maps that no depthwise op took in: 32 -> 16 (112x144), 96 -> 24 and 144 -> 24
        // (56x72), 144 -> 40 and 240 -> 40 (28x36). On arm64 only the first: tract keeps the first block NCHW.
        let pointwise = model.nodes().iter().filter(|n| n.op_as::<pointwise::Pointwise>().is_some()).count();
        assert_eq!(pointwise, if expected == 17 { 5 } else { 1 });
        if expected == 17 {
            assert!(!model.nodes().iter().any(|n| n.op().name() == "DepthWiseConv"), "no tract depthwise left");
        }
    }
}
