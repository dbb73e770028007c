// x86-64 implementations with per-function target attributes: compiled into every build, called only
// when the CPU reports the features (see MatMul.c). Dequantization decodes FP8 E4M3 by bit placement
// and integer exponent rebiasing (exact, no denormal intermediates), or through FP16 and F16C where that is
// cheaper; the FP8 decode kernels skip decoding, multiplying the placed bits by prescaled activations.
// FP4 E2M1 goes through a permute table, or in the AVX2 products through byte lookups (fp4x64_avx2).
#if defined(__x86_64__)
#include "Dispatch.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define AVX2 __attribute__((target("avx2,fma,f16c")))

// ---------------------------------------------------------------- AVX-512

/// 16 FP8 E4M3 codes (zero-extended to 32 bits) → float32, exactly, without ever forming a denormal
/// (denormal operands cost microcode assists): exponent and mantissa are moved into place and the
/// exponent rebiased by integer addition (+120); subnormal codes (exponent 0) are rebiased by 121 and
/// then shifted down by subtracting 2^-6. NaN codes (S.1111.111) are patched in by a compare.
AVX512 static inline __m512 fp8x16_decode(__m512i v) {
    const __m512i low = _mm512_and_si512(v, _mm512_set1_epi32(0x7F));
    const __mmask16 sub = _mm512_cmpeq_epi32_mask(_mm512_and_si512(v, _mm512_set1_epi32(0x78)), _mm512_setzero_si512());
    __m512i bits = _mm512_add_epi32(_mm512_slli_epi32(low, 20), _mm512_set1_epi32(120 << 23));
    bits = _mm512_mask_add_epi32(bits, sub, bits, _mm512_set1_epi32(1 << 23));
    __m512 f = _mm512_mask_sub_ps(_mm512_castsi512_ps(bits), sub, _mm512_castsi512_ps(bits), _mm512_set1_ps(0x1p-6f));
    f = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(f), _mm512_slli_epi32(_mm512_and_si512(v, _mm512_set1_epi32(0x80)), 24)));
    return _mm512_mask_mov_ps(f, _mm512_cmpeq_epi32_mask(low, _mm512_set1_epi32(0x7F)), _mm512_set1_ps(NAN));
}

AVX512 static inline __m512 fp8x16_avx512(const uint8_t *p, __m512 scale) {
    return _mm512_mul_ps(fp8x16_decode(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p))), scale);
}

AVX512 void nw_dequantize_row_avx512(const nw_matrix *w, int64_t n, float *row) {
    const int64_t K = w->cols;
    switch (w->format) {
    case NW_FORMAT_F32:
        memcpy(row, (const char *)w->data + n * K * 4, (size_t)K * 4);
        return;
    case NW_FORMAT_BF16: {
        const uint8_t *src = (const uint8_t *)w->data + n * K * 2;
        int64_t k = 0;
        for (; k + 16 <= K; k += 16) {
            __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + 2 * k)));
            _mm512_storeu_ps(row + k, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
        }
        for (; k < K; k++) {
            row[k] = bf16_at(src + 2 * k);
        }
        return;
    }
    case NW_FORMAT_FP8: {
        const uint8_t *src = (const uint8_t *)w->data + n * K;
        const int64_t kb = (K + 127) / 128;
        const uint8_t *srow = w->scale + (n / 128) * kb;
        for (int64_t b = 0; b < kb; b++) {
            const __m512 s = _mm512_set1_ps(e8m0(srow[b]));
            const int64_t k1 = (b + 1) * 128 < K ? (b + 1) * 128 : K;
            int64_t k = b * 128;
            for (; k + 16 <= k1; k += 16) _mm512_storeu_ps(row + k, fp8x16_avx512(src + k, s));
            if (k < k1) {
                uint8_t tail[16] = {0};
                memcpy(tail, src + k, (size_t)(k1 - k));
                __mmask16 m = (__mmask16)((1u << (k1 - k)) - 1);
                _mm512_mask_storeu_ps(row + k, m, fp8x16_avx512(tail, s));
            }
        }
        return;
    }
    case NW_FORMAT_FP4: {
        const uint8_t *src = (const uint8_t *)w->data + n * (K / 2);
        const uint8_t *srow = w->scale + n * (K / 32);
        const __m512 table = _mm512_loadu_ps(nw_fp4_e2m1_table);
        const __m512i even = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i odd = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        for (int64_t b = 0; b < K / 32; b++) {
            const __m512 s = _mm512_set1_ps(e8m0(srow[b]));
            __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + b * 16)));
            __m512 lo = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_and_si512(v, _mm512_set1_epi32(15)), table), s);
            __m512 hi = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table), s);
            _mm512_storeu_ps(row + b * 32, _mm512_permutex2var_ps(lo, even, hi));
            _mm512_storeu_ps(row + b * 32 + 16, _mm512_permutex2var_ps(lo, odd, hi));
        }
        return;
    }
    }
}

AVX512 float nw_dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 64 <= n; k += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b + k + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 32), _mm512_loadu_ps(b + k + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 48), _mm512_loadu_ps(b + k + 48), acc3);
    }
    for (; k + 16 <= n; k += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc0);
    if (k < n) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

// ---------------------------------------------------------------- AVX2

/// 8 FP8 codes → float32 exactly, without denormals (see fp8x16_decode).
AVX2 static inline __m256 fp8x8_avx2(const uint8_t *p, __m256 scale) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    const __m256i low = _mm256_and_si256(v, _mm256_set1_epi32(0x7F));
    const __m256i sub = _mm256_cmpeq_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x78)), _mm256_setzero_si256());
    __m256i bits = _mm256_add_epi32(_mm256_slli_epi32(low, 20), _mm256_set1_epi32(120 << 23));
    bits = _mm256_add_epi32(bits, _mm256_and_si256(sub, _mm256_set1_epi32(1 << 23)));
    __m256 f = _mm256_sub_ps(_mm256_castsi256_ps(bits), _mm256_and_ps(_mm256_castsi256_ps(sub), _mm256_set1_ps(0x1p-6f)));
    f = _mm256_or_ps(f, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x80)), 24)));
    const __m256 nan = _mm256_castsi256_ps(_mm256_cmpeq_epi32(low, _mm256_set1_epi32(0x7F)));
    return _mm256_mul_ps(_mm256_blendv_ps(f, _mm256_set1_ps(NAN), nan), scale);
}

/// 16 FP8 E4M3 codes → 2 × 8 float32, each the code's value × 2^-8, through FP16: the code's bits S.EEEE.MMM
/// placed as the FP16 S.0EEEE.MMM0000000 are exactly its value × 2^-8, for subnormal codes too (both formats'
/// subnormals line up), and F16C converts that exactly. The caller folds 2^8 into the block scale. NaN codes
/// (exponent and mantissa all ones, 0x3F80 once placed) are the only magnitudes that carry into bit 14 when
/// 0x80 is added; OR-ing that bit in gives the FP16 exponent 31 with a nonzero mantissa, a NaN.
AVX2 static inline void fp8x16_avx2(const uint8_t *p, __m256 scale256, __m256 *lo, __m256 *hi) {
    __m256i h = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));  // sign-extended: bits 15..8 = S
    h = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16((short)0xBF80));
    h = _mm256_or_si256(h, _mm256_and_si256(_mm256_add_epi16(h, _mm256_set1_epi16(0x80)), _mm256_set1_epi16(0x4000)));  // NaN codes
    *lo = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), scale256);
    *hi = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), scale256);
}

/// E8M0 exponents from 247 up make scale × 2^8 overflow; such blocks take the direct decoder.
#define FP8_FAST_SCALE_LIMIT 247

