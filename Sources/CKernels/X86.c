// x86-64 implementations with per-function target attributes: compiled into every build, called only
// when the CPU reports the features (see MatMul.c). Dequantization decodes FP8 E4M3 by bit placement
// and integer exponent rebiasing (exact, no denormal intermediates) and FP4 E2M1 by a permute table.
#if defined(__x86_64__)
#include "Dispatch.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define AVX2 __attribute__((target("avx2,fma,f16c")))

static inline float e8m0(uint8_t e) { return e == 255 ? NAN : ldexpf(1.0f, (int)e - 127); }

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
            uint16_t h;
            memcpy(&h, src + 2 * k, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&row[k], &bits, 4);
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

AVX2 void nw_dequantize_row_avx2(const nw_matrix *w, int64_t n, float *row) {
    const int64_t K = w->cols;
    switch (w->format) {
    case NW_FORMAT_F32:
    case NW_FORMAT_BF16:
        nw_dequantize_row_generic(w, n, row);
        return;
    case NW_FORMAT_FP8: {
        const uint8_t *src = (const uint8_t *)w->data + n * K;
        const int64_t kb = (K + 127) / 128;
        const uint8_t *srow = w->scale + (n / 128) * kb;
        for (int64_t b = 0; b < kb; b++) {
            const float sf = e8m0(srow[b]);
            const __m256 s = _mm256_set1_ps(sf);
            const int64_t k1 = (b + 1) * 128 < K ? (b + 1) * 128 : K;
            int64_t k = b * 128;
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

AVX2 float nw_dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= n; k += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16), _mm256_loadu_ps(b + k + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24), _mm256_loadu_ps(b + k + 24), acc3);
    }
    for (; k + 8 <= n; k += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
    __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
    for (; k < n; k++) r += a[k] * b[k];
    return r;
}

// ---------------------------------------------------------------- AVX-512 fused decode kernels
//
// out[t, n] for up to 4 activation rows at once, decoding each weight vector once and multiplying it
// into all rows straight from registers (no scratch row): the decode path, where every weight byte is
// read from memory once per token and the arithmetic must keep up with the memory.

#define MAXT 4

AVX512 static inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

AVX512 static inline float reduce(__m512 v) { return _mm512_reduce_add_ps(v); }

AVX512 static void fused_fp8(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                             int64_t n0, int64_t n1) {
    const int64_t K = w->cols, kb = (K + 127) / 128;
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *src = (const uint8_t *)w->data + n * K;
        const uint8_t *srow = w->scale + (n / 128) * kb;
        __m512 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t b = 0; b < kb; b++) {
            const int64_t k0 = b * 128, k1 = k0 + 128 < K ? k0 + 128 : K;
            __m512 part[MAXT];
            for (int t = 0; t < T; t++) part[t] = _mm512_setzero_ps();
            for (int64_t k = k0; k < k1; k += 16) {
                const __mmask16 m = tail_mask(k1 - k);
                __m512 f = fp8x16_decode(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, src + k)));
                for (int t = 0; t < T; t++) part[t] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, x + t * ldx + k), part[t]);
            }
            const __m512 s = _mm512_set1_ps(e8m0(srow[b]));
            for (int t = 0; t < T; t++) acc[t] = _mm512_fmadd_ps(part[t], s, acc[t]);
        }
        for (int t = 0; t < T; t++) out[t * ldo + n] = reduce(acc[t]);
    }
}

AVX512 static void fused_fp4(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                             int64_t n0, int64_t n1) {
    const int64_t K = w->cols;
    const __m512 table = _mm512_loadu_ps(nw_fp4_e2m1_table);
    const __m512i even = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i odd = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *src = (const uint8_t *)w->data + n * (K / 2);
        const uint8_t *srow = w->scale + n * (K / 32);
        __m512 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t b = 0; b < K / 32; b++) {
            const __m512 s = _mm512_set1_ps(e8m0(srow[b]));
            __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + b * 16)));
            __m512 lo = _mm512_permutexvar_ps(_mm512_and_si512(v, _mm512_set1_epi32(15)), table);
            __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
            __m512 w0 = _mm512_mul_ps(_mm512_permutex2var_ps(lo, even, hi), s);
            __m512 w1 = _mm512_mul_ps(_mm512_permutex2var_ps(lo, odd, hi), s);
            for (int t = 0; t < T; t++) {
                const float *xt = x + t * ldx + b * 32;
                acc[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xt), acc[t]);
                acc[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), acc[t]);
            }
        }
        for (int t = 0; t < T; t++) out[t * ldo + n] = reduce(acc[t]);
    }
}

