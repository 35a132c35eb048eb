//! The arithmetic of the depthwise op: a weighted sum of shifted runs of values, written with explicit vector
//! instructions, because the release profile optimizes this crate for size, which turns the compiler's own
//! vectorizer off.

/// Outputs summed together: four AVX registers (eight NEON ones), independent sums that hide the latency of each
/// multiply-add behind the others'.
pub(super) const LANES: usize = 32;

/// One group of outputs: `out[l] = bias + sum over taps (offset, w) of w * phases[offset + base + l]`, clamped
/// (max, then min) when `clamp` is given; without one a NaN stays NaN. A 1x1 convolution is the same sum with one tap
/// per input plane ([`super::Expand`]).
pub(super) trait Group {
    /// # Safety
    /// The CPU must have the instructions the implementation uses (AVX2 and FMA for [`Avx2`]).
    unsafe fn sum(
        phases: &[f32],
        taps: &[(usize, f32)],
        base: usize,
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32; LANES],
    );

    /// Splits `src` into its even-indexed values (into `evens`) and its odd-indexed ones (into `odds`), as many as
    /// fit in each: a row of a stride-2 convolution's input going to its column phases.
    ///
    /// # Safety
    /// As for [`Group::sum`].
    unsafe fn split(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
        split_from(0, src, evens, odds);
    }
}

/// [`Group::split`] from pair `first` on, a value at a time.
#[inline(always)]
fn split_from(first: usize, src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
    let (src, evens, odds) = (src.get(2 * first..), evens.get_mut(first..), odds.get_mut(first..));
    let (Some(src), Some(evens), Some(odds)) = (src, evens, odds) else { return };
    for (pair, even) in src.chunks(2).zip(evens.iter_mut()) {
        *even = pair[0];
    }
    for (pair, odd) in src.chunks_exact(2).zip(odds.iter_mut()) {
        *odd = pair[1];
    }
}

/// The `LANES` values a tap reads. The plane is sized so that this is always `Some` (the furthest read ends at its
/// last value); `None` would be a sizing bug, and the tap would then be skipped rather than read out of bounds.
#[inline(always)]
fn tap_values(phases: &[f32], offset: usize, base: usize) -> Option<&[f32; LANES]> {
    let values = phases.get(offset + base..).and_then(|rest| rest.first_chunk::<LANES>());
    debug_assert!(values.is_some(), "tap at {offset} + {base} past a plane of {}", phases.len());
    values
}

/// Portable: any CPU.
pub(super) struct Scalar;

impl Group for Scalar {
    #[inline(always)]
    unsafe fn sum(
        phases: &[f32],
        taps: &[(usize, f32)],
        base: usize,
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32; LANES],
    ) {
        *out = [bias; LANES];
        for &(offset, w) in taps {
            let Some(x) = tap_values(phases, offset, base) else { continue };
            out.iter_mut().zip(x).for_each(|(o, &x)| *o += w * x);
        }
        if let Some((lo, hi)) = clamp {
            out.iter_mut().for_each(|o| *o = o.max(lo).min(hi));
        }
    }
}

