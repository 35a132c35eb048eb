//! The arithmetic of the depthwise op: a weighted sum of shifted runs of values, written with explicit vector
//! instructions, because the release profile optimizes this crate for size, which turns the compiler's own
//! vectorizer off.

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
pub(super) use avx512::Avx512;

/// Outputs summed together: four AVX registers (eight NEON ones), independent sums that hide the latency of each
/// multiply-add behind the others'.
pub(super) const LANES: usize = 32;

/// Outputs per channel summed by one [`Group::sum4`], which sums four channels at once.
pub(super) const LANES4: usize = 16;

/// A tap of four channels at once: the offset of the values it reads and each channel's weight.
pub(super) type Tap4 = (usize, [f32; 4]);

/// The sums of the depthwise op: [`Group::sum`] for one channel, [`Group::sum4`] for four, and the split of a
/// stride-2 row into its column phases.
pub(super) trait Group {
    /// One channel, every whole group of [`LANES`] outputs that `out` holds (see [`groups`]): `out[g * LANES + l] =
    /// bias + sum over taps (offset, w) of w * phases[offset + g * LANES + l]`, clamped (max, then min) when `clamp`
    /// is given; without one a NaN stays NaN. A 1x1 convolution is the same sum with one tap per input plane
    /// ([`super::Expand`]). A whole run per call, so that reads are checked once per run, not once per tap.
    ///
    /// Returns whether it computed them all: `false` (nothing written) if a tap of the last group would read past
    /// `phases`, a sizing bug in the caller, which must then fail rather than leave outputs unwritten.
    ///
    /// # Safety
    /// The CPU must have the instructions the implementation uses (AVX2 and FMA for [`Avx2`]).
    #[must_use]
    unsafe fn sum(phases: &[f32], taps: &[(usize, f32)], bias: f32, clamp: Option<(f32, f32)>, out: &mut [f32])
        -> bool;

    /// Four channels over the same values, every whole group of [`LANES4`] outputs that `out` holds (see
    /// [`groups4`]): `out[k][g * LANES4 + l] = bias[k] + sum over taps (offset, w) of w[k] * phases[offset + g *
    /// LANES4 + l]`, clamped as in [`Group::sum`]. Each value is loaded once for all four channels, which pays where
    /// every channel reads the same planes and they do not fit the nearest cache: a folded expand and a dense
    /// convolution read all their input planes for every channel they make. A whole run per call, so that reads
    /// are checked once per run, not once per tap.
    ///
    /// Returns whether it computed them all, as [`Group::sum`] does.
    ///
    /// # Safety
    /// As for [`Group::sum`].
    #[must_use]
    unsafe fn sum4(
        phases: &[f32],
        taps: &[Tap4],
        bias: [f32; 4],
        clamp: Option<(f32, f32)>,
        out: [&mut [f32]; 4],
    ) -> bool;

    /// Splits `src` into its even-indexed values (into `evens`) and its odd-indexed ones (into `odds`), as many as
    /// fit in each: a row of a stride-2 convolution's input going to its column phases.
    ///
    /// # Safety
    /// As for [`Group::sum`].
    unsafe fn split(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
        split_from(0, src, evens, odds);
    }
}

/// How many groups of `lanes` outputs a sum computes: every whole group `out_len` holds, if every tap of each reads
/// inside `phases` (the furthest tap at `furthest`). `None` otherwise: the callers size `phases` so that this never
/// happens, and a sizing bug then fails the op (checked once per run, not per tap) instead of reading out of bounds.
#[inline(always)]
fn groups(phases: &[f32], furthest: usize, out_len: usize, lanes: usize) -> Option<usize> {
    let groups = out_len / lanes;
    // Group `g` reads up to `furthest + g * lanes + lanes - 1`.
    let fit = phases.len().saturating_sub(furthest) / lanes;
    (fit >= groups).then_some(groups)
}

/// [`groups`] for [`Group::sum4`].
#[inline(always)]
fn groups4(phases: &[f32], taps: &[Tap4], out: &[&mut [f32]; 4]) -> Option<usize> {
    let out_len = out.iter().map(|o| o.len()).min().unwrap_or(0);
    groups(phases, taps.iter().map(|t| t.0).max().unwrap_or(0), out_len, LANES4)
}

/// [`groups`] for [`Group::sum`].
#[inline(always)]
fn groups1(phases: &[f32], taps: &[(usize, f32)], out: &[f32]) -> Option<usize> {
    groups(phases, taps.iter().map(|t| t.0).max().unwrap_or(0), out.len(), LANES)
}