AVX2 void nw_dequantize_row_avx2(const nw_matrix *w, int64_t n, float *row) {
    const int64_t K = w->cols;
    switch (w->format) {
    case NW_FORMAT_F32:
        nw_dequantize_row_generic(w, n, row);
        return;
    case NW_FORMAT_BF16: {
        const uint8_t *src = (const uint8_t *)w->data + n * K * 2;
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + 2 * k)));
            _mm256_storeu_ps(row + k, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
        }
        for (; k < K; k++) {
            row[k] = bf16_at(src + 2 * k);
        }
        return;
    }
    case NW_FORMAT_FP8: {
        const uint8_t *src = (const uint8_t *)w->data + n * K;
        const int64_t kb = (K + 127) / 128;
        const uint8_t *srow = w->scale + (n / 128) * kb;
        for (int64_t b = 0; b < kb; b++) {
            const float sf = e8m0(srow[b]);
            const __m256 s = _mm256_set1_ps(sf);
            const int64_t k1 = (b + 1) * 128 < K ? (b + 1) * 128 : K;
            int64_t k = b * 128;
            if (srow[b] < FP8_FAST_SCALE_LIMIT) {  // through FP16 (fp8x16_avx2): half the instructions of the direct decoder
                const __m256 s256 = _mm256_set1_ps(sf * 256.0f);
                for (; k + 16 <= k1; k += 16) {
                    __m256 lo, hi;
                    fp8x16_avx2(src + k, s256, &lo, &hi);
                    _mm256_storeu_ps(row + k, lo);
                    _mm256_storeu_ps(row + k + 8, hi);
                }
            }
            for (; k + 8 <= k1; k += 8) _mm256_storeu_ps(row + k, fp8x8_avx2(src + k, s));
            if (k < k1) {
                uint8_t tail[8] = {0};
                float out[8];
                memcpy(tail, src + k, (size_t)(k1 - k));
                _mm256_storeu_ps(out, fp8x8_avx2(tail, s));
                memcpy(row + k, out, (size_t)(k1 - k) * 4);
            }
        }
        return;
    }
    case NW_FORMAT_FP4: {
        const uint8_t *src = (const uint8_t *)w->data + n * (K / 2);
        const uint8_t *srow = w->scale + n * (K / 32);
        const __m256 magnitudes = _mm256_loadu_ps(nw_fp4_e2m1_table);
        for (int64_t b = 0; b < K / 32; b++) {
            const __m256 s = _mm256_set1_ps(e8m0(srow[b]));
            for (int half = 0; half < 2; half++) {
                // 8 bytes → 16 values; nibble n: magnitude table[n & 7], sign bit 3.
                __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + b * 16 + half * 8)));
                __m256i lo = _mm256_and_si256(v, _mm256_set1_epi32(15));
                __m256i hi = _mm256_srli_epi32(v, 4);
                __m256 flo = _mm256_permutevar8x32_ps(magnitudes, lo);
                __m256 fhi = _mm256_permutevar8x32_ps(magnitudes, hi);
                flo = _mm256_xor_ps(flo, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(lo, _mm256_set1_epi32(8)), 28)));
                fhi = _mm256_xor_ps(fhi, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(hi, _mm256_set1_epi32(8)), 28)));
                flo = _mm256_mul_ps(flo, s);
                fhi = _mm256_mul_ps(fhi, s);
                // Interleave: (lo0, hi0, lo1, hi1, …) across the two 128-bit lanes.
                __m256 a = _mm256_unpacklo_ps(flo, fhi);  // lo0 hi0 lo1 hi1 | lo4 hi4 lo5 hi5
                __m256 c = _mm256_unpackhi_ps(flo, fhi);  // lo2 hi2 lo3 hi3 | lo6 hi6 lo7 hi7
                float *dst = row + b * 32 + half * 16;
                _mm256_storeu_ps(dst, _mm256_permute2f128_ps(a, c, 0x20));
                _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(a, c, 0x31));
            }
        }
        return;
    }
    }
}

/// out[g] = a[g] · b (n values) for g < G: four accumulators over 32 values at a time, then whole vectors into the
/// first, the accumulators added pairwise, the vector folded, the last values one at a time. One body for every
/// G, so each a[g] gets the same bits however many share b; b is loaded once for all of them.
AVX2 static inline __attribute__((always_inline)) void dots_avx2(const float *const *a, int G, const float *b, int64_t n,
                                                               float *out) {
    __m256 acc[3][4];
    for (int g = 0; g < G; g++)
        for (int j = 0; j < 4; j++) acc[g][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= n; k += 32)
        for (int j = 0; j < 4; j++) {
            const __m256 v = _mm256_loadu_ps(b + k + 8 * j);
            for (int g = 0; g < G; g++) acc[g][j] = _mm256_fmadd_ps(_mm256_loadu_ps(a[g] + k + 8 * j), v, acc[g][j]);
        }
    for (; k + 8 <= n; k += 8) {
        const __m256 v = _mm256_loadu_ps(b + k);
        for (int g = 0; g < G; g++) acc[g][0] = _mm256_fmadd_ps(_mm256_loadu_ps(a[g] + k), v, acc[g][0]);
    }
    for (int g = 0; g < G; g++) {
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[g][0], acc[g][1]), _mm256_add_ps(acc[g][2], acc[g][3]));
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        float r = _mm_cvtss_f32(s);
        for (int64_t i = k; i < n; i++) r = fmaf(a[g][i], b[i], r);
        out[g] = r;
    }
}

AVX2 float nw_dot_avx2(const float *a, const float *b, int64_t n) {
    float r;
    dots_avx2(&a, 1, b, n, &r);
    return r;
}

AVX2 void nw_dot3_avx2(const float *const a[3], const float *b, int64_t n, float out[3]) { dots_avx2(a, 3, b, n, out); }

// ---------------------------------------------------------------- matrix products for any T
//
// Canonical order. Every product element out[t, n] is computed the same way whatever T is and whichever
// path computes it (the fused decode kernels for small T, the tiled GEMM for large T): the decoded,
// block-scaled weights (exact in float32) are multiplied into ONE vector accumulator in k order, the last
// partial vector zero-padded, and the accumulator reduced in a fixed order. So a sequence's logits do
// not depend on how its tokens were split into calls, how many sequences share a batch, or how many
// tokens an expert received — prefix caching and batching change no output.
//
// Packed FP4 is the one exception to "k order": its products run in the order in which its decoder yields
// the values (fp4x64_avx2; on AVX-512, its own), and on AVX2 the activations are permuted to match, once per
// product for all its row chunks (nw_permute_fp4_avx2, through nw_permute_activations).

#define MAXT 4

