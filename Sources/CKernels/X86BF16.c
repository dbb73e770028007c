// AVX-512 BF16 kernels for FP8/FP4 weights against FP8-quantized activations.
//
// Why they are exact: the reference quantizes the input of every FP8/FP4 linear to FP8 E4M3 times a
// power-of-two block scale (act_quant), and every such value is a normal BF16 number; unscaled FP8 E4M3 and
// FP4 E2M1 weights are BF16 numbers too. The product of two BF16 numbers is exact in float32, so
// `vdpbf16ps` (32 multiply-adds per instruction, twice the FP32 FMA rate) sums the very products the
// float32 path sums — only the order of the sum differs.
//
// Canonical order of this path (bit-identical for every T, like the float32 kernels): 16 lanes; lane j
// takes the pairs (k, k+1) = (32c + 2j, 32c + 2j + 1) of each 32-value chunk c in k order, one `vdpbf16ps`
// per chunk; the accumulator is reduced by _mm512_reduce_add_ps at the end. Values beyond K are zeros on
// both sides. The weight block scales:
// - FP8 (128×128 blocks): each (row, token) pair sums a block's 4 chunks into a block accumulator from
//   zero, then `acc = fma(block, scale, acc)`;
// - FP4 (per row and 32 values, one chunk): the scale is folded into the BF16 weights — an exponent add,
//   exact while the scaled values stay normal, i.e. for E8M0 exponents 2…252 — and the chunk goes straight
//   into `acc`; a block with any other exponent is summed from zero and scaled by an fma like FP8.
//
// Activations arrive already as BF16 (nw_activations_bf16), rows padded with zeros to a multiple of 32.
#if defined(__x86_64__)
#include "Dispatch.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

/// Unscaled FP8 E4M3 magnitudes 0…127 as BF16 bits (127 is NaN), in the four 32-entry tables that two
/// `vpermi2w` read; FP4 E2M1 codes 0…15 as BF16 bits, twice (a `vpermw` index has 5 bits).
static uint16_t fp8_bf16[128], fp4_bf16[32];

static uint16_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);  // exact: every value here has at most 8 significant bits
}

__attribute__((constructor)) static void init_bf16_tables(void) {
    for (int c = 0; c < 128; c++) {
        const int e = c >> 3, m = c & 7;
        fp8_bf16[c] = e == 15 && m == 7 ? 0x7FC0 : bf16_bits(e == 0 ? ldexpf((float)m, -9) : ldexpf((float)(8 + m), e - 10));
    }
    for (int c = 0; c < 32; c++) fp4_bf16[c] = bf16_bits(nw_fp4_e2m1_table[c & 15]);
}

/// The 32 bytes of a __m512i as a BF16 vector (a register reinterpretation).
AVX512BF16 static inline __m512bh as_bf16(__m512i v) {
    __m512bh r;
    memcpy(&r, &v, sizeof r);
    return r;
}

AVX512BF16 static inline __mmask32 mask32(int64_t n) { return n >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << n) - 1); }

typedef struct {
    __m512i t0, t1, t2, t3;
} fp8_tables;

AVX512BF16 static inline fp8_tables load_fp8_tables(void) {
    return (fp8_tables){_mm512_loadu_si512(fp8_bf16), _mm512_loadu_si512(fp8_bf16 + 32), _mm512_loadu_si512(fp8_bf16 + 64),
                        _mm512_loadu_si512(fp8_bf16 + 96)};
}

/// 32 FP8 codes → 32 unscaled BF16 values: the magnitude (7 bits) from two 64-entry lookups chosen by bit 6,
/// the sign moved from bit 7 to bit 15.
AVX512BF16 static inline __m512i fp8x32_bf16(__m256i codes, const fp8_tables *t) {
    const __m512i v = _mm512_cvtepu8_epi16(codes);
    const __m512i lo = _mm512_permutex2var_epi16(t->t0, v, t->t1);  // index bits 0–5
    const __m512i hi = _mm512_permutex2var_epi16(t->t2, v, t->t3);
    const __m512i mag = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(v, _mm512_set1_epi16(0x40)), lo, hi);
    return _mm512_ternarylogic_epi32(mag, _mm512_slli_epi16(v, 8), _mm512_set1_epi16((short)0x8000), 0xF8);  // mag | (sign & 0x8000)
}

