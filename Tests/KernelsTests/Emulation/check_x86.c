// Checks the AVX-512, AVX-512 BF16 and AVX2 kernels of Sources/CKernels/X86*.c against the portable ones (Generic.c),
// whatever the CPU: compiled with SIMDe, which implements the intrinsics in plain C (see
// AVX512EmulationTests.swift). Random bytes include the FP8 NaN codes. Exits non-zero on any difference.
#include "Dispatch.h"
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
static uint64_t st = 12345;
static uint64_t rnd(void) { st = st * 6364136223846793005ULL + 1442695040888963407ULL; return st >> 17; }
typedef void (*fused_fn)(const nw_matrix *, const float *, int64_t, float *, int64_t, int64_t, int64_t, int64_t);
typedef void (*gemm_fn)(const nw_matrix *, const float *, int64_t, float *, int64_t, int64_t, int64_t, int64_t, float *);
int main(void) {
    int fails = 0;
    struct { const char *name; nw_dequantize_row_fn dequantize; fused_fn fused; gemm_fn gemm; nw_dot_fn dot; } isas[2] = {
        {"avx512", nw_dequantize_row_avx512, nw_matmul_fused_avx512, nw_matmul_gemm_avx512, nw_dot_avx512},
        {"avx2", nw_dequantize_row_avx2, nw_matmul_fused_avx2, nw_matmul_gemm_avx2, nw_dot_avx2},
    };
    for (int ii = 0; ii < 2; ii++) {
    printf("%s\n", isas[ii].name);
    int formats[4] = {NW_FORMAT_F32, NW_FORMAT_BF16, NW_FORMAT_FP8, NW_FORMAT_FP4};
    int64_t shapes[][2] = {{3, 32}, {130, 96}, {2, 288}, {5, 1000}, {7, 4128}, {1, 16}, {9, 160}};
    for (int fi = 0; fi < 4; fi++) for (int si = 0; si < 7; si++) {
        int fmt = formats[fi]; int64_t N = shapes[si][0], K = shapes[si][1];
        if (fmt == NW_FORMAT_FP4 && K % 32) continue;
        size_t bytes = fmt == NW_FORMAT_F32 ? N*K*4 : fmt == NW_FORMAT_BF16 ? N*K*2 : fmt == NW_FORMAT_FP8 ? N*K : N*K/2;
        uint8_t *d = malloc(bytes + 1) ; uint8_t *data = d + 1;
        for (size_t i = 0; i < bytes; i++) data[i] = (uint8_t)rnd();
        // NaN codes only in the first shape: elsewhere they would hide every other difference.
        if (fmt == NW_FORMAT_FP8 && si > 0) for (size_t i = 0; i < bytes; i++) if ((data[i] & 0x7F) == 0x7F) data[i] ^= 1;
        if (fmt == NW_FORMAT_F32) for (int64_t i = 0; i < N*K; i++) { float v = (float)((int)(rnd()%2001)-1000)/333.0f; memcpy(data+4*i,&v,4);}
        if (fmt == NW_FORMAT_BF16) for (int64_t i = 0; i < N*K; i++) { uint16_t h = (uint16_t)((rnd() & 0x807F) | 0x3C00); memcpy(data+2*i,&h,2);}
        size_t ns = fmt == NW_FORMAT_FP8 ? ((N+127)/128)*((K+127)/128) : fmt == NW_FORMAT_FP4 ? N*K/32 : 0;
        uint8_t *sc = malloc(ns + 1); for (size_t i = 0; i < ns; i++) sc[i] = i % 3 == 1 ? 248 : i % 7 == 3 ? 1 : i % 11 == 5 ? 253 : 118 + rnd() % 16;  // beyond the FP8 fast path's and the FP4 BF16 fold's ranges
        nw_matrix w = {data, ns ? sc : NULL, N, K, fmt};
        float *a = malloc(4*N*K), *b = malloc(4*N*K);
        for (int64_t n = 0; n < N; n++) { nw_dequantize_row_generic(&w, n, a + n*K); isas[ii].dequantize(&w, n, b + n*K); }
        for (int64_t i = 0; i < N*K; i++) {
            int bothnan = isnan(a[i]) && isnan(b[i]);
            if (!bothnan && memcmp(&a[i], &b[i], 4) != 0) { if (fails < 10) printf("dequant fmt %d N %ld K %ld i %ld: %g vs %g\n", fmt, N, K, i, a[i], b[i]); fails++; }
        }
        static const int Ts[] = {1, 3, 5, 7, 9, 13, 50};
        for (int ti = 0; ti < 7; ti++) {
            const int T = Ts[ti];
            float *x = malloc(4*T*K); for (int64_t i = 0; i < T*K; i++) x[i] = (float)((int)(rnd()%2001)-1000)/1000.0f;
            float *out = malloc(4*T*N);
            // The AVX2 FP4 kernels take the activations permuted into their decoder's order (nw_permute_activations).
            float *xk = x;
            if (ii == 1 && fmt == NW_FORMAT_FP4) { xk = malloc(4*T*K); nw_permute_fp4_avx2(x, K, T, K, xk); }
            isas[ii].fused(&w, xk, K, out, N, T, 0, N);
            for (int t = 0; t < T; t++) for (int64_t n = 0; n < N; n++) {
                double ref = 0, mag = 0; int nan = 0;
                for (int64_t k = 0; k < K; k++) { double p = (double)a[n*K+k]*x[t*K+k]; if (isnan(a[n*K+k])) nan = 1; ref += p; mag += fabs(p); }
                float got = out[t*N+n];
                if (nan) { if (!isnan(got)) { if (fails<10) printf("nan lost\n"); fails++; } continue; }
                // Near float32's range the order of the sum decides overflow: only the bit-identity check below applies.
                if (isnan(ref) || mag > 1e37) continue;
                if (isnan(got) || fabs(got - ref) > 1e-5 * (mag + 1e-30)) { if (fails < 10) printf("fused fmt %d N %ld K %ld T %d n %ld: %g vs %g\n", fmt, N, K, T, n, got, ref); fails++; }
            }
            // The large-T path must give bit-identical rows (one summation order for every T).
            float *panel = malloc(4 * 4 * K), *big = malloc(4 * T * N), *single = malloc(4 * N);
            isas[ii].gemm(&w, xk, K, big, N, T, 0, N, panel);
            for (int t = 0; t < T; t++) {
                isas[ii].fused(&w, xk + t * K, K, single, N, 1, 0, N);
                for (int64_t n = 0; n < N; n++) {
                    float a1 = big[t * N + n], a2 = single[n], a3 = out[t * N + n];
                    int same = (isnan(a1) && isnan(a2) && isnan(a3)) || (memcmp(&a1, &a2, 4) == 0 && memcmp(&a2, &a3, 4) == 0);
                    if (!same) { if (fails < 10) printf("order fmt %d K %ld T %d n %ld: gemm %g fused1 %g fusedT %g\n", fmt, K, T, n, a1, a2, a3); fails++; }
                }
            }
            free(panel); free(big); free(single);
            if (xk != x) free(xk);
            float da[1000], db[1000]; int64_t len = K < 1000 ? K : 1000;
            for (int64_t i = 0; i < len; i++) { da[i] = x[i]; db[i] = x[(T-1)*K + i]; }
            for (int64_t L = 0; L <= len; L += 37) { double r = 0; for (int64_t i = 0; i < L; i++) r += (double)da[i]*db[i];
                float g = isas[ii].dot(da, db, L); if (fabs(g - r) > 1e-4) { if (fails<10) printf("dot L %ld: %g vs %g\n", L, g, r); fails++; } }
            // BF16 dot products (FP8/FP4 weights): activations FP8-quantized, as the model passes them.
            if (ii == 0 && (fmt == NW_FORMAT_FP8 || fmt == NW_FORMAT_FP4)) {
                const int64_t ld = nw_bf16_row_length(K);
                float *xq = malloc(4 * T * K);
                uint16_t *xh = calloc((size_t)(T * ld), 2);
                for (int64_t i = 0; i < T * K; i++) {
                    uint8_t c = (uint8_t)rnd(); if ((c & 0x7F) == 0x7F) c ^= 1;
                    nw_matrix one = {&c, (const uint8_t *)"\x7f", 1, 1, NW_FORMAT_FP8};
                    float v; nw_dequantize_row_generic(&one, 0, &v);
                    xq[i] = ldexpf(v, (int)(i / 128 % 7) - 4);
                    uint32_t u; memcpy(&u, &xq[i], 4); xh[(i / K) * ld + i % K] = (uint16_t)(u >> 16);
                }
                float *fo = malloc(4 * T * N), *go = malloc(4 * T * N), *so = malloc(4 * N);
                void *scratch = malloc((size_t)(4 * ld * 2 + 4 * (K / 32 + 1) * 4));
                nw_matmul_fused_bf16(&w, xh, fo, N, T, 0, N);
                nw_matmul_gemm_bf16(&w, xh, go, N, T, 0, N, scratch);
                for (int t = 0; t < T; t++) {
                    nw_matmul_fused_bf16(&w, xh + t * ld, so, N, 1, 0, N);
                    for (int64_t n = 0; n < N; n++) {
                        double ref = 0, mag = 0; int nan = 0;
                        for (int64_t k = 0; k < K; k++) { double p = (double)a[n*K+k]*xq[t*K+k]; if (isnan(a[n*K+k])) nan = 1; ref += p; mag += fabs(p); }
                        float got = fo[t*N+n], g2 = go[t*N+n], g1 = so[n];
                        int same = (isnan(got) && isnan(g2) && isnan(g1)) || (memcmp(&got, &g2, 4) == 0 && memcmp(&got, &g1, 4) == 0);
                        if (!same) { if (fails < 10) printf("bf16 order fmt %d K %ld T %d n %ld: fused %g gemm %g fused1 %g\n", fmt, K, T, n, got, g2, g1); fails++; }
                        if (nan) { if (!isnan(got)) { if (fails<10) printf("bf16 nan lost\n"); fails++; } continue; }
                        if (isnan(ref) || mag > 1e37) continue;
                        if (isnan(got) || fabs(got - ref) > 1e-5 * (mag + 1e-30)) { if (fails < 10) printf("bf16 fmt %d N %ld K %ld T %d n %ld: %g vs %g\n", fmt, N, K, T, n, got, ref); fails++; }
                    }
                }
                free(xq); free(xh); free(fo); free(go); free(so); free(scratch);
            }
            free(x); free(out);
        }
        free(d); free(sc); free(a); free(b);
    }
    }
    // FP4 scale exponents at the edges of the BF16 fold (2…252 folded, the others scaled by an fma): every block
    // of a row at one exponent, so the row's value is decided by them.
    static const int edges[] = {0, 1, 2, 3, 251, 252, 253, 254};
    for (int ei = 0; ei < 8; ei++) for (int T = 1; T <= 9; T += 8) {
        const int64_t N = 5, K = 64, ld = nw_bf16_row_length(K);
        uint8_t data[5 * 32], sc[5 * 2];
        for (int i = 0; i < 5 * 32; i++) data[i] = (uint8_t)rnd();
        for (int i = 0; i < 10; i++) sc[i] = (uint8_t)edges[ei];
        nw_matrix w = {data, sc, N, K, NW_FORMAT_FP4};
        float a[5 * 64], xq[9 * 64], fo[9 * 5], go[9 * 5];
        uint16_t xh[9 * 64];
        for (int64_t n = 0; n < N; n++) nw_dequantize_row_generic(&w, n, a + n * K);
        for (int i = 0; i < T * K; i++) {
            xq[i] = ldexpf((float)((int)(rnd() % 15) - 7), -6);  // exact in FP8 and BF16, |x| < 0.125
            uint32_t u; memcpy(&u, &xq[i], 4); xh[i] = (uint16_t)(u >> 16);
        }
        uint8_t scratch[4 * 64 * 2 + 4 * 3 * 4];
        nw_matmul_fused_bf16(&w, xh, fo, N, T, 0, N);
        nw_matmul_gemm_bf16(&w, xh, go, N, T, 0, N, scratch);
        for (int t = 0; t < T; t++) for (int64_t n = 0; n < N; n++) {
            double ref = 0, mag = 0; int inf = 0;
            for (int64_t k = 0; k < K; k++) { double p = (double)a[n*K+k]*xq[t*ld+k]; ref += p; mag += fabs(p); inf |= isinf(a[n*K+k]); }
            if (inf || mag > 0x1p127) continue;  // the order of the sum decides overflow there
            float f = fo[t*N+n], g = go[t*N+n];
            if (memcmp(&f, &g, 4) != 0 || isnan(f) || fabs(f - ref) > 1e-5 * mag + 0x1p-149) {
                if (fails < 10) printf("bf16 fp4 scale %d T %d n %ld: fused %g gemm %g vs %g\n", edges[ei], T, n, f, g, ref);
                fails++;
            }
        }
    }
    // FP8 around the limits of the AVX2 decode kernels' prescaled activations (x · 2^(e−7) must be exact, else the
    // row block is decoded): three row blocks and three k blocks, the last ones partial. Row block 0 (exponents
    // 1, 118, 134) runs prescaled for T = 1 and is decoded once an activation row overflows at 134; row block 1
    // has 200, past the prescale's range even where its activations are all zero; row block 2 has the NaN scale.
    // NaN codes in one row of each of the first two blocks.
    for (int ii = 0; ii < 2; ii++) {
        const int64_t N = 260, K = 300;
        static const uint8_t exps[9] = {1, 118, 134, 118, 127, 200, 0, 130, 255};
        uint8_t *data = malloc(N * K);
        for (int64_t i = 0; i < N * K; i++) { data[i] = (uint8_t)rnd(); if ((data[i] & 0x7F) == 0x7F) data[i] ^= 1; }
        data[5 * K + 77] = 0x7F; data[131 * K + 299] = 0xFF;
        nw_matrix w = {data, exps, N, K, NW_FORMAT_FP8};
        float *a = malloc(4 * N * K);
        for (int64_t n = 0; n < N; n++) nw_dequantize_row_generic(&w, n, a + n * K);
        static const int Ts[] = {1, 2, 3, 4, 9};
        for (int ti = 0; ti < 5; ti++) {
            const int T = Ts[ti];
            float *x = malloc(4 * T * K), *out = malloc(4 * T * N), *single = malloc(4 * N), *big = malloc(4 * T * N), *panel = malloc(4 * 4 * K);
            for (int64_t i = 0; i < T * K; i++) {
                const int64_t t = i / K, k = i % K;
                float v = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
                if (t % 3 == 1 && k % 5 == 0) v = 0x1p-123f;   // below the normal range times 2^(1−7)
                if (t % 3 == 2 && k % 7 == 0) v = 96.0f;       // past float32's range times 2^(134−7)
                if (k % 11 == 0 || (t % 3 == 0 && k >= 256)) v = 0.0f;  // the second: a k block of zeros against 2^(200−127)
                x[i] = v;
            }
            isas[ii].fused(&w, x, K, out, N, T, 0, N);
            isas[ii].gemm(&w, x, K, big, N, T, 0, N, panel);
            for (int t = 0; t < T; t++) {
                isas[ii].fused(&w, x + t * K, K, single, N, 1, 0, N);
                for (int64_t n = 0; n < N; n++) {
                    double ref = 0, mag = 0; int nan = 0;
                    for (int64_t k = 0; k < K; k++) { double p = (double)a[n*K+k]*x[t*K+k]; nan |= isnan(a[n*K+k]); ref += p; mag += fabs(p); }
                    float f = out[t * N + n], g = big[t * N + n], s1 = single[n];
                    int same = (isnan(f) && isnan(g) && isnan(s1)) || (memcmp(&f, &g, 4) == 0 && memcmp(&f, &s1, 4) == 0);
                    if (!same) { if (fails < 10) printf("%s fp8 edges T %d n %ld: fused %g gemm %g fused1 %g\n", isas[ii].name, T, n, f, g, s1); fails++; }
                    if (nan) { if (!isnan(f)) { if (fails < 10) printf("%s fp8 edges: nan lost in row %ld\n", isas[ii].name, n); fails++; } continue; }
                    if (isnan(ref) || isinf(ref) || mag > 1e37) continue;
                    if (isnan(f) || fabs(f - ref) > 1e-5 * mag + 0x1p-149) { if (fails < 10) printf("%s fp8 edges T %d n %ld: %g vs %g\n", isas[ii].name, T, n, f, ref); fails++; }
                }
            }
            free(x); free(out); free(single); free(big); free(panel);
        }
        free(data); free(a);
    }
    // FP4 with ordinary scales: above, a third of the blocks have scales near 2^127, which puts almost every row
    // past the reference comparison's range. Whole 64-value chunks and a last block of 32 alone.
    for (int ii = 0; ii < 2; ii++) {
        static const int64_t Ks[] = {32, 96, 160, 4128};
        for (int ki = 0; ki < 4; ki++) {
            const int64_t N = 6, K = Ks[ki];
            uint8_t *data = malloc(N * K / 2), *sc = malloc(N * K / 32);
            for (int64_t i = 0; i < N * K / 2; i++) data[i] = (uint8_t)rnd();
            for (int64_t i = 0; i < N * K / 32; i++) sc[i] = (uint8_t)(118 + rnd() % 16);
            nw_matrix w = {data, sc, N, K, NW_FORMAT_FP4};
            float *a = malloc(4 * N * K), *x = malloc(4 * 5 * K), *out = malloc(4 * 5 * N), *big = malloc(4 * 5 * N), *panel = malloc(4 * 4 * K);
            for (int64_t n = 0; n < N; n++) nw_dequantize_row_generic(&w, n, a + n * K);
            for (int64_t i = 0; i < 5 * K; i++) x[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
            float *xk = x;  // permuted for the AVX2 kernels, as above
            if (ii == 1) { xk = malloc(4 * 5 * K); nw_permute_fp4_avx2(x, K, 5, K, xk); }
            for (int T = 1; T <= 5; T += 2) {
                isas[ii].fused(&w, xk, K, out, N, T, 0, N);
                isas[ii].gemm(&w, xk, K, big, N, T, 0, N, panel);
                for (int t = 0; t < T; t++)
                    for (int64_t n = 0; n < N; n++) {
                        double ref = 0, mag = 0;
                        for (int64_t k = 0; k < K; k++) { double p = (double)a[n*K+k]*x[t*K+k]; ref += p; mag += fabs(p); }
                        float f = out[t * N + n], g = big[t * N + n];
                        if (memcmp(&f, &g, 4) != 0 || fabs(f - ref) > 1e-5 * mag + 0x1p-149) {
                            if (fails < 10) printf("%s fp4 K %ld T %d n %ld: fused %g gemm %g vs %g\n", isas[ii].name, K, T, n, f, g, ref);
                            fails++;
                        }
                    }
            }
            if (xk != x) free(xk);
            free(data); free(sc); free(a); free(x); free(out); free(big); free(panel);
        }
    }
    printf("%d failures\n", fails);
    return fails != 0;
}