/// x rows in the order of the AVX2 FP4 decoder (fp4x64_avx2): per 64 columns, vector i (0 … 7) lane l holds
/// column 32·(l/4) + 16·(i/2 mod 2) + 4·(l mod 4) + 2·(i mod 2) + i/4 — in each 128-bit half, from its own
/// 32-column scale block, every fourth column of a 16-column chunk: a 4 × 4 transpose of the chunk; a last
/// block of 32 alone (fp4x32_avx2): vector i lane l holds column 16·(i mod 2) + 2·l + i/2.
AVX2 void nw_permute_fp4_avx2(const float *x, int64_t ldx, int64_t T, int64_t K, float *xp) {
    for (int64_t t = 0; t < T; t++) {
        const float *src = x + t * ldx;
        float *dst = xp + t * K;
        int64_t k = 0;
        for (; k + 64 <= K; k += 64)
            // Chunk c (columns 16c … 16c+15) fills half c/2 of the vectors with i/2 mod 2 = c mod 2.
            for (int c = 0; c < 4; c++) {
                __m128 r0 = _mm_loadu_ps(src + k + 16 * c), r1 = _mm_loadu_ps(src + k + 16 * c + 4);
                __m128 r2 = _mm_loadu_ps(src + k + 16 * c + 8), r3 = _mm_loadu_ps(src + k + 16 * c + 12);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r_o: columns 16c + o, +4, +8, +12
                const __m128 r[4] = {r0, r1, r2, r3};
                for (int o = 0; o < 4; o++) {  // o = 2·(i mod 2) + i/4
                    const int i = 2 * (c % 2) + (o / 2) + 4 * (o % 2);
                    _mm_storeu_ps(dst + k + 8 * i + 4 * (c / 2), r[o]);
                }
            }
        if (k < K)  // K is a multiple of 32
            for (int m = 0; m < 2; m++) {
                const __m256 a = _mm256_loadu_ps(src + k + 16 * m), c = _mm256_loadu_ps(src + k + 16 * m + 8);
                const __m256 p = _mm256_permute2f128_ps(a, c, 0x20), q = _mm256_permute2f128_ps(a, c, 0x31);
                _mm256_storeu_ps(dst + k + 8 * m, _mm256_shuffle_ps(p, q, 0x88));
                _mm256_storeu_ps(dst + k + 16 + 8 * m, _mm256_shuffle_ps(p, q, 0xDD));
            }
    }
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/// Activation rows per block of the prefill GEMMs (AVX-512 and AVX2): each weight panel is decoded once per
/// block, so larger blocks amortise the decoding. On Zen 3, 48 measured 8% faster prefill than 24; for FP8 and
/// FP4, whose decoding costs most, 96 another 5–6% in a single-thread harness, while BF16 went 3% the other way.
static inline int64_t gemm_xb(const nw_matrix *w) {
    return w->format == NW_FORMAT_FP8 || w->format == NW_FORMAT_FP4 ? 96 : 48;
}

// FP8 decode without decoding. A row block's 128 × 128 weight blocks share one scale 2^(e−127) per k block,
// so the scale can move from the weights to the activations: (w·2^(e−127))·x = (w·2^−120)·(x·2^(e−7)) whenever
// x·2^(e−7) is exact (a power of two: no overflow, no fall below the normal range), and an fma adds the exact
// product either way — bit-identical to the canonical order's decoded, block-scaled weight. w·2^−120 is the FP8
// byte's bits placed into a float32 (fp8x8_placed_avx2, fp8x16_placed_avx512): three instructions per vector
// instead of seven and a multiply through FP16, and the activations are scaled once per 128 rows, not per weight.

/// xs[t, k] = x[t, k] · 2^(e_b − 7) for the row block whose scale exponents are srow (e_b for k block b). 0 when
/// that is not exact for some value — a finite x whose product overflows, a nonzero x whose product falls below
/// the normal range — or an exponent is above 134 (2^(e−7) overflows; 255 is NaN): the caller then decodes.
AVX2 static int fp8_prescale_avx2(const float *x, int64_t ldx, int T, int64_t K, const uint8_t *srow, float *xs) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256 normal = _mm256_set1_ps(0x1p-126f), inf = _mm256_set1_ps(INFINITY), zero = _mm256_setzero_ps();
    __m256 inexact = zero;
    for (int64_t b = 0; b < (K + 127) / 128; b++) {
        if (srow[b] > 134) return 0;
        const float f = ldexpf(1.0f, (int)srow[b] - 7);
        const int64_t k0 = b * 128, k1 = min64(k0 + 128, K);
        for (int t = 0; t < T; t++) {
            int64_t k = k0;
            for (; k + 8 <= k1; k += 8) {
                const __m256 v = _mm256_loadu_ps(x + t * ldx + k), scaled = _mm256_mul_ps(v, _mm256_set1_ps(f));
                const __m256 a = _mm256_and_ps(v, magnitude), as = _mm256_and_ps(scaled, magnitude);
                inexact = _mm256_or_ps(inexact, _mm256_and_ps(_mm256_cmp_ps(a, inf, _CMP_LT_OQ), _mm256_cmp_ps(as, inf, _CMP_EQ_OQ)));
                inexact = _mm256_or_ps(inexact, _mm256_and_ps(_mm256_cmp_ps(a, zero, _CMP_NEQ_OQ), _mm256_cmp_ps(as, normal, _CMP_LT_OQ)));
                _mm256_storeu_ps(xs + t * K + k, scaled);
            }
            for (; k < k1; k++) {
                const float v = x[t * ldx + k], scaled = v * f;
                if ((fabsf(v) < INFINITY && fabsf(scaled) == INFINITY) || (v != 0 && fabsf(scaled) < 0x1p-126f)) return 0;
                xs[t * K + k] = scaled;
            }
        }
    }
    return _mm256_movemask_ps(inexact) == 0;
}

/// Scratch for one thread's prescaled activations, kept for its next call: decode runs this for every matrix,
/// and a fresh allocation of a few hundred KB would be mapped and faulted in each time.
static float *thread_scratch(size_t bytes) {
    static _Thread_local float *buffer = NULL;
    static _Thread_local size_t capacity = 0;
    if (bytes > capacity) {
        free(buffer);
        capacity = (bytes + 4095) / 4096 * 4096;
        buffer = aligned_alloc(64, capacity);
        if (!buffer) capacity = 0;
    }
    return buffer;
}

// ---------------------------------------------------------------- AVX-512

AVX512 static inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

AVX512 static inline float reduce(__m512 v) { return _mm512_reduce_add_ps(v); }

/// 16 FP8 codes → float32 × 2^-8 through FP16 (see fp8x16_avx2 for why this is exact).
AVX512 static inline __m512 fp8x16_half_avx512(__m128i codes, __m512 scale256) {
    __m256i h = _mm256_cvtepi8_epi16(codes);
    h = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16((short)0xBF80));
    h = _mm256_or_si256(h, _mm256_and_si256(_mm256_add_epi16(h, _mm256_set1_epi16(0x80)), _mm256_set1_epi16(0x4000)));  // NaN codes
    return _mm512_mul_ps(_mm512_cvtph_ps(h), scale256);
}

// Fused decode kernels, R weight rows × T activation rows at a time (see the AVX2 ones below for why).
#define ROWS_AVX512(T) ((T) == 1 ? 4 : (T) <= 3 ? 2 : 1)

AVX512 static inline __attribute__((always_inline)) void fused_fp8_rows(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                      int64_t ldo, int T, int R, int64_t n) {
    const int64_t K = w->cols, kb = (K + 127) / 128;
    __m512 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < kb; b++) {
        const int64_t k0 = b * 128, k1 = k0 + 128 < K ? k0 + 128 : K;
        int fast[4];
        __m512 s[4];
        for (int r = 0; r < R; r++) {
            const uint8_t e = w->scale[((n + r) / 128) * kb + b];
            fast[r] = e < 247;  // beyond, scale × 2^8 would overflow: the direct decoder
            s[r] = _mm512_set1_ps(fast[r] ? e8m0(e) * 256.0f : e8m0(e));
        }
        for (int64_t k = k0; k < k1; k += 16) {
            const __mmask16 m = tail_mask(k1 - k);
            for (int r = 0; r < R; r++) {  // rows innermost: independent FMA chains back to back
                const __m128i codes = _mm_maskz_loadu_epi8(m, (const uint8_t *)w->data + (n + r) * K + k);
                const __m512 f = fast[r] ? fp8x16_half_avx512(codes, s[r]) : _mm512_mul_ps(fp8x16_decode(_mm512_cvtepu8_epi32(codes)), s[r]);
                for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, x + t * ldx + k), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = reduce(acc[r][t]);
}

AVX512 static inline __attribute__((always_inline)) void fused_fp4_rows(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                      int64_t ldo, int T, int R, int64_t n) {
    const int64_t K = w->cols;
    const __m512 table = _mm512_loadu_ps(nw_fp4_e2m1_table);
    const __m512i even = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i odd = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < K / 32; b++) {
        for (int r = 0; r < R; r++) {
            // The 16-entry table times the block scale (the same products as scaling each value); the
            // permute reads the low 4 bits of each index, so the low nibble needs no mask.
            const __m512 scaled = _mm512_mul_ps(table, _mm512_set1_ps(e8m0(w->scale[(n + r) * (K / 32) + b])));
            __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)((const uint8_t *)w->data + (n + r) * (K / 2) + b * 16)));
            __m512 lo = _mm512_permutexvar_ps(v, scaled);
            __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), scaled);
            __m512 w0 = _mm512_permutex2var_ps(lo, even, hi);
            __m512 w1 = _mm512_permutex2var_ps(lo, odd, hi);
            if ((b & 3) == 0)  // each cache line once: the next row group (see fused_fp4_avx2_rows)
                _mm_prefetch((const char *)w->data + (n + r + R) * (K / 2) + b * 16, _MM_HINT_T0);
            for (int t = 0; t < T; t++) {
                const float *xt = x + t * ldx + b * 32;
                acc[r][t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xt), acc[r][t]);
                acc[r][t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = reduce(acc[r][t]);
}