/// 16 bytes of packed FP4 (32 codes) → 32 unscaled BF16 values in k order: dword lane j holds byte j, whose
/// low nibble (even k) stays in the low word and whose high nibble (odd k) is moved to the high word; the
/// lookup reads 5 index bits, so the low word's stray bit 4 lands in the table's second copy.
AVX512BF16 static inline __m512i fp4x32_bf16(const uint8_t *p, __m512i table) {
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    const __m512i idx = _mm512_mask_blend_epi16(0xAAAAAAAAu, v, _mm512_slli_epi32(v, 12));
    return _mm512_permutexvar_epi16(idx, table);
}

// ---------------------------------------------------------------- decode: weights straight from memory

#define MAXT 4
#define ROWS(T) ((T) == 1 ? 4 : (T) <= 3 ? 2 : 1)

AVX512BF16 static inline __attribute__((always_inline)) void fused_fp8_rows(const nw_matrix *w, const uint16_t *xh, float *out,
                                                                          int64_t ldo, int T, int R, int64_t n) {
    const int64_t K = w->cols, kb = (K + 127) / 128, ld = nw_bf16_row_length(K);
    const fp8_tables tab = load_fp8_tables();
    __m512 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < kb; b++) {
        const int64_t k0 = b * 128, k1 = k0 + 128 < K ? k0 + 128 : K;
        __m512 blk[4][MAXT];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) blk[r][t] = _mm512_setzero_ps();
        for (int64_t k = k0; k < k1; k += 32) {
            __m512i xv[MAXT];
            for (int t = 0; t < T; t++) xv[t] = _mm512_loadu_si512(xh + t * ld + k);
            for (int r = 0; r < R; r++) {
                const __m512i wv = fp8x32_bf16(_mm256_maskz_loadu_epi8(mask32(k1 - k), (const uint8_t *)w->data + (n + r) * K + k), &tab);
                if ((k & 63) == 0)  // each cache line once: the next row group (see fused_fp4_avx2_rows in X86.c)
                    _mm_prefetch((const char *)w->data + (n + r + R) * K + k, _MM_HINT_T0);
                for (int t = 0; t < T; t++) blk[r][t] = _mm512_dpbf16_ps(blk[r][t], as_bf16(wv), as_bf16(xv[t]));
            }
        }
        for (int r = 0; r < R; r++) {
            const __m512 s = _mm512_set1_ps(e8m0(w->scale[((n + r) / 128) * kb + b]));
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(blk[r][t], s, acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/// FP4 scale exponents whose scaled E2M1 values (0.5…6 × 2^(e−127)) are all normal BF16 numbers.
#define FP4_FOLDED(e) ((e) >= 2 && (e) <= 252)

/// The FP4 lookup table with scale 2^(e−127) folded in: the exponent field of every nonzero entry raised by
/// e − 127 (entries 0, 8, 16, 24 are ±0 and stay). Only for FP4_FOLDED(e).
AVX512BF16 static inline __m512i fp4_table_scaled(__m512i table, uint8_t e) {
    return _mm512_mask_add_epi16(table, 0xFEFEFEFEu, table, _mm512_set1_epi16((short)(((int)e - 127) * 128)));
}

AVX512BF16 static inline __attribute__((always_inline)) void fused_fp4_rows(const nw_matrix *w, const uint16_t *xh, float *out,
                                                                          int64_t ldo, int T, int R, int64_t n) {
    const int64_t K = w->cols, ld = nw_bf16_row_length(K);
    const __m512i table = _mm512_loadu_si512(fp4_bf16);
    __m512 acc[4][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < K / 32; b++) {
        __m512i xv[MAXT];
        for (int t = 0; t < T; t++) xv[t] = _mm512_loadu_si512(xh + t * ld + b * 32);
        for (int r = 0; r < R; r++) {
            const uint8_t e = w->scale[(n + r) * (K / 32) + b];
            const uint8_t *p = (const uint8_t *)w->data + (n + r) * (K / 2) + b * 16;
            if ((b & 3) == 0) _mm_prefetch((const char *)p + R * (K / 2), _MM_HINT_T0);  // the next row group, as for FP8
            if (FP4_FOLDED(e)) {
                const __m512i wv = fp4x32_bf16(p, fp4_table_scaled(table, e));
                for (int t = 0; t < T; t++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bf16(wv), as_bf16(xv[t]));
            } else {
                const __m512i wv = fp4x32_bf16(p, table);
                const __m512 s = _mm512_set1_ps(e8m0(e));
                for (int t = 0; t < T; t++)
                    acc[r][t] = _mm512_fmadd_ps(_mm512_dpbf16_ps(_mm512_setzero_ps(), as_bf16(wv), as_bf16(xv[t])), s, acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * ldo + n + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define DRIVER(name, rows_fn)                                                                                    \
    AVX512BF16 static inline __attribute__((always_inline)) void name(const nw_matrix *w, const uint16_t *xh,     \
                                                                      float *out, int64_t ldo, int T, int64_t n0, \
                                                                      int64_t n1) {                               \
        int64_t n = n0;                                                                                          \
        for (; n + ROWS(T) <= n1; n += ROWS(T)) rows_fn(w, xh, out, ldo, T, ROWS(T), n);                        \
        for (; n < n1; n++) rows_fn(w, xh, out, ldo, T, 1, n);                                                   \
    }
DRIVER(fused_fp8, fused_fp8_rows)
DRIVER(fused_fp4, fused_fp4_rows)

// T and R fixed at compile time, so the accumulator arrays live in registers.
#define SPECIALIZE(name)                                                                                         \
    AVX512BF16 static void name##_t(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int T,      \
                                    int64_t n0, int64_t n1) {                                                    \
        switch (T) {                                                                                             \
        case 1: name(w, xh, out, ldo, 1, n0, n1); break;                                                         \
        case 2: name(w, xh, out, ldo, 2, n0, n1); break;                                                         \
        case 3: name(w, xh, out, ldo, 3, n0, n1); break;                                                         \
        default: name(w, xh, out, ldo, 4, n0, n1); break;                                                        \
        }                                                                                                        \
    }
SPECIALIZE(fused_fp8)
SPECIALIZE(fused_fp4)

void nw_matmul_fused_bf16(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int64_t T, int64_t n0,
                          int64_t n1) {
    const int64_t ld = nw_bf16_row_length(w->cols);
    for (int64_t t0 = 0; t0 < T; t0 += MAXT) {
        const int rows = (int)(T - t0 < MAXT ? T - t0 : MAXT);
        if (w->format == NW_FORMAT_FP8) fused_fp8_t(w, xh + t0 * ld, out + t0 * ldo, ldo, rows, n0, n1);
        else fused_fp4_t(w, xh + t0 * ld, out + t0 * ldo, ldo, rows, n0, n1);
    }
}

// ---------------------------------------------------------------- prefill: a decoded panel, register tiles
//
// Four weight rows are decoded once into a BF16 panel (zero-padded to whole chunks) with their block scales
// beside it; activation rows go in blocks of GEMM_XB and tiles of 3: 12 block accumulators + 12 accumulators +
// 3 activations + 1 weight vector fit the 32 zmm registers. Each (row, token) pair follows the canonical order
// above.

/// Activation rows per block: the panel is decoded once per block. 96, as for FP8 and FP4 in the float32 GEMMs
/// (gemm_xb in X86.c, measured on Zen 3); the products here run at twice the float32 rate, so the decoding weighs
/// more still. A block is 768 KB of BF16 activations at K = 4096, inside a 1 MB L2. Not timed on a CPU with
/// AVX-512 BF16.
#define GEMM_XB 96

/// FP8: J activation rows (1 or 3) against the 4 panel rows, blocks of 4 chunks.
AVX512BF16 static inline __attribute__((always_inline)) void tile_fp8(const uint16_t *panel, const float *scales, int64_t ld,
                                                                    int64_t blocks, const uint16_t *xh, int J, float r[4][3]) {
    __m512 acc[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < J; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        __m512 blk[4][3];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < J; j++) blk[i][j] = _mm512_setzero_ps();
        for (int64_t k = b * 128; k < b * 128 + 128 && k < ld; k += 32) {
            __m512i xv[3];
            for (int j = 0; j < J; j++) xv[j] = _mm512_loadu_si512(xh + j * ld + k);
            for (int i = 0; i < 4; i++) {
                const __m512i wv = _mm512_loadu_si512(panel + i * ld + k);
                for (int j = 0; j < J; j++) blk[i][j] = _mm512_dpbf16_ps(blk[i][j], as_bf16(wv), as_bf16(xv[j]));
            }
        }
        for (int i = 0; i < 4; i++) {
            const __m512 s = _mm512_set1_ps(scales[i * blocks + b]);
            for (int j = 0; j < J; j++) acc[i][j] = _mm512_fmadd_ps(blk[i][j], s, acc[i][j]);
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < J; j++) r[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

/// FP4: one chunk per block; `scales` holds 0 for blocks whose scale is folded into the panel.
AVX512BF16 static inline __attribute__((always_inline)) void tile_fp4(const uint16_t *panel, const float *scales, int64_t ld,
                                                                    int64_t blocks, const uint16_t *xh, int J, float r[4][3]) {
    __m512 acc[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < J; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t k = b * 32;
        __m512i xv[3];
        for (int j = 0; j < J; j++) xv[j] = _mm512_loadu_si512(xh + j * ld + k);
        for (int i = 0; i < 4; i++) {
            const __m512i wv = _mm512_loadu_si512(panel + i * ld + k);
            const float s = scales[i * blocks + b];
            if (s == 0.0f) {
                for (int j = 0; j < J; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], as_bf16(wv), as_bf16(xv[j]));
            } else {
                for (int j = 0; j < J; j++)
                    acc[i][j] = _mm512_fmadd_ps(_mm512_dpbf16_ps(_mm512_setzero_ps(), as_bf16(wv), as_bf16(xv[j])),
                                                _mm512_set1_ps(s), acc[i][j]);
            }
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < J; j++) r[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

AVX512BF16 static void tile3(const nw_matrix *w, const uint16_t *panel, const float *scales, int64_t ld, int64_t blocks,
                             const uint16_t *xh, float r[4][3]) {
    if (w->format == NW_FORMAT_FP8) tile_fp8(panel, scales, ld, blocks, xh, 3, r);
    else tile_fp4(panel, scales, ld, blocks, xh, 3, r);
}

AVX512BF16 static void tile1(const nw_matrix *w, const uint16_t *panel, const float *scales, int64_t ld, int64_t blocks,
                             const uint16_t *xh, float r[4][3]) {
    if (w->format == NW_FORMAT_FP8) tile_fp8(panel, scales, ld, blocks, xh, 1, r);
    else tile_fp4(panel, scales, ld, blocks, xh, 1, r);
}

/// Row n of W as BF16 (ld values, zero-padded) and its block scales: FP8 unscaled; FP4 with the scale folded
/// in (scale 0 recorded) where FP4_FOLDED, else unscaled.
AVX512BF16 static void decode_row(const nw_matrix *w, int64_t n, uint16_t *row, float *scales) {
    const int64_t K = w->cols, ld = nw_bf16_row_length(K);
    if (w->format == NW_FORMAT_FP8) {
        const fp8_tables tab = load_fp8_tables();
        const int64_t kb = (K + 127) / 128;
        for (int64_t k = 0; k < ld; k += 32)
            _mm512_storeu_si512(row + k, fp8x32_bf16(_mm256_maskz_loadu_epi8(mask32(K - k), (const uint8_t *)w->data + n * K + k), &tab));
        for (int64_t b = 0; b < kb; b++) scales[b] = e8m0(w->scale[(n / 128) * kb + b]);
    } else {
        const __m512i table = _mm512_loadu_si512(fp4_bf16);
        for (int64_t b = 0; b < K / 32; b++) {
            const uint8_t e = w->scale[n * (K / 32) + b];
            const int folded = FP4_FOLDED(e);
            _mm512_storeu_si512(row + b * 32, fp4x32_bf16((const uint8_t *)w->data + n * (K / 2) + b * 16,
                                                          folded ? fp4_table_scaled(table, e) : table));
            scales[b] = folded ? 0.0f : e8m0(e);
        }
    }
}

void nw_matmul_gemm_bf16(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int64_t T, int64_t n0,
                         int64_t n1, void *scratch) {
    const int64_t K = w->cols, ld = nw_bf16_row_length(K);
    const int64_t blocks = w->format == NW_FORMAT_FP8 ? (K + 127) / 128 : K / 32;
    uint16_t *panel = (uint16_t *)scratch;
    float *scales = (float *)(panel + 4 * ld);
    for (int64_t t0 = 0; t0 < T; t0 += GEMM_XB) {
        const int64_t t1 = t0 + GEMM_XB < T ? t0 + GEMM_XB : T;
        for (int64_t n = n0; n < n1; n += 4) {
            const int rows = n1 - n < 4 ? (int)(n1 - n) : 4;
            for (int i = 0; i < rows; i++) decode_row(w, n + i, panel + i * ld, scales + i * blocks);
            for (int i = rows; i < 4; i++) {
                memset(panel + i * ld, 0, (size_t)ld * 2);
                for (int64_t b = 0; b < blocks; b++) scales[i * blocks + b] = 0;
            }
            int64_t t = t0;
            float r[4][3];
            for (; t + 3 <= t1; t += 3) {
                tile3(w, panel, scales, ld, blocks, xh + t * ld, r);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < 3; j++) out[(t + j) * ldo + n + i] = r[i][j];
            }
            for (; t < t1; t++) {
                tile1(w, panel, scales, ld, blocks, xh + t * ld, r);
                for (int i = 0; i < rows; i++) out[t * ldo + n + i] = r[i][0];
            }
        }
    }
}

#endif