/// x86-64 with AVX2 and FMA: four 8-lane sums, independent, so each multiply-add's latency hides behind the others.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Group for Avx2 {
    #[inline(always)]
    unsafe fn sum(
        phases: &[f32],
        taps: &[(usize, f32)],
        base: usize,
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32; LANES],
    ) {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees AVX2 and FMA; every load and store covers a `[f32; LANES]` (32 values) at
        // offsets 0, 8, 16 and 24.
        unsafe {
            // Named, not an array: at the size-optimizing level the compiler would keep an array in memory.
            let (mut s0, mut s1, mut s2, mut s3) =
                (_mm256_set1_ps(bias), _mm256_set1_ps(bias), _mm256_set1_ps(bias), _mm256_set1_ps(bias));
            for &(offset, w) in taps {
                let Some(x) = tap_values(phases, offset, base) else { continue };
                let (w, x) = (_mm256_set1_ps(w), x.as_ptr());
                s0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x), s0);
                s1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(8)), s1);
                s2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(16)), s2);
                s3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(24)), s3);
            }
            if let Some((lo, hi)) = clamp {
                let (lo, hi) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
                s0 = _mm256_min_ps(_mm256_max_ps(s0, lo), hi);
                s1 = _mm256_min_ps(_mm256_max_ps(s1, lo), hi);
                s2 = _mm256_min_ps(_mm256_max_ps(s2, lo), hi);
                s3 = _mm256_min_ps(_mm256_max_ps(s3, lo), hi);
            }
            let out = out.as_mut_ptr();
            _mm256_storeu_ps(out, s0);
            _mm256_storeu_ps(out.add(8), s1);
            _mm256_storeu_ps(out.add(16), s2);
            _mm256_storeu_ps(out.add(24), s3);
        }
    }

    #[inline(always)]
    unsafe fn split(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
        use std::arch::x86_64::*;
        let mut pairs = 0;
        // Evens to the low half, odds to the high one.
        // SAFETY: the caller guarantees AVX2.
        let order = unsafe { _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7) };
        for ((src, evens), odds) in src.chunks_exact(8).zip(evens.chunks_exact_mut(4)).zip(odds.chunks_exact_mut(4)) {
            // SAFETY: the caller guarantees AVX2; `src` holds 8 values, `evens` and `odds` 4 each.
            unsafe {
                let v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(src.as_ptr()), order);
                _mm_storeu_ps(evens.as_mut_ptr(), _mm256_castps256_ps128(v));
                _mm_storeu_ps(odds.as_mut_ptr(), _mm256_extractf128_ps::<1>(v));
            }
            pairs += 4;
        }
        split_from(pairs, src, evens, odds);
    }
}

/// arm64 (NEON is every core's baseline): eight 4-lane sums.
#[cfg(target_arch = "aarch64")]
pub(super) struct Neon;