/// BF16 (`bf16` = 1) or float32 weight rows.
AVX512 static inline __attribute__((always_inline)) void fused_wide_rows(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                       int64_t ldo, int T, int R, int64_t n, int bf16) {
    const int64_t K = w->cols;
    __m512 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 m = tail_mask(K - k);
        for (int r = 0; r < R; r++) {
            const __m512 f = bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(
                                        m, (const uint16_t *)w->data + (n + r) * K + k)), 16))
                                  : _mm512_maskz_loadu_ps(m, (const float *)w->data + (n + r) * K + k);
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, x + t * ldx + k), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = reduce(acc[r][t]);
}

// Drivers: rows in groups of ROWS_AVX512(T), the remainder one by one (T and R are constants after
// SPECIALIZE, so the accumulator arrays live in registers).
AVX512 static inline __attribute__((always_inline)) void fused_fp8(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                 int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX512(T) <= n1; n += ROWS_AVX512(T)) fused_fp8_rows(w, x, ldx, out, ldo, T, ROWS_AVX512(T), n);
    for (; n < n1; n++) fused_fp8_rows(w, x, ldx, out, ldo, T, 1, n);
}

AVX512 static inline __attribute__((always_inline)) void fused_fp4(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                 int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX512(T) <= n1; n += ROWS_AVX512(T)) fused_fp4_rows(w, x, ldx, out, ldo, T, ROWS_AVX512(T), n);
    for (; n < n1; n++) fused_fp4_rows(w, x, ldx, out, ldo, T, 1, n);
}

AVX512 static inline __attribute__((always_inline)) void fused_bf16(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                  int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX512(T) <= n1; n += ROWS_AVX512(T)) fused_wide_rows(w, x, ldx, out, ldo, T, ROWS_AVX512(T), n, 1);
    for (; n < n1; n++) fused_wide_rows(w, x, ldx, out, ldo, T, 1, n, 1);
}

AVX512 static inline __attribute__((always_inline)) void fused_f32(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                 int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX512(T) <= n1; n += ROWS_AVX512(T)) fused_wide_rows(w, x, ldx, out, ldo, T, ROWS_AVX512(T), n, 0);
    for (; n < n1; n++) fused_wide_rows(w, x, ldx, out, ldo, T, 1, n, 0);
}

/// 16 FP8 codes placed as float32 bits: the codes' values × 2^−120 (see fp8x8_placed_avx2).
AVX512 static inline __m512 fp8x16_placed_avx512(__m128i codes) {
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_slli_epi32(_mm512_cvtepi8_epi32(codes), 20), _mm512_set1_epi32((int)0x87F00000u)));
}

/// Rows n … n+R−1 against prescaled activations xs (fp8_prescale_avx2); NaN codes caught and the next row group
/// prefetched as in fused_fp8_placed_avx2_rows.
AVX512 static inline __attribute__((always_inline)) void fused_fp8_placed_rows(const nw_matrix *w, const float *xs, float *out,
                                                                             int64_t ldo, int T, int R, int64_t n) {
    const int64_t K = w->cols;
    const __m512i high = _mm512_set1_epi8((char)0x80);
    __m512 acc[4][MAXT];
    __m512i seen[4];
    for (int r = 0; r < R; r++) {
        seen[r] = high;
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {  // a cache line of codes per row and step
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) {  // rows innermost: independent FMA chains back to back
                const __m512 f = fp8x16_placed_avx512(_mm_loadu_si128((const __m128i *)((const uint8_t *)w->data + (n + r) * K + k + 16 * q)));
#pragma clang loop unroll(full)
                for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(f, _mm512_loadu_ps(xs + t * K + k + 16 * q), acc[r][t]);
            }
        }
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            const __m512i codes = _mm512_loadu_si512((const uint8_t *)w->data + (n + r) * K + k);
            seen[r] = _mm512_max_epu8(seen[r], _mm512_or_si512(codes, high));
            _mm_prefetch((const char *)w->data + (n + r + R) * K + k, _MM_HINT_T0);
        }
    }
    for (; k < K; k += 16) {
        const __mmask16 m = tail_mask(K - k);  // masked-off codes read as 0, their activations as 0
        for (int r = 0; r < R; r++) {
            const __m512i codes = _mm512_maskz_loadu_epi8(m, (const uint8_t *)w->data + (n + r) * K + k);  // zeros above
            seen[r] = _mm512_max_epu8(seen[r], _mm512_or_si512(codes, high));
            const __m512 f = fp8x16_placed_avx512(_mm512_castsi512_si128(codes));
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, xs + t * K + k), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++) {
        const int nan = _mm512_cmpeq_epi8_mask(seen[r], _mm512_set1_epi8((char)0xFF)) != 0;
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = nan ? NAN : reduce(acc[r][t]);
    }
}

/// FP8 rows n0 … n1−1 by 128-row blocks: prescaled activations and placed codes, or the FP16 decoder where the
/// prescale would not be exact.
AVX512 static inline __attribute__((always_inline)) void fused_fp8_placed(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                        int64_t ldo, int T, int64_t n0, int64_t n1) {
    const int64_t K = w->cols, kb = (K + 127) / 128;
    float *xs = thread_scratch((size_t)(T * K) * sizeof(float));
    for (int64_t b0 = n0, b1; b0 < n1; b0 = b1) {
        b1 = min64((b0 / 128 + 1) * 128, n1);
        if (xs && fp8_prescale_avx2(x, ldx, T, K, w->scale + (b0 / 128) * kb, xs)) {
            int64_t n = b0;
            for (; n + ROWS_AVX512(T) <= b1; n += ROWS_AVX512(T)) fused_fp8_placed_rows(w, xs, out, ldo, T, ROWS_AVX512(T), n);
            for (; n < b1; n++) fused_fp8_placed_rows(w, xs, out, ldo, T, 1, n);
        } else {
            fused_fp8(w, x, ldx, out, ldo, T, b0, b1);
        }
    }
}

#define SPECIALIZE(ISA, name)                                                                                   \
    ISA static void name##_t(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,   \
                             int64_t n0, int64_t n1) {                                                          \
        switch (T) {                                                                                            \
        case 1: name(w, x, ldx, out, ldo, 1, n0, n1); break;                                                    \
        case 2: name(w, x, ldx, out, ldo, 2, n0, n1); break;                                                    \
        case 3: name(w, x, ldx, out, ldo, 3, n0, n1); break;                                                    \
        default: name(w, x, ldx, out, ldo, 4, n0, n1); break;                                                   \
        }                                                                                                       \
    }

// The row count fixed at compile time, so the per-row accumulators stay in registers.
SPECIALIZE(AVX512, fused_fp8_placed)
SPECIALIZE(AVX512, fused_fp4)
SPECIALIZE(AVX512, fused_bf16)
SPECIALIZE(AVX512, fused_f32)