AVX512 static void fused_bf16(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                              int64_t n0, int64_t n1) {
    const int64_t K = w->cols;
    for (int64_t n = n0; n < n1; n++) {
        const uint16_t *src = (const uint16_t *)((const uint8_t *)w->data + n * K * 2);
        __m512 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
            const __mmask16 m = tail_mask(K - k);
            __m512 f = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + k)), 16));
            for (int t = 0; t < T; t++) acc[t] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, x + t * ldx + k), acc[t]);
        }
        for (int t = 0; t < T; t++) out[t * ldo + n] = reduce(acc[t]);
    }
}

AVX512 static void fused_f32(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                             int64_t n0, int64_t n1) {
    const int64_t K = w->cols;
    for (int64_t n = n0; n < n1; n++) {
        const float *src = (const float *)((const uint8_t *)w->data + n * K * 4);
        __m512 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
            const __mmask16 m = tail_mask(K - k);
            __m512 f = _mm512_maskz_loadu_ps(m, src + k);
            for (int t = 0; t < T; t++) acc[t] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, x + t * ldx + k), acc[t]);
        }
        for (int t = 0; t < T; t++) out[t * ldo + n] = reduce(acc[t]);
    }
}

void nw_matmul_fused_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                            int64_t n0, int64_t n1) {
    for (int64_t t0 = 0; t0 < T; t0 += MAXT) {
        const int rows = (int)(T - t0 < MAXT ? T - t0 : MAXT);
        const float *xt = x + t0 * ldx;
        float *ot = out + t0 * ldo;
        switch (w->format) {
        case NW_FORMAT_FP8: fused_fp8(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_FP4: fused_fp4(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_BF16: fused_bf16(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        default: fused_f32(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        }
    }
}


// ---------------------------------------------------------------- AVX2 fused decode kernels (as above, 8 wide)

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/// Loads n ≤ 8 floats, zero-filling the rest (the AVX2 tail).
AVX2 static inline __m256 load_tail_avx2(const float *p, int64_t n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    float b[8] = {0};
    memcpy(b, p, (size_t)n * 4);
    return _mm256_loadu_ps(b);
}

AVX2 static inline float reduce_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static void fused_fp8_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                                int64_t n0, int64_t n1) {
    const int64_t K = w->cols, kb = (K + 127) / 128;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *src = (const uint8_t *)w->data + n * K;
        const uint8_t *srow = w->scale + (n / 128) * kb;
        __m256 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t b = 0; b < kb; b++) {
            const int64_t k0 = b * 128, k1 = min64(k0 + 128, K);
            __m256 part[MAXT];
            for (int t = 0; t < T; t++) part[t] = _mm256_setzero_ps();
            int64_t k = k0;
            for (; k + 8 <= k1; k += 8) {
                __m256 f = fp8x8_avx2(src + k, one);
                for (int t = 0; t < T; t++) part[t] = _mm256_fmadd_ps(f, _mm256_loadu_ps(x + t * ldx + k), part[t]);
            }
            if (k < k1) {
                uint8_t tail[8] = {0};
                memcpy(tail, src + k, (size_t)(k1 - k));
                __m256 f = fp8x8_avx2(tail, one);
                for (int t = 0; t < T; t++) part[t] = _mm256_fmadd_ps(f, load_tail_avx2(x + t * ldx + k, k1 - k), part[t]);
            }
            const __m256 s = _mm256_set1_ps(e8m0(srow[b]));
            for (int t = 0; t < T; t++) acc[t] = _mm256_fmadd_ps(part[t], s, acc[t]);
        }
        for (int t = 0; t < T; t++) out[t * ldo + n] = reduce_avx2(acc[t]);
    }
}

AVX2 static void fused_fp4_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                                int64_t n0, int64_t n1) {
    const int64_t K = w->cols;
    const __m256 magnitudes = _mm256_loadu_ps(nw_fp4_e2m1_table);
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *src = (const uint8_t *)w->data + n * (K / 2);
        const uint8_t *srow = w->scale + n * (K / 32);
        __m256 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t b = 0; b < K / 32; b++) {
            const __m256 s = _mm256_set1_ps(e8m0(srow[b]));
            for (int half = 0; half < 2; half++) {
                __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + b * 16 + half * 8)));
                __m256i lo = _mm256_and_si256(v, _mm256_set1_epi32(15));
                __m256i hi = _mm256_srli_epi32(v, 4);
                __m256 flo = _mm256_permutevar8x32_ps(magnitudes, lo);
                __m256 fhi = _mm256_permutevar8x32_ps(magnitudes, hi);
                flo = _mm256_xor_ps(flo, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(lo, _mm256_set1_epi32(8)), 28)));
                fhi = _mm256_xor_ps(fhi, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(hi, _mm256_set1_epi32(8)), 28)));
                __m256 a = _mm256_unpacklo_ps(flo, fhi), c = _mm256_unpackhi_ps(flo, fhi);
                __m256 w0 = _mm256_mul_ps(_mm256_permute2f128_ps(a, c, 0x20), s);
                __m256 w1 = _mm256_mul_ps(_mm256_permute2f128_ps(a, c, 0x31), s);
                for (int t = 0; t < T; t++) {
                    const float *xt = x + t * ldx + b * 32 + half * 16;
                    acc[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt), acc[t]);
                    acc[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + 8), acc[t]);
                }
            }
        }
        for (int t = 0; t < T; t++) out[t * ldo + n] = reduce_avx2(acc[t]);
    }
}

