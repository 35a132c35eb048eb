//! x86-64 with AVX-512: the sums in 16-lane registers.
//!
//! Twice the lanes per instruction, and twice the registers to keep more outputs in flight, on cores with 512-bit
//! units (x86-64 servers and desktops: where a shop embeds its catalog, and where tract's own matrix products already
//! run AVX-512). Measured interleaved against the AVX2 sums (`shoplens bench --ops`, one thread, docs/benchmarks.md):
//! the four-channel sums took the projections from 1.37-1.55 to 1.02-1.13 ms; the one-channel ones, two groups at a
//! time, the depthwise ops from 5.72-5.93 to 5.24-5.56 ms, although their taps start anywhere and most 64-byte loads
//! cross a cache line.

use std::arch::x86_64::*;

use super::{groups1, groups4, Avx2, Group, Tap4, LANES, LANES4};

/// x86-64 with AVX-512F (and AVX2 and FMA, which every such CPU has and which the caller checks too).
pub(in super::super) struct Avx512;

/// Clamps (max, then min) when `clamp` is set: `max` returns its second operand when one is NaN, so a NaN clamps to
/// `lo`, as in the other implementations.
///
/// # Safety
/// The CPU must have AVX-512F.
#[inline(always)]
unsafe fn clamped(v: __m512, clamp: bool, lo: __m512, hi: __m512) -> __m512 {
    // SAFETY: the caller's promise.
    unsafe {
        match clamp {
            true => _mm512_min_ps(_mm512_max_ps(v, lo), hi),
            false => v,
        }
    }
}

/// Four registers of sums, clamped, to the 64 values from `o`.
///
/// # Safety
/// The CPU must have AVX-512F; `o` must be valid for 64 writes.
#[inline(always)]
unsafe fn store4(o: *mut f32, [s0, s1, s2, s3]: [__m512; 4], clamp: bool, lo: __m512, hi: __m512) {
    // SAFETY: the caller's promise.
    unsafe {
        _mm512_storeu_ps(o, clamped(s0, clamp, lo, hi));
        _mm512_storeu_ps(o.add(16), clamped(s1, clamp, lo, hi));
        _mm512_storeu_ps(o.add(32), clamped(s2, clamp, lo, hi));
        _mm512_storeu_ps(o.add(48), clamped(s3, clamp, lo, hi));
    }
}