void nw_matmul_fused_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                            int64_t n0, int64_t n1) {
    for (int64_t t0 = 0; t0 < T; t0 += MAXT) {
        const int rows = (int)(T - t0 < MAXT ? T - t0 : MAXT);
        const float *xt = x + t0 * ldx;
        float *ot = out + t0 * ldo;
        switch (w->format) {
        case NW_FORMAT_FP8: fused_fp8_placed_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_FP4: fused_fp4_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_BF16: fused_bf16_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        default: fused_f32_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        }
    }
}

// Large T: four weight rows decoded once into `panel`, activation rows in blocks of gemm_xb rows and register
// tiles of 4 rows × 4 activation rows: every loaded weight vector feeds four FMAs and every activation vector four.
// Each accumulator follows the canonical order (16 lanes in k order, the tail zero-padded), so results equal the
// fused kernels' bit for bit.

/// J activation rows (1 or 4) against the 4 panel rows.
AVX512 static inline __attribute__((always_inline)) void tile_avx512(const float *w, int64_t K, const float *x, int64_t ldx,
                                                                   int J, float r[4][4]) {
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < J; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 m = tail_mask(K - k);
        __m512 xv[4];
        for (int j = 0; j < J; j++) xv[j] = _mm512_maskz_loadu_ps(m, x + j * ldx + k);
        for (int i = 0; i < 4; i++) {
            const __m512 wv = _mm512_maskz_loadu_ps(m, w + i * K + k);
            for (int j = 0; j < J; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < J; j++) r[i][j] = reduce(acc[i][j]);
}

AVX512 static void tile4_avx512(const float *w, int64_t K, const float *x, int64_t ldx, float r[4][4]) { tile_avx512(w, K, x, ldx, 4, r); }
AVX512 static void tile1_avx512(const float *w, int64_t K, const float *x, int64_t ldx, float r[4][4]) { tile_avx512(w, K, x, ldx, 1, r); }

void nw_matmul_gemm_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                           int64_t n0, int64_t n1, float *panel) {
    const int64_t K = w->cols, xb = gemm_xb(w);
    for (int64_t t0 = 0; t0 < T; t0 += xb) {
        const int64_t t1 = min64(t0 + xb, T);
        for (int64_t n = n0; n < n1; n += 4) {
            const int rows = n1 - n < 4 ? (int)(n1 - n) : 4;
            for (int i = 0; i < rows; i++) nw_dequantize_row_avx512(w, n + i, panel + i * K);
            for (int i = rows; i < 4; i++) memset(panel + i * K, 0, (size_t)K * sizeof(float));
            float r[4][4];
            int64_t t = t0;
            for (; t + 4 <= t1; t += 4) {
                tile4_avx512(panel, K, x + t * ldx, ldx, r);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < 4; j++) out[(t + j) * ldo + n + i] = r[i][j];
            }
            for (; t < t1; t++) {
                tile1_avx512(panel, K, x + t * ldx, ldx, r);
                for (int i = 0; i < rows; i++) out[t * ldo + n + i] = r[i][0];
            }
        }
    }
}

// ---------------------------------------------------------------- AVX2

/// Loads n floats (0 ≤ n ≤ 8), zero-filling the rest.
AVX2 static inline __m256 load8(const float *p, int64_t n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    float b[8] = {0};
    if (n > 0) memcpy(b, p, (size_t)n * 4);
    return _mm256_loadu_ps(b);
}

AVX2 static inline float reduce_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Fused decode kernels: R weight rows × T activation rows at a time. Each (row, token) pair has its own
// accumulator in canonical order; several rows run side by side so that, even for one token, there are
// independent FMA chains to hide the FMA latency (one chain per row would cap a core at one vector FMA per
// latency period, far below what memory delivers).
//
// Rows per pass for T tokens: enough chains without spilling the 16 ymm registers.
#define ROWS_AVX2(T) ((T) == 1 ? 4 : (T) <= 3 ? 2 : 1)

AVX2 static inline __attribute__((always_inline)) void fused_fp8_avx2_rows(const nw_matrix *w, const float *x, int64_t ldx,
                                                                         float *out, int64_t ldo, int T, int R, int64_t n) {
    const int64_t K = w->cols, kb = (K + 127) / 128;
    __m256 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < kb; b++) {
        const int64_t k0 = b * 128, k1 = min64(k0 + 128, K);
        uint8_t e[4];
        __m256 s256[4];
        int fast = 1;
        for (int r = 0; r < R; r++) {
            e[r] = w->scale[((n + r) / 128) * kb + b];
            fast &= e[r] < FP8_FAST_SCALE_LIMIT;
            s256[r] = _mm256_set1_ps(e8m0(e[r]) * 256.0f);
        }
        int64_t k = k0;
        // Rows innermost: their accumulators are independent chains, so consecutive FMAs do not wait on
        // each other.
        if (fast) {
            for (; k + 16 <= k1; k += 16) {
                for (int r = 0; r < R; r++) {
                    __m256 lo, hi;
                    fp8x16_avx2((const uint8_t *)w->data + (n + r) * K + k, s256[r], &lo, &hi);
                    for (int t = 0; t < T; t++) {
                        acc[r][t] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x + t * ldx + k), acc[r][t]);
                        acc[r][t] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x + t * ldx + k + 8), acc[r][t]);
                    }
                }
            }
        }
        // The block's tail (or a block with a huge scale): the direct decoder, zero-padded vectors.
        for (int r = 0; r < R && k < k1; r++) {
            const __m256 s = _mm256_set1_ps(e8m0(e[r]));
            for (int64_t j = k; j < k1; j += 8) {
                uint8_t tail[8] = {0};
                memcpy(tail, (const uint8_t *)w->data + (n + r) * K + j, (size_t)min64(8, k1 - j));
                const __m256 f = fp8x8_avx2(tail, s);
                for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(f, load8(x + t * ldx + j, k1 - j), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = reduce_avx2(acc[r][t]);
}

AVX2 static inline __attribute__((always_inline)) void fused_fp8_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                    int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX2(T) <= n1; n += ROWS_AVX2(T)) fused_fp8_avx2_rows(w, x, ldx, out, ldo, T, ROWS_AVX2(T), n);
    for (; n < n1; n++) fused_fp8_avx2_rows(w, x, ldx, out, ldo, T, 1, n);
}

/// 8 FP8 E4M3 codes placed as float32 bits, S.EEEE.MMM → S.0000EEEE.MMM and 20 zero bits: exactly the code's
/// value × 2^−120 (subnormal codes land on float32 subnormals, exact too, and rare in real weights). NaN codes
/// land on finite values: the caller catches them.
AVX2 static inline __m256 fp8x8_placed_avx2(const uint8_t *p) {
    const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));  // sign-extended
    return _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(v, 20), _mm256_set1_epi32((int)0x87F00000u)));
}