AVX2 static void fused_bf16_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                                 int64_t n0, int64_t n1) {
    const int64_t K = w->cols;
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *src = (const uint8_t *)w->data + n * K * 2;
        __m256 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 f = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + 2 * k))), 16));
            for (int t = 0; t < T; t++) acc[t] = _mm256_fmadd_ps(f, _mm256_loadu_ps(x + t * ldx + k), acc[t]);
        }
        for (int t = 0; t < T; t++) {
            float r = reduce_avx2(acc[t]);
            for (int64_t j = k; j < K; j++) {
                uint16_t h;
                memcpy(&h, src + 2 * j, 2);
                uint32_t bits = (uint32_t)h << 16;
                float f;
                memcpy(&f, &bits, 4);
                r += f * x[t * ldx + j];
            }
            out[t * ldo + n] = r;
        }
    }
}

AVX2 static void fused_f32_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int T,
                                int64_t n0, int64_t n1) {
    const int64_t K = w->cols;
    for (int64_t n = n0; n < n1; n++) {
        const float *src = (const float *)((const uint8_t *)w->data + n * K * 4);
        __m256 acc[MAXT];
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 f = _mm256_loadu_ps(src + k);
            for (int t = 0; t < T; t++) acc[t] = _mm256_fmadd_ps(f, _mm256_loadu_ps(x + t * ldx + k), acc[t]);
        }
        for (int t = 0; t < T; t++) {
            float r = reduce_avx2(acc[t]);
            for (int64_t j = k; j < K; j++) r += src[j] * x[t * ldx + j];
            out[t * ldo + n] = r;
        }
    }
}

void nw_matmul_fused_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                          int64_t n0, int64_t n1) {
    for (int64_t t0 = 0; t0 < T; t0 += MAXT) {
        const int rows = (int)(T - t0 < MAXT ? T - t0 : MAXT);
        const float *xt = x + t0 * ldx;
        float *ot = out + t0 * ldo;
        switch (w->format) {
        case NW_FORMAT_FP8: fused_fp8_avx2(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_FP4: fused_fp4_avx2(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        case NW_FORMAT_BF16: fused_bf16_avx2(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        default: fused_f32_avx2(w, xt, ldx, ot, ldo, rows, n0, n1); break;
        }
    }
}

#endif
