// Lightning-indexer scores of a block of keys (spec §3.6): out[j] = Σ_h w[h] · ReLU(q_h · k_j), all heads at once.
// The (H × n) product Q·Kᵀ is register-tiled (2 heads × 4 keys on AVX2) so each loaded vector feeds several FMAs;
// every dot product is still one accumulator run over D in order, so a key's score is the same whatever tile,
// block or thread computes it (chunked prefill and batching stay bit-identical). The ISA is the one CKernels chose
// at load time (NARWHAL_ISA included).
#include "Dispatch.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Σ_h w[h] · ReLU(S[h]) in head order, for one key's dot products S (stride `stride`).
static inline float reduce_heads(const float *S, int64_t stride, const float *w, int64_t H) {
    float score = 0;
    for (int64_t h = 0; h < H; h++) {
        float qk = S[h * stride];
        if (qk > 0) score += w[h] * qk;
    }
    return score;
}

/// Portable version: 8 partial sums per dot, combined like nw_dot_generic.
static float dot8_generic(const float *a, const float *b, int64_t D) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < D; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static void scores_generic(const float *q, const float *w, int64_t H, const float *k, int64_t n, int64_t D, float *out,
                           float *S) {
    for (int64_t j = 0; j < n; j++) {
        for (int64_t h = 0; h < H; h++) S[h] = dot8_generic(q + h * D, k + j * D, D);
        out[j] = reduce_heads(S, 1, w, H);
    }
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// One dot product: a single accumulator, FMA over D in order (the tiled loop does the same per pair).
AVX2 static inline float dot_avx2(const float *a, const float *b, int64_t D) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < D; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    return hsum256(acc);
}

AVX2 static void scores_avx2(const float *q, const float *w, int64_t H, const float *k, int64_t n, int64_t D, float *out,
                             float *S) {
    // S: (H, 4) dot products of the current 4 keys.
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *k0 = k + j * D, *k1 = k0 + D, *k2 = k1 + D, *k3 = k2 + D;
        int64_t h = 0;
        for (; h + 2 <= H; h += 2) {
            const float *qa = q + h * D, *qb = qa + D;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int64_t i = 0; i < D; i += 8) {
                __m256 x = _mm256_loadu_ps(qa + i), y = _mm256_loadu_ps(qb + i);
                __m256 v = _mm256_loadu_ps(k0 + i);
                a0 = _mm256_fmadd_ps(x, v, a0);
                b0 = _mm256_fmadd_ps(y, v, b0);
                v = _mm256_loadu_ps(k1 + i);
                a1 = _mm256_fmadd_ps(x, v, a1);
                b1 = _mm256_fmadd_ps(y, v, b1);
                v = _mm256_loadu_ps(k2 + i);
                a2 = _mm256_fmadd_ps(x, v, a2);
                b2 = _mm256_fmadd_ps(y, v, b2);
                v = _mm256_loadu_ps(k3 + i);
                a3 = _mm256_fmadd_ps(x, v, a3);
                b3 = _mm256_fmadd_ps(y, v, b3);
            }
            S[h * 4 + 0] = hsum256(a0), S[h * 4 + 1] = hsum256(a1), S[h * 4 + 2] = hsum256(a2), S[h * 4 + 3] = hsum256(a3);
            S[h * 4 + 4] = hsum256(b0), S[h * 4 + 5] = hsum256(b1), S[h * 4 + 6] = hsum256(b2), S[h * 4 + 7] = hsum256(b3);
        }
        for (; h < H; h++)
            for (int c = 0; c < 4; c++) S[h * 4 + c] = dot_avx2(q + h * D, k + (j + c) * D, D);
        for (int c = 0; c < 4; c++) out[j + c] = reduce_heads(S + c, 4, w, H);
    }
    for (; j < n; j++) {
        for (int64_t h = 0; h < H; h++) S[h] = dot_avx2(q + h * D, k + j * D, D);
        out[j] = reduce_heads(S, 1, w, H);
    }
}
#endif

void nw_indexer_scores(const float *q, const float *w, int64_t H, const float *k, int64_t n, int64_t D, float *out,
                       float *scratch) {
#if defined(__x86_64__)
    // AVX-512 machines use the AVX2 tiles too (the products are small; one code path keeps one numerics there).
    if (D % 8 == 0 && strcmp(nw_isa(), "generic") != 0) {
        scores_avx2(q, w, H, k, n, D, out, scratch);
        return;
    }
#endif
    if (D % 8 == 0) {
        scores_generic(q, w, H, k, n, D, out, scratch);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        for (int64_t h = 0; h < H; h++) {
            float acc = 0;
            for (int64_t i = 0; i < D; i++) acc += q[h * D + i] * k[j * D + i];
            scratch[h] = acc;
        }
        out[j] = reduce_heads(scratch, 1, w, H);
    }
}