/// Rows n … n+R−1 against T rows of prescaled activations xs (K floats each). A NaN code (S.1111.111) makes its
/// row's products NaN, as decoding it would: each row keeps the byte-wise maximum of its codes | 0x80, which is
/// 0xFF only if one was there.
AVX2 static inline __attribute__((always_inline)) void fused_fp8_placed_avx2_rows(const nw_matrix *w, const float *xs,
                                                                                float *out, int64_t ldo, int T, int R,
                                                                                int64_t n) {
    const int64_t K = w->cols;
    const __m256i high = _mm256_set1_epi8((char)0x80);
    __m256 acc[4][MAXT];
    __m256i seen[4];
    for (int r = 0; r < R; r++) {
        seen[r] = high;
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        // Unrolled in full so the accumulators stay in registers (clang keeps them in memory otherwise).
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) {  // rows innermost: independent FMA chains back to back
                const __m256 f = fp8x8_placed_avx2((const uint8_t *)w->data + (n + r) * K + k + 8 * q);
#pragma clang loop unroll(full)
                for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(f, _mm256_loadu_ps(xs + t * K + k + 8 * q), acc[r][t]);
            }
        }
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            const __m256i codes = _mm256_loadu_si256((const __m256i *)((const uint8_t *)w->data + (n + r) * K + k));
            seen[r] = _mm256_max_epu8(seen[r], _mm256_or_si256(codes, high));
            _mm_prefetch((const char *)w->data + (n + r + R) * K + k, _MM_HINT_T0);  // the next row group (see fused_fp4_avx2_rows)
        }
    }
    for (; k < K; k += 8) {  // the last values: zero-padded vectors, as in every path
        for (int r = 0; r < R; r++) {
            uint8_t tail[32] = {0};
            memcpy(tail, (const uint8_t *)w->data + (n + r) * K + k, (size_t)min64(8, K - k));
            seen[r] = _mm256_max_epu8(seen[r], _mm256_or_si256(_mm256_loadu_si256((const __m256i *)tail), high));
            const __m256 f = fp8x8_placed_avx2(tail);
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(f, load8(xs + t * K + k, K - k), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++) {
        const int nan = _mm256_movemask_epi8(_mm256_cmpeq_epi8(seen[r], _mm256_set1_epi8((char)0xFF))) != 0;
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = nan ? NAN : reduce_avx2(acc[r][t]);
    }
}

/// FP8 rows n0 … n1−1, one 128-row block at a time: its activations prescaled (T·K multiplies per 128·K
/// weights), then the placed codes; a block whose prescale is not exact takes the FP16 decoder.
AVX2 static inline __attribute__((always_inline)) void fused_fp8_placed_avx2(const nw_matrix *w, const float *x, int64_t ldx,
                                                                           float *out, int64_t ldo, int T, int64_t n0,
                                                                           int64_t n1) {
    const int64_t K = w->cols, kb = (K + 127) / 128;
    float *xs = thread_scratch((size_t)(T * K) * sizeof(float));
    for (int64_t b0 = n0, b1; b0 < n1; b0 = b1) {
        b1 = min64((b0 / 128 + 1) * 128, n1);
        if (xs && fp8_prescale_avx2(x, ldx, T, K, w->scale + (b0 / 128) * kb, xs)) {
            int64_t n = b0;
            for (; n + ROWS_AVX2(T) <= b1; n += ROWS_AVX2(T)) fused_fp8_placed_avx2_rows(w, xs, out, ldo, T, ROWS_AVX2(T), n);
            for (; n < b1; n++) fused_fp8_placed_avx2_rows(w, xs, out, ldo, T, 1, n);
        } else {
            fused_fp8_avx2(w, x, ldx, out, ldo, T, b0, b1);
        }
    }
}

// FP4 by byte lookups. A nibble S.EE.M is ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}[EEM]; vpshufb looks up both bytes of the
// value's BF16 bits (16 entries: sign included), an unpack interleaves them into BF16 words, and a shift (even
// words) and an AND (odd words) widen the words to float32. The block scale 2^(e−127) enters as an exponent
// shift: the high-byte table holds the magnitudes times 2^124, and one unsigned saturating subtraction of
// (251 − e) exponent steps from the words gives exactly magnitude × scale, while the zero words (both zero codes)
// saturate at +0. That is exact for 2 ≤ e ≤ 251 (the smallest product stays normal, the largest finite); rows
// with any other scale take the same lookups unbiased and a multiply (e = 0, 1, 252 … 255 do not occur in real
// checkpoints). 64 values take 4 lookups, 4 unpacks, 4 shifts, 4 ANDs and 4 subtractions besides the nibble
// split; unpacking to float32 (8 more unpacks, the shuffle ports' work) and multiplying by the scale (8
// multiplies on the FMA ports) made the FP4 decode kernel 1.25× slower for one token (a single-thread harness
// on Zen 3). −0 codes decode to +0 here: a sum that starts at +0 cannot tell them apart.
static const uint8_t fp4_bf16_low[16] = {0x00, 0x00, 0x80, 0xC0, 0x00, 0x40, 0x80, 0xC0, 0x00, 0x00, 0x80, 0xC0, 0x00, 0x40, 0x80, 0xC0};
static const uint8_t fp4_bf16_high[16] = {0x00, 0x3F, 0x3F, 0x3F, 0x40, 0x40, 0x40, 0x40, 0x80, 0xBF, 0xBF, 0xBF, 0xC0, 0xC0, 0xC0, 0xC0};
static const uint8_t fp4_bf16_high_placed[16] = {0x00, 0x7D, 0x7D, 0x7D, 0x7E, 0x7E, 0x7E, 0x7E,
                                                 0x00, 0xFD, 0xFD, 0xFD, 0xFE, 0xFE, 0xFE, 0xFE};

/// Whether every scale byte of e[0 … count−1] lies in 2 … 251, where the placed decoding is exact.
AVX2 static int fp4_scales_placeable(const uint8_t *e, int64_t count) {
    int64_t i = 0;
    __m256i bad = _mm256_setzero_si256();
    for (; i + 32 <= count; i += 32) {  // e − 2 (wrapping) above 249: outside
        const __m256i d = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(e + i)), _mm256_set1_epi8(2));
        bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_max_epu8(d, _mm256_set1_epi8((char)249)), _mm256_set1_epi8((char)249)));
    }
    int ok = _mm256_testz_si256(bad, bad);
    for (; i < count; i++) ok &= e[i] >= 2 && e[i] <= 251;
    return ok;
}

/// The low and the high nibbles of 32 FP4 bytes, each in its own byte.
AVX2 static inline __attribute__((always_inline)) void fp4_nibbles_avx2(const uint8_t *p, __m256i nib[2]) {
    const __m256i b = _mm256_loadu_si256((const __m256i *)p), nibble = _mm256_set1_epi8(0x0F);
    nib[0] = _mm256_and_si256(b, nibble);
    nib[1] = _mm256_and_si256(_mm256_srli_epi16(b, 4), nibble);
}

/// The byte tables for fp4_quarter_avx2, in both 128-bit halves (loaded once by the caller, outside its loops):
/// the high bytes biased by 2^124 where `placed`.
AVX2 static inline __attribute__((always_inline)) void fp4_tables_avx2(int placed, __m256i *low, __m256i *high) {
    *low = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)fp4_bf16_low));
    *high = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(placed ? fp4_bf16_high_placed : fp4_bf16_high)));
}

/// (251 − e) << 7 for each scale byte e in 2 … 251, eight times: a steps vector is two 16-byte loads.
static uint16_t fp4_steps[256][8] __attribute__((aligned(16)));

__attribute__((constructor)) static void fp4_steps_init(void) {
    for (int e = 2; e <= 251; e++)
        for (int i = 0; i < 8; i++) fp4_steps[e][i] = (uint16_t)((251 - e) << 7);
}

/// The block scales of 64 values (two blocks e[0], e[1], one per 128-bit half) as fp4_quarter_avx2 applies
/// them: placed, the exponent steps (251 − e) << 7 to subtract from the BF16 words; otherwise 2^(e−127) to
/// multiply by.
typedef union { __m256i steps; __m256 scale; } fp4_scale;

AVX2 static inline __attribute__((always_inline)) fp4_scale fp4_scale_avx2(int placed, const uint8_t *e) {
    fp4_scale s;
    if (placed) s.steps = _mm256_loadu2_m128i((const __m128i *)fp4_steps[e[1]], (const __m128i *)fp4_steps[e[0]]);
    else s.scale = _mm256_set_m128(_mm_set1_ps(e8m0(e[1])), _mm_set1_ps(e8m0(e[0])));
    return s;
}