/// The first `len` values of each of the four planes of `stride` values in `buf`: where [`Group::sum4`] writes.
/// `None` if `buf` holds fewer than four planes or `len > stride`.
pub(super) fn four_planes(buf: &mut [f32], stride: usize, len: usize) -> Option<[&mut [f32]; 4]> {
    let planes: Vec<&mut [f32]> =
        buf.chunks_exact_mut(stride.max(1)).take(4).filter_map(|p| p.get_mut(..len)).collect();
    planes.try_into().ok()
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

/// Portable: any CPU.
pub(super) struct Scalar;

impl Group for Scalar {
    #[inline(always)]
    unsafe fn sum(
        phases: &[f32],
        taps: &[(usize, f32)],
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32],
    ) -> bool {
        let Some(groups) = groups1(phases, taps, out) else { return false };
        for at in (0..groups).map(|g| g * LANES) {
            let out = &mut out[at..at + LANES];
            out.fill(bias);
            for &(offset, w) in taps {
                let x = &phases[offset + at..offset + at + LANES];
                out.iter_mut().zip(x).for_each(|(o, &x)| *o += w * x);
            }
            if let Some((lo, hi)) = clamp {
                out.iter_mut().for_each(|o| *o = o.max(lo).min(hi));
            }
        }
        true
    }

    #[inline(always)]
    unsafe fn sum4(
        phases: &[f32],
        taps: &[Tap4],
        bias: [f32; 4],
        clamp: Option<(f32, f32)>,
        mut out: [&mut [f32]; 4],
    ) -> bool {
        let Some(groups) = groups4(phases, taps, &out) else { return false };
        for g in 0..groups {
            let at = g * LANES4;
            for (k, out) in out.iter_mut().enumerate() {
                let out = &mut out[at..at + LANES4];
                out.fill(bias[k]);
                for &(offset, w) in taps {
                    let x = &phases[offset + at..offset + at + LANES4];
                    out.iter_mut().zip(x).for_each(|(o, &x)| *o += w[k] * x);
                }
                if let Some((lo, hi)) = clamp {
                    out.iter_mut().for_each(|o| *o = o.max(lo).min(hi));
                }
            }
        }
        true
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
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32],
    ) -> bool {
        use std::arch::x86_64::*;
        let Some(groups) = groups1(phases, taps, out) else { return false };
        let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        let o = out.as_mut_ptr();
        // SAFETY: the caller guarantees AVX2 and FMA. `groups1` bounds every read of group `g`, 32 values from
        // `offset + g * 32`, inside `phases`, and every write, 32 values from `g * 32`, inside `out`.
        unsafe {
            let (b, lo, hi) = (_mm256_set1_ps(bias), _mm256_set1_ps(lo), _mm256_set1_ps(hi));
            for at in (0..groups).map(|g| g * LANES) {
                // Named, not an array: at the size-optimizing level the compiler would keep an array in memory.
                let (mut s0, mut s1, mut s2, mut s3) = (b, b, b, b);
                let x = phases.as_ptr().add(at);
                for &(offset, w) in taps {
                    let (w, x) = (_mm256_set1_ps(w), x.add(offset));
                    s0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x), s0);
                    s1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(8)), s1);
                    s2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(16)), s2);
                    s3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(24)), s3);
                }
                if clamp.is_some() {
                    // `max` returns its second operand when one is NaN: a NaN clamps to `lo`.
                    s0 = _mm256_min_ps(_mm256_max_ps(s0, lo), hi);
                    s1 = _mm256_min_ps(_mm256_max_ps(s1, lo), hi);
                    s2 = _mm256_min_ps(_mm256_max_ps(s2, lo), hi);
                    s3 = _mm256_min_ps(_mm256_max_ps(s3, lo), hi);
                }
                _mm256_storeu_ps(o.add(at), s0);
                _mm256_storeu_ps(o.add(at + 8), s1);
                _mm256_storeu_ps(o.add(at + 16), s2);
                _mm256_storeu_ps(o.add(at + 24), s3);
            }
        }
        true
    }

    #[inline(always)]
    unsafe fn sum4(
        phases: &[f32],
        taps: &[Tap4],
        bias: [f32; 4],
        clamp: Option<(f32, f32)>,
        out: [&mut [f32]; 4],
    ) -> bool {
        use std::arch::x86_64::*;
        let Some(groups) = groups4(phases, taps, &out) else { return false };
        let [o0, o1, o2, o3] = out;
        let (o0, o1, o2, o3) = (o0.as_mut_ptr(), o1.as_mut_ptr(), o2.as_mut_ptr(), o3.as_mut_ptr());
        let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        // SAFETY: the caller guarantees AVX2 and FMA. `groups4` bounds every read of group `g`, 16 values from
        // `offset + g * 16`, inside `phases`, and every write, 16 values from `g * 16`, inside each `out`.
        unsafe {
            let (lo, hi) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
            let (ba, bb, bc, bd) =
                (_mm256_set1_ps(bias[0]), _mm256_set1_ps(bias[1]), _mm256_set1_ps(bias[2]), _mm256_set1_ps(bias[3]));
            for at in (0..groups).map(|g| g * LANES4) {
                // Two registers per channel, eight sums: with the two values and a weight, 11 of the 16 registers.
                let (mut a0, mut a1, mut b0, mut b1, mut c0, mut c1, mut d0, mut d1) = (ba, ba, bb, bb, bc, bc, bd, bd);
                let x = phases.as_ptr().add(at);
                for &(offset, w) in taps {
                    let (x0, x1) = (_mm256_loadu_ps(x.add(offset)), _mm256_loadu_ps(x.add(offset + 8)));
                    let w0 = _mm256_set1_ps(w[0]);
                    a0 = _mm256_fmadd_ps(w0, x0, a0);
                    a1 = _mm256_fmadd_ps(w0, x1, a1);
                    let w1 = _mm256_set1_ps(w[1]);
                    b0 = _mm256_fmadd_ps(w1, x0, b0);
                    b1 = _mm256_fmadd_ps(w1, x1, b1);
                    let w2 = _mm256_set1_ps(w[2]);
                    c0 = _mm256_fmadd_ps(w2, x0, c0);
                    c1 = _mm256_fmadd_ps(w2, x1, c1);
                    let w3 = _mm256_set1_ps(w[3]);
                    d0 = _mm256_fmadd_ps(w3, x0, d0);
                    d1 = _mm256_fmadd_ps(w3, x1, d1);
                }
                if clamp.is_some() {
                    // `max` returns its second operand when one is NaN: a NaN clamps to `lo`, as in `sum`.
                    (a0, a1) = (_mm256_min_ps(_mm256_max_ps(a0, lo), hi), _mm256_min_ps(_mm256_max_ps(a1, lo), hi));
                    (b0, b1) = (_mm256_min_ps(_mm256_max_ps(b0, lo), hi), _mm256_min_ps(_mm256_max_ps(b1, lo), hi));
                    (c0, c1) = (_mm256_min_ps(_mm256_max_ps(c0, lo), hi), _mm256_min_ps(_mm256_max_ps(c1, lo), hi));
                    (d0, d1) = (_mm256_min_ps(_mm256_max_ps(d0, lo), hi), _mm256_min_ps(_mm256_max_ps(d1, lo), hi));
                }
                _mm256_storeu_ps(o0.add(at), a0);
                _mm256_storeu_ps(o0.add(at + 8), a1);
                _mm256_storeu_ps(o1.add(at), b0);
                _mm256_storeu_ps(o1.add(at + 8), b1);
                _mm256_storeu_ps(o2.add(at), c0);
                _mm256_storeu_ps(o2.add(at + 8), c1);
                _mm256_storeu_ps(o3.add(at), d0);
                _mm256_storeu_ps(o3.add(at + 8), d1);
            }
        }
        true
    }

    #[inline(always)]
    unsafe fn split(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
        use std::arch::x86_64::*;
        // Evens to the low half, odds to the high one.
        // SAFETY: the caller guarantees AVX2.
        let order = unsafe { _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7) };
        // Counted up front rather than zipped: at opt-level "s" the zip of three chunk iterators was built by an
        // out-of-line call, once per row of every stride-2 plane.
        let blocks = (src.len() / 8).min(evens.len() / 4).min(odds.len() / 4);
        let (s, e, o) = (src.as_ptr(), evens.as_mut_ptr(), odds.as_mut_ptr());
        for b in 0..blocks {
            // SAFETY: the caller guarantees AVX2; block `b` reads `src[8b..8b + 8]` and writes `evens[4b..4b + 4]` and
            // `odds[4b..4b + 4]`, all inside their slices (`blocks` above).
            unsafe {
                let v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(s.add(8 * b)), order);
                _mm_storeu_ps(e.add(4 * b), _mm256_castps256_ps128(v));
                _mm_storeu_ps(o.add(4 * b), _mm256_extractf128_ps::<1>(v));
            }
        }
        split_from(4 * blocks, src, evens, odds);
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
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32],
    ) -> bool {
        use std::arch::aarch64::*;
        let Some(groups) = groups1(phases, taps, out) else { return false };
        let o = out.as_mut_ptr();
        // SAFETY: NEON is part of the arm64 baseline. `groups1` bounds every read of group `g`, 32 values from
        // `offset + g * 32`, inside `phases`, and every write, 32 values from `g * 32`, inside `out`.
        unsafe {
            let b = vdupq_n_f32(bias);
            for at in (0..groups).map(|g| g * LANES) {
                // Named, not an array: at the size-optimizing level the compiler would keep an array in memory.
                let (mut s0, mut s1, mut s2, mut s3, mut s4, mut s5, mut s6, mut s7) = (b, b, b, b, b, b, b, b);
                let x = phases.as_ptr().add(at);
                for &(offset, w) in taps {
                    let (w, x) = (vdupq_n_f32(w), x.add(offset));
                    s0 = vfmaq_f32(s0, w, vld1q_f32(x));
                    s1 = vfmaq_f32(s1, w, vld1q_f32(x.add(4)));
                    s2 = vfmaq_f32(s2, w, vld1q_f32(x.add(8)));
                    s3 = vfmaq_f32(s3, w, vld1q_f32(x.add(12)));
                    s4 = vfmaq_f32(s4, w, vld1q_f32(x.add(16)));
                    s5 = vfmaq_f32(s5, w, vld1q_f32(x.add(20)));
                    s6 = vfmaq_f32(s6, w, vld1q_f32(x.add(24)));
                    s7 = vfmaq_f32(s7, w, vld1q_f32(x.add(28)));
                }
                for (k, s) in [s0, s1, s2, s3, s4, s5, s6, s7].into_iter().enumerate() {
                    let s = match clamp {
                        // The `nm` forms return the number when one side is NaN, as `f32::max` and x86's `max`
                        // (second operand) do: a NaN clamps to `lo` everywhere.
                        Some((lo, hi)) => vminnmq_f32(vmaxnmq_f32(s, vdupq_n_f32(lo)), vdupq_n_f32(hi)),
                        None => s,
                    };
                    vst1q_f32(o.add(at + 4 * k), s);
                }
            }
        }
        true
    }

    #[inline(always)]
    unsafe fn sum4(
        phases: &[f32],
        taps: &[Tap4],
        bias: [f32; 4],
        clamp: Option<(f32, f32)>,
        out: [&mut [f32]; 4],
    ) -> bool {
        use std::arch::aarch64::*;
        let Some(groups) = groups4(phases, taps, &out) else { return false };
        let [o0, o1, o2, o3] = out;
        let (o0, o1, o2, o3) = (o0.as_mut_ptr(), o1.as_mut_ptr(), o2.as_mut_ptr(), o3.as_mut_ptr());
        // SAFETY: NEON is part of the arm64 baseline. `groups4` bounds every read of group `g`, 16 values from
        // `offset + g * 16`, inside `phases`, and every write, 16 values from `g * 16`, inside each `out`.
        unsafe {
            let bias = vld1q_f32(bias.as_ptr());
            for at in (0..groups).map(|g| g * LANES4) {
                // Four registers per channel, sixteen sums: with the four values and the weights, 21 of the 32.
                let (ba, bb, bc, bd) = (
                    vdupq_laneq_f32::<0>(bias),
                    vdupq_laneq_f32::<1>(bias),
                    vdupq_laneq_f32::<2>(bias),
                    vdupq_laneq_f32::<3>(bias),
                );
                let (mut a0, mut a1, mut a2, mut a3) = (ba, ba, ba, ba);
                let (mut b0, mut b1, mut b2, mut b3) = (bb, bb, bb, bb);
                let (mut c0, mut c1, mut c2, mut c3) = (bc, bc, bc, bc);
                let (mut d0, mut d1, mut d2, mut d3) = (bd, bd, bd, bd);
                let x = phases.as_ptr().add(at);
                for &(offset, w) in taps {
                    let x = x.add(offset);
                    let (x0, x1, x2, x3) =
                        (vld1q_f32(x), vld1q_f32(x.add(4)), vld1q_f32(x.add(8)), vld1q_f32(x.add(12)));
                    let w = vld1q_f32(w.as_ptr());
                    a0 = vfmaq_laneq_f32::<0>(a0, x0, w);
                    a1 = vfmaq_laneq_f32::<0>(a1, x1, w);
                    a2 = vfmaq_laneq_f32::<0>(a2, x2, w);
                    a3 = vfmaq_laneq_f32::<0>(a3, x3, w);
                    b0 = vfmaq_laneq_f32::<1>(b0, x0, w);
                    b1 = vfmaq_laneq_f32::<1>(b1, x1, w);
                    b2 = vfmaq_laneq_f32::<1>(b2, x2, w);
                    b3 = vfmaq_laneq_f32::<1>(b3, x3, w);
                    c0 = vfmaq_laneq_f32::<2>(c0, x0, w);
                    c1 = vfmaq_laneq_f32::<2>(c1, x1, w);
                    c2 = vfmaq_laneq_f32::<2>(c2, x2, w);
                    c3 = vfmaq_laneq_f32::<2>(c3, x3, w);
                    d0 = vfmaq_laneq_f32::<3>(d0, x0, w);
                    d1 = vfmaq_laneq_f32::<3>(d1, x1, w);
                    d2 = vfmaq_laneq_f32::<3>(d2, x2, w);
                    d3 = vfmaq_laneq_f32::<3>(d3, x3, w);
                }
                let sums =
                    [(o0, [a0, a1, a2, a3]), (o1, [b0, b1, b2, b3]), (o2, [c0, c1, c2, c3]), (o3, [d0, d1, d2, d3])];
                for (out, sums) in sums {
                    for (k, s) in sums.into_iter().enumerate() {
                        let s = match clamp {
                            // As in `sum`: a NaN clamps to `lo`.
                            Some((lo, hi)) => vminnmq_f32(vmaxnmq_f32(s, vdupq_n_f32(lo)), vdupq_n_f32(hi)),
                            None => s,
                        };
                        vst1q_f32(out.add(at + 4 * k), s);
                    }
                }
            }
        }
        true
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

    /// Every implementation this CPU has, by name: what the tests below run side by side.
    fn implementations() -> Vec<(&'static str, SumFn, Sum4Fn)> {
        let mut all: Vec<(&str, SumFn, Sum4Fn)> = vec![("scalar", Scalar::sum, Scalar::sum4)];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            all.push(("avx2", Avx2::sum, Avx2::sum4));
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            all.push(("avx512", Avx512::sum, Avx512::sum4));
        }
        #[cfg(target_arch = "aarch64")]
        all.push(("neon", Neon::sum, Neon::sum4));
        all
    }

    type Sum4Fn = unsafe fn(&[f32], &[Tap4], [f32; 4], Option<(f32, f32)>, [&mut [f32]; 4]) -> bool;

    /// `sum4` in every implementation against the definition: whole groups written, a part group left alone, and a
    /// NaN clamped to `lo` or kept without a clamp.
    #[test]
    fn four_channel_sums_match_the_definition() {
        let mut phases: Vec<f32> = (0..9 * LANES4 + 3 + 40).map(|i| (i * 37 % 11) as f32 - 5.0).collect();
        phases[45] = f32::NAN;
        let taps: Vec<Tap4> =
            vec![(0, [1.0, -2.0, 0.5, 0.0]), (3, [0.25, 1.0, -1.0, 2.0]), (17, [-0.5, 0.0, 3.0, 1.0]), (40, [1.0; 4])];
        let bias = [0.5, -1.0, 2.0, 0.0];
        let impls: Vec<(&str, Sum4Fn)> = implementations().into_iter().map(|(n, _, s4)| (n, s4)).collect();
        // 0 to 9 whole groups (the AVX-512 sum takes them four at a time, then one at a time) and a part group.
        for (groups, clamp) in (0..=9).flat_map(|g| [(g, None), (g, Some((0.0, 6.0)))]) {
            let len = groups * LANES4 + 3;
            for (name, sum4) in &impls {
                let mut buf = vec![-7.0f32; 4 * len];
                let Some(out) = four_planes(&mut buf, len, len) else { panic!("four planes") };
                // SAFETY: only implementations the CPU has are listed.
                assert!(unsafe { sum4(&phases, &taps, bias, clamp, out) }, "{name}: every group fits");
                for (k, plane) in buf.chunks_exact(len).enumerate() {
                    for (p, &got) in plane.iter().enumerate() {
                        let sum = taps.iter().fold(bias[k], |s, &(o, w)| s + w[k] * phases[o + p]);
                        let want = match (p < groups * LANES4, clamp) {
                            (false, _) => -7.0,
                            (true, Some((lo, hi))) => sum.max(lo).min(hi),
                            (true, None) => sum,
                        };
                        let same = got == want || (got.is_nan() && want.is_nan()) || (got - want).abs() < 1e-5;
                        assert!(same, "{name} {clamp:?} {groups} groups, channel {k} output {p}: {got} vs {want}");
                    }
                }
            }
        }
    }

    /// `sum` in every implementation against the definition, for runs of 0 to 5 whole groups (the AVX-512 one
    /// takes them two at a time) and a part group left alone.
    #[test]
    fn one_channel_sums_match_the_definition() {
        let taps = [(0usize, 1.5f32), (1, -2.0), (7, 0.25), (33, 1.0), (70, -0.5)];
        let phases: Vec<f32> = (0..6 * LANES + 80).map(|i| (i * 29 % 13) as f32 - 6.0).collect();
        let impls: Vec<(&str, SumFn)> = implementations().into_iter().map(|(n, s, _)| (n, s)).collect();
        for (name, sum) in impls {
            for len in (0..=5).map(|g| g * LANES + 5) {
                for clamp in [None, Some((-3.0, 4.0))] {
                    let mut out = vec![-7.0f32; len];
                    // SAFETY: only implementations the CPU has are listed.
                    assert!(unsafe { sum(&phases, &taps, 0.5, clamp, &mut out) }, "{name}: every group fits");
                    for (p, &got) in out.iter().enumerate() {
                        let sum = taps.iter().fold(0.5, |s, &(o, w)| s + w * phases[o + p]);
                        let want = match (p < len - 5, clamp) {
                            (false, _) => -7.0,
                            (true, Some((lo, hi))) => sum.max(lo).min(hi),
                            (true, None) => sum,
                        };
                        assert!((got - want).abs() < 1e-5, "{name} {clamp:?} {len}: output {p}: {got} vs {want}");
                    }
                }
            }
        }
    }

    type SumFn = unsafe fn(&[f32], &[(usize, f32)], f32, Option<(f32, f32)>, &mut [f32]) -> bool;

    /// A run whose last group would read past its buffer (a caller's sizing bug) is refused whole, in every
    /// implementation: nothing read out of bounds, nothing written, `false` for the op to fail on.
    #[test]
    fn a_run_past_its_buffer_is_refused() {
        let phases = vec![1.0f32; 2 * LANES + 4];
        for (name, sum, sum4) in implementations() {
            // Two groups from a tap at 5 need 5 + 64 values; there are 68.
            let mut out = vec![-7.0f32; 2 * LANES];
            // SAFETY: only implementations the CPU has are listed.
            assert!(!unsafe { sum(&phases, &[(0, 1.0), (5, 1.0)], 0.0, None, &mut out) }, "{name}");
            assert!(out.iter().all(|&v| v == -7.0), "{name}: nothing written");
            // SAFETY: as above; one group fits.
            assert!(unsafe { sum(&phases, &[(5, 1.0)], 0.0, None, &mut out[..LANES]) }, "{name}");
            let mut buf = vec![-7.0f32; 4 * 5 * LANES4];
            let Some(out) = four_planes(&mut buf, 5 * LANES4, 5 * LANES4) else { panic!("four planes") };
            // SAFETY: as above; five groups of 16 from a tap at 60 need 140 values.
            assert!(!unsafe { sum4(&phases, &[(60, [1.0; 4])], [0.0; 4], None, out) }, "{name}");
            assert!(buf.iter().all(|&v| v == -7.0), "{name}: nothing written");
        }
    }

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
                assert!(sum(&phases, &taps, 0.5, Some((0.0, 6.0)), &mut clamped));
                assert!(sum(&phases, &taps, 0.5, None, &mut plain));
            }
            runs.push((name, clamped, plain));
        };
        for (name, sum, _) in implementations() {
            run(name, sum);
        }
        for (name, clamped, plain) in runs {
            assert_eq!(clamped[3], 0.0, "{name}");
            assert!(plain[3].is_nan(), "{name}");
            assert_eq!((clamped[0], plain[0]), (2.5, 2.5), "{name}");
        }
    }
}
