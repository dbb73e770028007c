// Sparse sink attention of one query over gathered keys (spec §3.6): softmax over the scaled logits and a
// per-head sink logit that takes probability mass but has no value, then the probability-weighted sum of
// the keys (which are also the values). The dot products go through nw_dot; the weighted sum is an axpy
// compiled for AVX2 where the chosen ISA has it, with a separate multiply and add (no FMA contraction), so the
// result is the same on every CPU and equals the Swift formulation it replaced.
#include "Dispatch.h"

#pragma STDC FP_CONTRACT OFF

#include <math.h>

static void axpy_generic(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

#if defined(__x86_64__)
/// The same loop, vectorized by the compiler for AVX2.
__attribute__((target("avx2"))) static void axpy_avx2(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}
#endif

void nw_sink_attention(float *out, const float *query, const float *const *keys, int64_t n, int64_t D, float scale,
                       float sink, float *logits) {
#if defined(__x86_64__)
    void (*axpy)(float *, float, const float *, int64_t) = nw_isa_avx2() ? axpy_avx2 : axpy_generic;
#else
    void (*axpy)(float *, float, const float *, int64_t) = axpy_generic;
#endif
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        const float z = nw_dot(query, keys[i], D) * scale;
        logits[i] = z;
        m = z >= m ? z : m;
    }
    memset(out, 0, (size_t)D * sizeof(float));
    float denominator = 0;
    for (int64_t i = 0; i < n; i++) {
        const float e = expf(logits[i] - m);
        denominator += e;
        axpy(out, e, keys[i], D);
    }
    denominator += expf(sink - m);
    const float r = 1 / denominator;
    for (int64_t c = 0; c < D; c++) out[c] *= r;
}