impl Group for Avx512 {
    #[inline(always)]
    unsafe fn sum(
        phases: &[f32],
        taps: &[(usize, f32)],
        bias: f32,
        clamp: Option<(f32, f32)>,
        out: &mut [f32],
    ) -> bool {
        let Some(groups) = groups1(phases, taps, out) else { return false };
        let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        let clamp = clamp.is_some();
        let (x, o) = (phases.as_ptr(), out.as_mut_ptr());
        // SAFETY: the caller guarantees AVX-512F. `groups1` bounds every read of group `g`, 32 values from
        // `offset + g * 32`, inside `phases`, and every write, 32 values from `g * 32`, inside `out`; a pair below
        // covers groups `g` and `g + 1` with `g + 2 <= groups`.
        unsafe {
            let (b, lo, hi) = (_mm512_set1_ps(bias), _mm512_set1_ps(lo), _mm512_set1_ps(hi));
            let mut g = 0;
            while g + 2 <= groups {
                let at = g * LANES;
                let (mut s0, mut s1, mut s2, mut s3) = (b, b, b, b);
                for &(offset, w) in taps {
                    let (w, p) = (_mm512_set1_ps(w), x.add(offset + at));
                    s0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p), s0);
                    s1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p.add(16)), s1);
                    s2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p.add(32)), s2);
                    s3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p.add(48)), s3);
                }
                store4(o.add(at), [s0, s1, s2, s3], clamp, lo, hi);
                g += 2;
            }
            if g < groups {
                let at = g * LANES;
                let (mut s0, mut s1) = (b, b);
                for &(offset, w) in taps {
                    let (w, p) = (_mm512_set1_ps(w), x.add(offset + at));
                    s0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p), s0);
                    s1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p.add(16)), s1);
                }
                _mm512_storeu_ps(o.add(at), clamped(s0, clamp, lo, hi));
                _mm512_storeu_ps(o.add(at + 16), clamped(s1, clamp, lo, hi));
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
        let Some(groups) = groups4(phases, taps, &out) else { return false };
        let [o0, o1, o2, o3] = out;
        let (o0, o1, o2, o3) = (o0.as_mut_ptr(), o1.as_mut_ptr(), o2.as_mut_ptr(), o3.as_mut_ptr());
        let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        let clamp = clamp.is_some();
        let x = phases.as_ptr();
        // SAFETY: the caller guarantees AVX-512F. `groups4` bounds every read of group `g`, 16 values from
        // `offset + g * 16`, inside `phases`, and every write, 16 values from `g * 16`, inside each `out`; a block
        // below covers groups `g..g + 4` with `g + 4 <= groups`, a single one group `g < groups`.
        unsafe {
            let (lo, hi) = (_mm512_set1_ps(lo), _mm512_set1_ps(hi));
            let (ba, bb, bc, bd) =
                (_mm512_set1_ps(bias[0]), _mm512_set1_ps(bias[1]), _mm512_set1_ps(bias[2]), _mm512_set1_ps(bias[3]));
            let mut g = 0;
            // Four groups at a time: four registers per channel, sixteen sums, with the four values and a weight 21
            // of the 32 registers. Named, not an array: at the size-optimizing level the compiler would keep an
            // array in memory.
            while g + 4 <= groups {
                let at = g * LANES4;
                let (mut a0, mut a1, mut a2, mut a3) = (ba, ba, ba, ba);
                let (mut b0, mut b1, mut b2, mut b3) = (bb, bb, bb, bb);
                let (mut c0, mut c1, mut c2, mut c3) = (bc, bc, bc, bc);
                let (mut d0, mut d1, mut d2, mut d3) = (bd, bd, bd, bd);
                for &(offset, w) in taps {
                    let p = x.add(offset + at);
                    let (x0, x1) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
                    let (x2, x3) = (_mm512_loadu_ps(p.add(32)), _mm512_loadu_ps(p.add(48)));
                    let w0 = _mm512_set1_ps(w[0]);
                    (a0, a1) = (_mm512_fmadd_ps(w0, x0, a0), _mm512_fmadd_ps(w0, x1, a1));
                    (a2, a3) = (_mm512_fmadd_ps(w0, x2, a2), _mm512_fmadd_ps(w0, x3, a3));
                    let w1 = _mm512_set1_ps(w[1]);
                    (b0, b1) = (_mm512_fmadd_ps(w1, x0, b0), _mm512_fmadd_ps(w1, x1, b1));
                    (b2, b3) = (_mm512_fmadd_ps(w1, x2, b2), _mm512_fmadd_ps(w1, x3, b3));
                    let w2 = _mm512_set1_ps(w[2]);
                    (c0, c1) = (_mm512_fmadd_ps(w2, x0, c0), _mm512_fmadd_ps(w2, x1, c1));
                    (c2, c3) = (_mm512_fmadd_ps(w2, x2, c2), _mm512_fmadd_ps(w2, x3, c3));
                    let w3 = _mm512_set1_ps(w[3]);
                    (d0, d1) = (_mm512_fmadd_ps(w3, x0, d0), _mm512_fmadd_ps(w3, x1, d1));
                    (d2, d3) = (_mm512_fmadd_ps(w3, x2, d2), _mm512_fmadd_ps(w3, x3, d3));
                }
                store4(o0.add(at), [a0, a1, a2, a3], clamp, lo, hi);
                store4(o1.add(at), [b0, b1, b2, b3], clamp, lo, hi);
                store4(o2.add(at), [c0, c1, c2, c3], clamp, lo, hi);
                store4(o3.add(at), [d0, d1, d2, d3], clamp, lo, hi);
                g += 4;
            }
            // The groups past the last four, one at a time.
            while g < groups {
                let at = g * LANES4;
                let (mut a, mut b, mut c, mut d) = (ba, bb, bc, bd);
                for &(offset, w) in taps {
                    let v = _mm512_loadu_ps(x.add(offset + at));
                    a = _mm512_fmadd_ps(_mm512_set1_ps(w[0]), v, a);
                    b = _mm512_fmadd_ps(_mm512_set1_ps(w[1]), v, b);
                    c = _mm512_fmadd_ps(_mm512_set1_ps(w[2]), v, c);
                    d = _mm512_fmadd_ps(_mm512_set1_ps(w[3]), v, d);
                }
                _mm512_storeu_ps(o0.add(at), clamped(a, clamp, lo, hi));
                _mm512_storeu_ps(o1.add(at), clamped(b, clamp, lo, hi));
                _mm512_storeu_ps(o2.add(at), clamped(c, clamp, lo, hi));
                _mm512_storeu_ps(o3.add(at), clamped(d, clamp, lo, hi));
                g += 1;
            }
        }
        true
    }

    #[inline(always)]
    unsafe fn split(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
        // SAFETY: the caller's promise, as for `sum`.
        unsafe { Avx2::split(src, evens, odds) }
    }
}
