//! A 1x1 convolution on a large map that no depthwise op takes in (a block's projection), with its bias and
//! clamp, as an op of ours: the folded expand's four-channel sums ([`Group::sum4`]) written straight into the
//! output. tract runs it as a matrix product whose input it first packs (copies into its tile layout): on the
//! bundled model's 112x112 and 56x56 maps the packing alone took as long as the product.

use rayon::prelude::*;
use tract_linalg::multithread::{current_tract_executor, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

#[cfg(target_arch = "aarch64")]
use super::sum::Neon;
#[cfg(target_arch = "x86_64")]
use super::sum::{Avx2, Avx512};
use super::sum::{Group, Scalar, Tap4, LANES4};
use super::{clamp_after, expand, Expand};

/// One 1x1 convolution of a batch-1 `[1, I, H, W]` or `[I, H, W]` f32 tensor into `channels` channels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pointwise {
    channels: usize,
    plane: (usize, usize),
    conv: Expand,
}

impl Eq for Pointwise {}

impl Op for Pointwise {
    fn name(&self) -> StaticName {
        "ShopLensPointwise".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let (h, w) = self.plane;
        Ok(vec![format!(
            "{} -> {} channels, {h}x{w} map, clamp {:?}",
            self.conv.inputs, self.channels, self.conv.clamp
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for Pointwise {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = self.output_shape(input.shape())?;
        let input = input.try_as_plain_ram()?;
        let input = input.as_slice::<f32>()?;
        // SAFETY: every element is written below: the runs fill every channel's plane over their pixels, and their
        // pixel ranges cover the plane.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&shape)? };
        let done = {
            let mut view = out.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            let len = self.plane.0 * self.plane.1;
            let threads = match current_tract_executor() {
                Executor::MultiThread(pool) => Some(pool),
                _ => None,
            };
            // Each thread takes a range of pixels, all channels: every channel reads every input plane, so a split
            // by channels would read the whole input once per thread (and its tiles would serve fewer blocks).
            let parts = threads.as_ref().map_or(1, |pool| pool.current_num_threads()).clamp(1, len / LANES4 + 1);
            // Whole groups to every range but the last, which ends the plane.
            let bounds: Vec<usize> =
                (0..=parts).map(|t| if t == parts { len } else { len / LANES4 * t / parts * LANES4 }).collect();
            let mut runs: Vec<Vec<&mut [f32]>> = (0..parts).map(|_| Vec::with_capacity(self.channels)).collect();
            for plane in out.chunks_exact_mut(len) {
                let mut rest = plane;
                for (run, range) in runs.iter_mut().zip(bounds.windows(2)) {
                    let (part, tail) = rest.split_at_mut(range[1] - range[0]);
                    run.push(part);
                    rest = tail;
                }
            }
            match threads {
                Some(pool) if parts > 1 => pool.install(|| {
                    runs.into_par_iter().zip(bounds.par_windows(2)).all(|(mut run, r)| self.run(input, &mut run, r[0]))
                }),
                _ => runs.iter_mut().zip(bounds.windows(2)).all(|(run, r)| self.run(input, run, r[0])),
            }
        };
        if !done {
            bail!("{}: a vector sum did not fit its buffer (a sizing bug); outputs left unwritten", self.name());
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Pointwise {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0].shape.as_concrete().context("pointwise input shape must be concrete")?;
        Ok(tvec!(f32::fact(self.output_shape(shape)?)))
    }

    fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let macs = self.channels * self.conv.inputs * self.plane.0 * self.plane.1;
        Ok(tvec!((Cost::FMA(f32::datum_type()), macs.into())))
    }

    as_op!();
}

impl Pointwise {
    fn output_shape(&self, input: &[usize]) -> TractResult<TVec<usize>> {
        let (i, h, w) = match input {
            [1, i, h, w] | [i, h, w] => (*i, *h, *w),
            _ => bail!("pointwise input {input:?} is not [1, I, H, W] or [I, H, W]"),
        };
        if (i, (h, w)) != (self.conv.inputs, self.plane) {
            bail!("pointwise input {input:?} changed shape");
        }
        Ok(if self.conv.batch { tvec![1, self.channels, h, w] } else { tvec![self.channels, h, w] })
    }

    /// Every channel's outputs over pixels `start..start + n` into `planes` (one slice of `n` per channel), from
    /// all of `input` (`inputs x H x W`). `false` if a vector sum found its buffer too small ([`Group::sum4`]): a
    /// sizing bug, outputs left unwritten.
    #[must_use]
    fn run(&self, input: &[f32], planes: &mut [&mut [f32]], start: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has all three, checked just above.
            return unsafe { self.run_avx512(input, planes, start) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has both features, checked just above.
            return unsafe { self.run_avx2(input, planes, start) };
        }
        // SAFETY: NEON is part of the arm64 baseline.
        #[cfg(target_arch = "aarch64")]
        return unsafe { self.run_with::<Neon>(input, planes, start) };
        // SAFETY: the scalar sum runs anywhere.
        #[allow(unreachable_code)]
        unsafe {
            self.run_with::<Scalar>(input, planes, start)
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn run_avx512(&self, input: &[f32], planes: &mut [&mut [f32]], start: usize) -> bool {
        // SAFETY: this function is only entered on CPUs with AVX-512F, AVX2 and FMA.
        unsafe { self.run_with::<Avx512>(input, planes, start) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2(&self, input: &[f32], planes: &mut [&mut [f32]], start: usize) -> bool {
        // SAFETY: this function is only entered on CPUs with AVX2 and FMA.
        unsafe { self.run_with::<Avx2>(input, planes, start) }
    }

    /// # Safety
    /// The CPU must support `G` ([`Group::sum4`]).
    #[inline(always)]
    unsafe fn run_with<G: Group>(&self, input: &[f32], planes: &mut [&mut [f32]], start: usize) -> bool {
        let len = self.plane.0 * self.plane.1;
        let n = planes.first().map_or(0, |p| p.len());
        if planes.len() != self.channels || planes.iter().any(|p| p.len() != n) || start + n > len {
            return false;
        }
        let blocks = self.channels / 4;
        // Every block of four channels reads all the input planes. Whole, they outgrow the nearest caches (144
        // planes of 56x56 in the bundled model: 1.8 MB, one stream per plane), so the map goes a tile of pixels at a
        // time, every block over the same tile, which then comes from the nearest cache after the first block.
        let tile = (TILE_BYTES / (4 * self.conv.inputs)).max(1).next_multiple_of(LANES4);
        let full = n - n % LANES4;
        let taps: Vec<(Vec<Tap4>, [f32; 4])> = (0..blocks)
            .map(|b| {
                let mut taps = Vec::new();
                let bias = self.conv.taps4(4 * b, len, &mut taps);
                (taps, bias)
            })
            .collect();
        let input = &input[start..];
        let mut done = true;
        for from in (0..full).step_by(tile) {
            let to = (from + tile).min(full);
            for ((taps, bias), four) in taps.iter().zip(planes.chunks_exact_mut(4)) {
                let [p0, p1, p2, p3] = four else { return false };
                let out = [&mut p0[from..to], &mut p1[from..to], &mut p2[from..to], &mut p3[from..to]];
                // SAFETY: the caller's promise; `input` holds `inputs` planes of `len` from pixel `start` on
                // (`output_shape` checked it), so from `from` on every tap at `i * len` reads inside its plane up to
                // `start + to <= len`.
                done &= unsafe { G::sum4(&input[from..], taps, *bias, self.conv.clamp, out) };
            }
        }
        let mut one = Vec::new();
        for (c, plane) in planes.iter_mut().enumerate() {
            if c >= 4 * blocks {
                // A channel past the last whole block, on its own.
                // SAFETY: as above.
                done &= unsafe { self.conv.plane::<G>(input, len, c, plane, &mut one) };
                continue;
            }
            // The pixels past the last whole group.
            for (p, out) in plane.iter_mut().enumerate().skip(full) {
                *out = self.conv.value(input, len, c, p);
            }
        }
        done
    }
}

/// The input bytes one tile of pixels may take: well inside any core's second-level cache (256 KB and up on phones),
/// so that the blocks of four channels after the first read the tile from near. Measured on x86-64 (`shoplens
/// bench --ops --nodes`, one thread) for the bundled model's 144 -> 24 projection on its 56x56 map: untiled 0.82 ms;
/// tiles of 16, 32, 64 and 128 KB 0.63, 0.57, 0.41 and 0.44 ms; the other four projections within noise.
const TILE_BYTES: usize = 64 * 1024;

/// Replaces every 1x1 convolution (tract's `EinSum` and bias `Add`, with a clamp after it folded in) on a map of
/// 28x28 or more that is left after the depthwise ops took theirs in. Returns how many it replaced.
pub(super) fn fuse(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let name = model.node(id).op().name();
        // A bias `Add` with a clamp after it is taken at the clamp's `Min`, clamp included.
        if !(name == "Min" || name == "Add" && clamp_after(model, id)?.is_none()) {
            continue;
        }
        let Some((conv, input, channels)) = expand::large(model, OutletId::new(id, 0))? else { continue };
        let plane = match model.outlet_fact(input)?.shape.as_concrete() {
            Some(&[_, h, w] | &[1, _, h, w]) => (h, w),
            _ => continue,
        };
        let op = Pointwise { channels, plane, conv };
        let mut patch = TypedModelPatch::default();
        let tap = patch.tap_model(model, input)?;
        let out = patch.wire_node(format!("{}.shoplens", model.node(id).name), op, &[tap])?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), out)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tract_linalg::multithread::multithread_tract_scope;

    use super::*;

    fn values(n: usize, seed: &mut u64) -> Arc<[f32]> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
            })
            .collect()
    }

    /// Channel counts around the blocks of four, maps smaller and larger than a group and than a tile, with and
    /// without a clamp and a batch axis, on one thread and split over a pool of three (ranges of pixels):
    /// every output against the definition.
    #[test]
    fn matches_the_definition_in_every_chunking() {
        let mut seed = 11;
        for (inputs, channels, (h, w)) in
            // 300 inputs: tiles of 64 pixels, two whole ones, a short one and a tail past the last group.
            [
                (3, 9, (5, 7)),
                (16, 4, (2, 3)),
                (5, 13, (17, 9)),
                (1, 1, (1, 1)),
                (7, 6, (4, 40)),
                (300, 6, (17, 9)),
            ]
        {
            for (clamp, batch) in [(None, true), (Some((0.0, 6.0)), false)] {
                let conv = Expand {
                    inputs,
                    weights: values(channels * inputs, &mut seed),
                    bias: values(channels, &mut seed),
                    clamp,
                    batch,
                };
                let op = Pointwise { channels, plane: (h, w), conv: conv.clone() };
                let input = values(inputs * h * w, &mut seed);
                let len = h * w;
                let want: Vec<f32> = (0..channels * len)
                    .map(|o| {
                        let (c, p) = (o / len, o % len);
                        let sum = (0..inputs)
                            .fold(conv.bias[c], |s, i| s + conv.weights[c * inputs + i] * input[i * len + p]);
                        clamp.map_or(sum, |(lo, hi)| sum.max(lo).min(hi))
                    })
                    .collect();
                let shape: &[usize] = if batch { &[1, inputs, h, w] } else { &[inputs, h, w] };
                let tensor = Tensor::from_shape(shape, &input).unwrap();
                for executor in [Executor::SingleThread, Executor::multithread(3)] {
                    let out = multithread_tract_scope(executor, || {
                        op.eval_out_of_plan(tvec!(tensor.clone().into_tvalue())).unwrap().unwrap()
                    });
                    let expected: &[usize] = if batch { &[1, channels, h, w] } else { &[channels, h, w] };
                    assert_eq!(out[0].shape(), expected);
                    let got = out[0].to_plain_array_view::<f32>().unwrap();
                    for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                        assert!((g - r).abs() <= 1e-4 * (1.0 + r.abs()), "{op:?} at {i}: {g} vs {r}");
                    }
                }
                // `eval` takes the widest sums the CPU has: the AVX2 ones, where AVX-512 is there too, run here.
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    let mut got = vec![f32::NAN; channels * len];
                    let mut planes: Vec<&mut [f32]> = got.chunks_exact_mut(len).collect();
                    // SAFETY: the CPU has both features, checked just above.
                    assert!(unsafe { op.run_avx2(&input, &mut planes, 0) });
                    for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                        assert!((g - r).abs() <= 1e-4 * (1.0 + r.abs()), "{op:?} at {i}, AVX2: {g} vs {r}");
                    }
                }
                assert!(op.output_shape(&[1, inputs + 1, h, w]).is_err(), "a changed input is refused");
            }
        }
    }
}