#[cfg(target_arch = "aarch64")]
impl Group for Neon {
    #[inline(always)]
    unsafe fn sum(
        phases: &[f32],
        taps: &[(usize, f32)],
        base: usize,
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32; LANES],
    ) {
        use std::arch::aarch64::*;
        // SAFETY: NEON is part of the arm64 baseline; every load and store covers a `[f32; LANES]` (32 values) at
        // offsets 0, 4, ..., 28.
        unsafe {
            // Named, not an array: at the size-optimizing level the compiler would keep an array in memory.
            let b = vdupq_n_f32(bias);
            let (mut s0, mut s1, mut s2, mut s3, mut s4, mut s5, mut s6, mut s7) = (b, b, b, b, b, b, b, b);
            for &(offset, w) in taps {
                let Some(x) = tap_values(phases, offset, base) else { continue };
                let (w, x) = (vdupq_n_f32(w), x.as_ptr());
                s0 = vfmaq_f32(s0, w, vld1q_f32(x));
                s1 = vfmaq_f32(s1, w, vld1q_f32(x.add(4)));
                s2 = vfmaq_f32(s2, w, vld1q_f32(x.add(8)));
                s3 = vfmaq_f32(s3, w, vld1q_f32(x.add(12)));
                s4 = vfmaq_f32(s4, w, vld1q_f32(x.add(16)));
                s5 = vfmaq_f32(s5, w, vld1q_f32(x.add(20)));
                s6 = vfmaq_f32(s6, w, vld1q_f32(x.add(24)));
                s7 = vfmaq_f32(s7, w, vld1q_f32(x.add(28)));
            }
            let out = out.as_mut_ptr();
            for (k, s) in [s0, s1, s2, s3, s4, s5, s6, s7].into_iter().enumerate() {
                let s = match clamp {
                    // The `nm` forms return the number when one side is NaN, as `f32::max` and x86's `max` (second
                    // operand) do: a NaN clamps to `lo` everywhere.
                    Some((lo, hi)) => vminnmq_f32(vmaxnmq_f32(s, vdupq_n_f32(lo)), vdupq_n_f32(hi)),
                    None => s,
                };
                vst1q_f32(out.add(4 * k), s);
            }
        }
    }

    #[inline(always)]
    unsafe fn split(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
        use std::arch::aarch64::*;
        let mut pairs = 0;
        for ((src, evens), odds) in src.chunks_exact(8).zip(evens.chunks_exact_mut(4)).zip(odds.chunks_exact_mut(4)) {
            // SAFETY: NEON is part of the arm64 baseline; `src` holds 8 values, `evens` and `odds` 4 each.
            unsafe {
                let v = vld2q_f32(src.as_ptr());
                vst1q_f32(evens.as_mut_ptr(), v.0);
                vst1q_f32(odds.as_mut_ptr(), v.1);
            }
            pairs += 4;
        }
        split_from(pairs, src, evens, odds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every split length and room, with the vector splits against the definition.
    #[test]
    fn split_puts_even_and_odd_values_in_their_rows() {
        for len in 0usize..40 {
            let src: Vec<f32> = (0..len).map(|i| i as f32).collect();
            // The odd row has one value less room when the pad is odd (`pad_plane`).
            for (room, odd_room) in [len / 2, len.div_ceil(2), len / 2 + 3, len / 4]
                .into_iter()
                .flat_map(|r| [(r, r), (r, r.saturating_sub(1))])
            {
                let want = |parity: usize| -> Vec<f32> {
                    let mut row = vec![-1.0; if parity == 0 { room } else { odd_room }];
                    for (d, &v) in row.iter_mut().zip(src.iter().skip(parity).step_by(2)) {
                        *d = v;
                    }
                    row
                };
                let mut rows = vec![(vec![-1.0; room], vec![-1.0; odd_room])];
                let (evens, odds) = &mut rows[0];
                // SAFETY: the scalar split runs anywhere.
                unsafe { Scalar::split(&src, evens, odds) };
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    rows.push((vec![-1.0; room], vec![-1.0; odd_room]));
                    let (evens, odds) = rows.last_mut().unwrap();
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { Avx2::split(&src, evens, odds) };
                }
                #[cfg(target_arch = "aarch64")]
                {
                    rows.push((vec![-1.0; room], vec![-1.0; odd_room]));
                    let (evens, odds) = rows.last_mut().unwrap();
                    // SAFETY: NEON is part of the arm64 baseline.
                    unsafe { Neon::split(&src, evens, odds) };
                }
                for (evens, odds) in &rows {
                    assert_eq!((evens, odds), (&want(0), &want(1)), "{len} values into rows of {room} and {odd_room}");
                }
            }
        }
    }

    type SumFn = unsafe fn(&[f32], &[(usize, f32)], usize, f32, Option<(f32, f32)>, &mut [f32; LANES]);

    /// A NaN clamps to `lo` in every implementation (as `f32::max` does) and stays NaN without a clamp.
    #[test]
    fn a_nan_clamps_to_lo_and_stays_nan_unclamped() {
        let mut phases = vec![1.0f32; LANES + 1];
        phases[3] = f32::NAN;
        let taps = [(0usize, 2.0f32)];
        let mut runs: Vec<(&str, [f32; LANES], [f32; LANES])> = Vec::new();
        let mut run = |name, sum: SumFn| {
            let (mut clamped, mut plain) = ([0.0; LANES], [0.0; LANES]);
            // SAFETY: only implementations the CPU has are passed in.
            unsafe {
                sum(&phases, &taps, 0, 0.5, Some((0.0, 6.0)), &mut clamped);
                sum(&phases, &taps, 0, 0.5, None, &mut plain);
            }
            runs.push((name, clamped, plain));
        };
        run("scalar", Scalar::sum);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            run("avx2", Avx2::sum);
        }
        #[cfg(target_arch = "aarch64")]
        run("neon", Neon::sum);
        for (name, clamped, plain) in runs {
            assert_eq!(clamped[3], 0.0, "{name}");
            assert!(plain[3].is_nan(), "{name}");
            assert_eq!((clamped[0], plain[0]), (2.5, 2.5), "{name}");
        }
    }
}
