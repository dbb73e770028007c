// Sparse sink attention of queries over gathered keys (spec §3.6): softmax over the scaled logits and a
// per-head sink logit that takes probability mass but has no value, then the probability-weighted sum of
// the keys (which are also the values). The dot products go through nw_dot; the weighted sum is a multiply
// and an add per key and value (no FMA contraction), compiled for AVX2 where the chosen ISA has it, so the
// result is the same on every CPU and equals the Swift formulation it replaced.
//
// The heads of one query row share their keys. They go three at a time: the dot products take each key once
// for the three (nw_dot3), and the weighted sums go a chunk of 16 values at a time through all keys, the
// chunk's sums in registers and each key chunk read once for the three, where a per-head axpy re-read every
// key and its own output once per key. Every dot product and every value's sum over the keys is computed as
// before, so the result is bit-identical to one head at a time.
#include "Dispatch.h"

#pragma STDC FP_CONTRACT OFF

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Heads per pass of the weighted sums.
#define HEADS 3

/// out[g·ldo + c] = Σ_i p[g·n + i] · keys[i][c] for g < G ≤ HEADS, c < D, summed over i in order.
static void weighted_sums_generic(float *out, int64_t ldo, const float *p, int G, const float *const *keys, int64_t n,
                                  int64_t D) {
    for (int g = 0; g < G; g++) {
        for (int64_t c = 0; c < D; c++) out[g * ldo + c] = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t c = 0; c < D; c++) out[g * ldo + c] += p[g * n + i] * keys[i][c];
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void weighted_sums_avx2(float *out, int64_t ldo, const float *p, int G,
                                                              const float *const *keys, int64_t n, int64_t D) {
    int64_t c = 0;
    for (; c + 16 <= D; c += 16) {
        __m256 s[HEADS][2];
        for (int g = 0; g < HEADS; g++) s[g][0] = s[g][1] = _mm256_setzero_ps();
        for (int64_t i = 0; i < n; i++) {
            const __m256 k0 = _mm256_loadu_ps(keys[i] + c), k1 = _mm256_loadu_ps(keys[i] + c + 8);
            for (int g = 0; g < HEADS; g++) {  // the heads past G multiply by p of head 0 and are never stored
                const __m256 e = _mm256_broadcast_ss(p + (g < G ? g : 0) * n + i);
                s[g][0] = _mm256_add_ps(s[g][0], _mm256_mul_ps(e, k0));
                s[g][1] = _mm256_add_ps(s[g][1], _mm256_mul_ps(e, k1));
            }
        }
        for (int g = 0; g < G; g++) {
            _mm256_storeu_ps(out + g * ldo + c, s[g][0]);
            _mm256_storeu_ps(out + g * ldo + c + 8, s[g][1]);
        }
    }
    for (; c < D; c++)
        for (int g = 0; g < G; g++) {
            float s = 0;
            for (int64_t i = 0; i < n; i++) s += p[g * n + i] * keys[i][c];
            out[g * ldo + c] = s;
        }
}
#endif

void nw_sink_attention(float *out, int64_t ldo, const float *queries, int64_t ldq, int64_t H, const float *const *keys,
                       int64_t n, int64_t D, float scale, const float *sinks, float *logits) {
#if defined(__x86_64__)
    void (*weighted_sums)(float *, int64_t, const float *, int, const float *const *, int64_t, int64_t) =
        nw_isa_avx2() ? weighted_sums_avx2 : weighted_sums_generic;
#else
    void (*weighted_sums)(float *, int64_t, const float *, int, const float *const *, int64_t, int64_t) =
        weighted_sums_generic;
#endif
    for (int64_t h0 = 0; h0 < H; h0 += HEADS) {
        const int G = H - h0 < HEADS ? (int)(H - h0) : HEADS;
        const float *q[HEADS];
        for (int g = 0; g < G; g++) q[g] = queries + (h0 + g) * ldq;
        for (int64_t i = 0; i < n; i++) {  // a whole group takes each key once (nw_dot3: the same bits as nw_dot)
            float d[HEADS];
            if (G == HEADS) nw_dot3(q, keys[i], D, d);
            else for (int g = 0; g < G; g++) d[g] = nw_dot(q[g], keys[i], D);
            for (int g = 0; g < G; g++) logits[g * n + i] = d[g] * scale;
        }
        float denominator[HEADS];
        for (int g = 0; g < G; g++) {
            float *z = logits + g * n, m = -INFINITY;
            for (int64_t i = 0; i < n; i++) m = z[i] >= m ? z[i] : m;
            float d = 0;
            for (int64_t i = 0; i < n; i++) {  // the logits become the unnormalized probabilities
                z[i] = expf(z[i] - m);
                d += z[i];
            }
            denominator[g] = d + expf(sinks[h0 + g] - m);
        }
        weighted_sums(out + h0 * ldo, ldo, logits, G, keys, n, D);
        for (int g = 0; g < G; g++) {
            const float r = 1 / denominator[g];
            for (int64_t c = 0; c < D; c++) out[(h0 + g) * ldo + c] *= r;
        }
    }
}