/// A quarter of fp4x64_avx2's output, v[4·h + 2·half] and the next: nibbles nib (h = 0 low, 1 high), the low
/// (half = 0) or high 8 of each 128-bit half looked up in the tables, scaled, widened.
AVX2 static inline __attribute__((always_inline)) void fp4_quarter_avx2(int placed, __m256i low, __m256i high, __m256i nib,
                                                                      int half, fp4_scale s, __m256 *v0, __m256 *v1) {
    const __m256i bl = _mm256_shuffle_epi8(low, nib), bh = _mm256_shuffle_epi8(high, nib);
    __m256i wd = half ? _mm256_unpackhi_epi8(bl, bh) : _mm256_unpacklo_epi8(bl, bh);  // BF16 words
    if (placed) wd = _mm256_subs_epu16(wd, s.steps);
    *v0 = _mm256_castsi256_ps(_mm256_slli_epi32(wd, 16));                               // the even words
    *v1 = _mm256_castsi256_ps(_mm256_and_si256(wd, _mm256_set1_epi32((int)0xFFFF0000u)));  // the odd words
    if (!placed) {
        *v0 = _mm256_mul_ps(*v0, s.scale);
        *v1 = _mm256_mul_ps(*v1, s.scale);
    }
}

/// 64 FP4 values (32 bytes: two scale blocks with the scale bytes e[0], e[1]) → v[0 … 7] in the order of
/// nw_permute_fp4_avx2 (vpshufb and the unpacks work within 128-bit halves, one block each).
AVX2 static inline __attribute__((always_inline)) void fp4x64_avx2(int placed, const uint8_t *p, const uint8_t *e, __m256 v[8]) {
    __m256i low, high, nib[2];
    fp4_tables_avx2(placed, &low, &high);
    fp4_nibbles_avx2(p, nib);
    const fp4_scale s = fp4_scale_avx2(placed, e);
#pragma clang loop unroll(full)
    for (int q = 0; q < 4; q++) fp4_quarter_avx2(placed, low, high, nib[q / 2], q % 2, s, &v[2 * q], &v[2 * q + 1]);
}

/// A last block of 32 FP4 values (16 bytes) → v[0 … 3] in nw_permute_fp4_avx2's order, times its scale s.
AVX2 static inline void fp4x32_avx2(const uint8_t *p, __m256 s, __m256 v[4]) {
    const __m128i low = _mm_loadu_si128((const __m128i *)fp4_bf16_low), high = _mm_loadu_si128((const __m128i *)fp4_bf16_high);
    const __m128i nibble = _mm_set1_epi8(0x0F), b = _mm_loadu_si128((const __m128i *)p);
    const __m128i n[2] = {_mm_and_si128(b, nibble), _mm_and_si128(_mm_srli_epi16(b, 4), nibble)};
    for (int h = 0; h < 2; h++) {
        const __m128i bl = _mm_shuffle_epi8(low, n[h]), bh = _mm_shuffle_epi8(high, n[h]);
        v[2 * h + 0] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_unpacklo_epi8(bl, bh)), 16)), s);
        v[2 * h + 1] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_unpackhi_epi8(bl, bh)), 16)), s);
    }
}

/// x permuted (nw_permute_fp4_avx2, K floats per row): each decoded vector meets its activations as they lie.
AVX2 static inline __attribute__((always_inline)) void fused_fp4_avx2_rows(const nw_matrix *w, const float *x, int64_t ldx,
                                                                         float *out, int64_t ldo, int T, int R, int64_t n,
                                                                         int placed) {
    const int64_t K = w->cols;
    __m256 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    __m256i low, high;
    fp4_tables_avx2(placed, &low, &high);
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {
        fp4_scale s[4];
        for (int r = 0; r < R; r++) {
            // The next row group's bytes: each row is a short stream (K/2 bytes), and the hardware prefetcher
            // takes a while to pick up every new one.
            _mm_prefetch((const char *)w->data + (n + r + R) * (K / 2) + k / 2, _MM_HINT_T0);
            s[r] = fp4_scale_avx2(placed, w->scale + (n + r) * (K / 32) + k / 32);
        }
        // fp4x64_avx2 a quarter at a time, rows innermost, so their FMA chains advance together (one row's chunk
        // is a chain of 8). Unrolled in full: q picks the unpacks at compile time. The nibbles are taken from
        // the bytes again for each quarter (an L1 load and one or two ALU operations) rather than held: four rows'
        // nibbles would not fit the 16 registers beside the accumulators and scales.
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
            for (int r = 0; r < R; r++) {
                const __m256i bytes = _mm256_loadu_si256((const __m256i *)((const uint8_t *)w->data + (n + r) * (K / 2) + k / 2));
                const __m256i nib = _mm256_and_si256(q < 2 ? bytes : _mm256_srli_epi16(bytes, 4), _mm256_set1_epi8(0x0F));
                __m256 v0, v1;
                fp4_quarter_avx2(placed, low, high, nib, q % 2, s[r], &v0, &v1);
                for (int t = 0; t < T; t++) {
                    acc[r][t] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(x + t * ldx + k + 16 * q), acc[r][t]);
                    acc[r][t] = _mm256_fmadd_ps(v1, _mm256_loadu_ps(x + t * ldx + k + 16 * q + 8), acc[r][t]);
                }
            }
        }
    }
    if (k < K) {
        for (int r = 0; r < R; r++) {
            __m256 v[4];
            fp4x32_avx2((const uint8_t *)w->data + (n + r) * (K / 2) + k / 2, _mm256_set1_ps(e8m0(w->scale[(n + r) * (K / 32) + k / 32])), v);
            for (int i = 0; i < 4; i++)
                for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(v[i], _mm256_loadu_ps(x + t * ldx + k + 8 * i), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = reduce_avx2(acc[r][t]);
}

/// Rows n … n+R−1, by exponent steps where all their scales allow it (see fp4_scales_placeable).
AVX2 static inline __attribute__((always_inline)) void fused_fp4_avx2_group(const nw_matrix *w, const float *x, int64_t ldx,
                                                                          float *out, int64_t ldo, int T, int R, int64_t n) {
    if (fp4_scales_placeable(w->scale + n * (w->cols / 32), R * (w->cols / 32)))
        fused_fp4_avx2_rows(w, x, ldx, out, ldo, T, R, n, 1);
    else
        fused_fp4_avx2_rows(w, x, ldx, out, ldo, T, R, n, 0);
}

AVX2 static inline __attribute__((always_inline)) void fused_fp4_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                    int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX2(T) <= n1; n += ROWS_AVX2(T)) fused_fp4_avx2_group(w, x, ldx, out, ldo, T, ROWS_AVX2(T), n);
    for (; n < n1; n++) fused_fp4_avx2_group(w, x, ldx, out, ldo, T, 1, n);
}

/// BF16 and float32 rows: `wide` loads 8 weights as float32 (BF16 by a 16-bit shift).
#define LOAD_BF16_AVX2(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))

AVX2 static inline __attribute__((always_inline)) void fused_wide_avx2_rows(const nw_matrix *w, const float *x, int64_t ldx,
                                                                          float *out, int64_t ldo, int T, int R, int64_t n,
                                                                          int bf16) {
    const int64_t K = w->cols, es = bf16 ? 2 : 4;
    __m256 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        for (int r = 0; r < R; r++) {
            const uint8_t *src = (const uint8_t *)w->data + ((n + r) * K + k) * es;
            const __m256 f = bf16 ? LOAD_BF16_AVX2(src) : _mm256_loadu_ps((const float *)src);
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(f, _mm256_loadu_ps(x + t * ldx + k), acc[r][t]);
        }
    }
    if (k < K) {
        for (int r = 0; r < R; r++) {
            uint8_t tail[32] = {0};
            memcpy(tail, (const uint8_t *)w->data + ((n + r) * K + k) * es, (size_t)((K - k) * es));
            const __m256 f = bf16 ? LOAD_BF16_AVX2(tail) : _mm256_loadu_ps((const float *)tail);
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(f, load8(x + t * ldx + k, K - k), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = reduce_avx2(acc[r][t]);
}

AVX2 static inline __attribute__((always_inline)) void fused_bf16_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                     int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX2(T) <= n1; n += ROWS_AVX2(T)) fused_wide_avx2_rows(w, x, ldx, out, ldo, T, ROWS_AVX2(T), n, 1);
    for (; n < n1; n++) fused_wide_avx2_rows(w, x, ldx, out, ldo, T, 1, n, 1);
}

AVX2 static inline __attribute__((always_inline)) void fused_f32_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out,
                                                                    int64_t ldo, int T, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + ROWS_AVX2(T) <= n1; n += ROWS_AVX2(T)) fused_wide_avx2_rows(w, x, ldx, out, ldo, T, ROWS_AVX2(T), n, 0);
    for (; n < n1; n++) fused_wide_avx2_rows(w, x, ldx, out, ldo, T, 1, n, 0);
}

SPECIALIZE(AVX2, fused_fp8_placed_avx2)
SPECIALIZE(AVX2, fused_fp4_avx2)
SPECIALIZE(AVX2, fused_bf16_avx2)
SPECIALIZE(AVX2, fused_f32_avx2)

void nw_matmul_fused_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                          int64_t n0, int64_t n1) {
    for (int64_t t0 = 0; t0 < T; t0 += MAXT) {
        const int rows = (int)(T - t0 < MAXT ? T - t0 : MAXT);
        const float *xt = x + t0 * ldx;
        float *ot = out + t0 * ldo;
        switch (w->format) {
        case NW_FORMAT_FP8: fused_fp8_placed_avx2_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_FP4: fused_fp4_avx2_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_BF16: fused_bf16_avx2_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        default: fused_f32_avx2_t(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        }
    }
}

// AVX2 prefill GEMM (large T): weight rows decoded four at a time into a small float panel (FP4 in the order of its
// byte-lookup decoder, as the fused kernels); activation rows in blocks of gemm_xb rows and micro-tiles of 3, so
// every loaded weight vector feeds three FMAs and every activation vector four: 12 accumulators + 3 activation
// registers fill the 16 ymm registers. Leftover rows take a 4 × 1 tile (four independent chains). Each
// accumulator follows the canonical order.

/// An FP4 row decoded in the order of the permuted activations (nw_permute_fp4_avx2).
AVX2 static void decode_fp4_row_permuted(const nw_matrix *w, int64_t n, float *row) {
    const int64_t K = w->cols;
    const uint8_t *src = (const uint8_t *)w->data + n * (K / 2), *srow = w->scale + n * (K / 32);
    int64_t k = 0;
    const int placed = fp4_scales_placeable(srow, K / 32);
    for (; k + 64 <= K; k += 64) {
        __m256 v[8];
        if (placed) fp4x64_avx2(1, src + k / 2, srow + k / 32, v);
        else fp4x64_avx2(0, src + k / 2, srow + k / 32, v);
        for (int i = 0; i < 8; i++) _mm256_storeu_ps(row + k + 8 * i, v[i]);
    }
    if (k < K) {
        __m256 v[4];
        fp4x32_avx2(src + k / 2, _mm256_set1_ps(e8m0(srow[k / 32])), v);
        for (int i = 0; i < 4; i++) _mm256_storeu_ps(row + k + 8 * i, v[i]);
    }
}

// The tiles run whole vectors in a loop of their own and the zero-padded tail after it, with a pointer per row.
// With the tail's length check inside the loop, clang reloaded row addresses from the stack: 33 instructions
// per 12 FMAs against 24 now, and a 512-token prefill of the Flash-shape model 15% slower. Same operations in
// the same order either way.
#define TILE_4X3_STEP(load)                                                                                         \
    do {                                                                                                         \
        const __m256 v0 = load(x0 + k), v1 = load(x1 + k), v2 = load(x2 + k);                                   \
        __m256 u = load(w0 + k);                                                                                  \
        a00 = _mm256_fmadd_ps(u, v0, a00); a01 = _mm256_fmadd_ps(u, v1, a01); a02 = _mm256_fmadd_ps(u, v2, a02); \
        u = load(w1 + k);                                                                                         \
        a10 = _mm256_fmadd_ps(u, v0, a10); a11 = _mm256_fmadd_ps(u, v1, a11); a12 = _mm256_fmadd_ps(u, v2, a12); \
        u = load(w2 + k);                                                                                         \
        a20 = _mm256_fmadd_ps(u, v0, a20); a21 = _mm256_fmadd_ps(u, v1, a21); a22 = _mm256_fmadd_ps(u, v2, a22); \
        u = load(w3 + k);                                                                                         \
        a30 = _mm256_fmadd_ps(u, v0, a30); a31 = _mm256_fmadd_ps(u, v1, a31); a32 = _mm256_fmadd_ps(u, v2, a32); \
    } while (0)
#define LOAD_TAIL(p) load8(p, K - k)

AVX2 static inline void tile_4x3(const float *w, int64_t K, const float *x, int64_t ldx, float r[4][3]) {
    const float *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K, *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) TILE_4X3_STEP(_mm256_loadu_ps);
    if (k < K) TILE_4X3_STEP(LOAD_TAIL);
    r[0][0] = reduce_avx2(a00); r[0][1] = reduce_avx2(a01); r[0][2] = reduce_avx2(a02);
    r[1][0] = reduce_avx2(a10); r[1][1] = reduce_avx2(a11); r[1][2] = reduce_avx2(a12);
    r[2][0] = reduce_avx2(a20); r[2][1] = reduce_avx2(a21); r[2][2] = reduce_avx2(a22);
    r[3][0] = reduce_avx2(a30); r[3][1] = reduce_avx2(a31); r[3][2] = reduce_avx2(a32);
}

#define TILE_4X1_STEP(load)                                                                                         \
    do {                                                                                                         \
        const __m256 v0 = load(x + k);                                                                            \
        a0 = _mm256_fmadd_ps(load(w0 + k), v0, a0);                                                              \
        a1 = _mm256_fmadd_ps(load(w1 + k), v0, a1);                                                              \
        a2 = _mm256_fmadd_ps(load(w2 + k), v0, a2);                                                              \
        a3 = _mm256_fmadd_ps(load(w3 + k), v0, a3);                                                              \
    } while (0)

/// One activation row against the 4 panel rows: four independent chains instead of one.
AVX2 static inline void tile_4x1(const float *w, int64_t K, const float *x, float r[4]) {
    const float *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) TILE_4X1_STEP(_mm256_loadu_ps);
    if (k < K) TILE_4X1_STEP(LOAD_TAIL);
    r[0] = reduce_avx2(a0); r[1] = reduce_avx2(a1); r[2] = reduce_avx2(a2); r[3] = reduce_avx2(a3);
}

void nw_matmul_gemm_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                         int64_t n0, int64_t n1, float *panel) {
    const int64_t K = w->cols;
    const int64_t xb = gemm_xb(w);
    for (int64_t t0 = 0; t0 < T; t0 += xb) {
        const int64_t t1 = min64(t0 + xb, T);
        for (int64_t n = n0; n < n1; n += 4) {
            const int rows = n1 - n < 4 ? (int)(n1 - n) : 4;
            for (int i = 0; i < rows; i++) {
                if (w->format == NW_FORMAT_FP4) decode_fp4_row_permuted(w, n + i, panel + i * K);
                else nw_dequantize_row_avx2(w, n + i, panel + i * K);
            }
            for (int i = rows; i < 4; i++) memset(panel + i * K, 0, (size_t)K * sizeof(float));
            int64_t t = t0;
            for (; t + 3 <= t1; t += 3) {
                float r[4][3];
                tile_4x3(panel, K, x + t * ldx, ldx, r);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < 3; j++) out[(t + j) * ldo + n + i] = r[i][j];
            }
            for (; t < t1; t++) {
                float r[4];
                tile_4x1(panel, K, x + t * ldx, r);
                for (int i = 0; i < rows; i++) out[t * ldo + n + i] = r[i];
            }
        }
    }
}

#endif
