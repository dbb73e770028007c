// Entry points of CKernels (see CKernels.h) and the run-time choice of implementation: the best ISA the
// CPU supports is picked once at load time (AVX-512, AVX2+FMA, or portable C), so one binary built
// without -march flags runs everywhere and uses the vector units where they exist.
#include "Dispatch.h"

#include <stdlib.h>
#include <string.h>

static nw_dequantize_row_fn dequantize_row = nw_dequantize_row_generic;
static nw_dot_fn dot = nw_dot_generic;
/// Three dot products against one vector, each equal to `dot`'s; NULL where only `dot` gives that.
static void (*dot3)(const float *const a[3], const float *b, int64_t n, float out[3]) = NULL;
static const char *isa_name = "generic";
/// Small-T product straight from the weights (decode); NULL where the ISA has none.
typedef void (*nw_fused_fn)(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                            int64_t n0, int64_t n1);
static nw_fused_fn fused = NULL;
/// Large-T product with register tiling; needs a scratch panel of 4 weight rows. NULL where the ISA has none.
typedef void (*nw_gemm_fn)(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                           int64_t n0, int64_t n1, float *panel);
static nw_gemm_fn gemm = NULL;
/// Activations into the order of the FP4 kernels' decoder; NULL where they take them as they are.
static void (*permute_fp4)(const float *x, int64_t ldx, int64_t T, int64_t K, float *xp) = NULL;
/// AVX-512 BF16 dot products for FP8/FP4 weights against quantized activations (X86BF16.c).
static int bf16_dot = 0;
/// Up to this many activation rows, the fused kernel beats decoding each weight row once into scratch.
#define FUSED_MAX_T 8

__attribute__((constructor)) static void choose_isa(void) {
    const char *forced = getenv("NARWHAL_ISA");  // diagnostic switch: generic | avx2 | avx512
    if (forced && strcmp(forced, "generic") == 0) return;
#if defined(__x86_64__)
    int avx512 = nw_isa_available("avx512"), avx2 = nw_isa_available("avx2");
    if (forced && strcmp(forced, "avx2") == 0) avx512 = 0;
    if (avx512) {
        dequantize_row = nw_dequantize_row_avx512;
        dot = nw_dot_avx512;
        fused = nw_matmul_fused_avx512;
        gemm = nw_matmul_gemm_avx512;
        isa_name = "avx512";
        const char *bf16 = getenv("NARWHAL_BF16");  // diagnostic switch: 0 keeps the float32 kernels
        bf16_dot = __builtin_cpu_supports("avx512bf16") && !(bf16 && strcmp(bf16, "0") == 0);
    } else if (avx2) {
        dequantize_row = nw_dequantize_row_avx2;
        dot = nw_dot_avx2;
        dot3 = nw_dot3_avx2;
        fused = nw_matmul_fused_avx2;
        gemm = nw_matmul_gemm_avx2;
        permute_fp4 = nw_permute_fp4_avx2;
        isa_name = "avx2";
    }
#endif
}

const char *nw_isa(void) { return isa_name; }

int nw_isa_avx2(void) { return dot != nw_dot_generic; }  // a pointer compare: called on hot paths

int nw_isa_available(const char *isa) {
    if (strcmp(isa, "generic") == 0) return 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    // Exactly the features the kernels are compiled for (the target attributes in X86.c).
    if (strcmp(isa, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (strcmp(isa, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
#endif
    return 0;
}

static void implementations(const char *isa, nw_dequantize_row_fn *deq, nw_dot_fn *d) {
    *deq = nw_dequantize_row_generic;
    *d = nw_dot_generic;
#if defined(__x86_64__)
    if (strcmp(isa, "avx2") == 0) { *deq = nw_dequantize_row_avx2; *d = nw_dot_avx2; }
    if (strcmp(isa, "avx512") == 0) { *deq = nw_dequantize_row_avx512; *d = nw_dot_avx512; }
#endif
}

void nw_dequantize_rows_isa(const char *isa, const nw_matrix *w, int64_t row0, int64_t row1, float *out) {
    nw_dequantize_row_fn deq;
    nw_dot_fn d;
    implementations(isa, &deq, &d);
    for (int64_t n = row0; n < row1; n++) deq(w, n, out + (n - row0) * w->cols);
}

float nw_dot_isa(const char *isa, const float *a, const float *b, int64_t n) {
    nw_dequantize_row_fn deq;
    nw_dot_fn d;
    implementations(isa, &deq, &d);
    return d(a, b, n);
}

float nw_dot(const float *a, const float *b, int64_t n) { return dot(a, b, n); }

void nw_dot3(const float *const a[3], const float *b, int64_t n, float out[3]) {
    if (dot3) dot3(a, b, n, out);
    else for (int g = 0; g < 3; g++) out[g] = dot(a[g], b, n);
}

void nw_dequantize_rows(const nw_matrix *w, int64_t row0, int64_t row1, float *out) {
    for (int64_t n = row0; n < row1; n++) dequantize_row(w, n, out + (n - row0) * w->cols);
}

int nw_matmul_permutes(const nw_matrix *w) { return permute_fp4 && w->format == NW_FORMAT_FP4; }

void nw_permute_activations(const nw_matrix *w, const float *x, int64_t ldx, int64_t T, float *out) {
    permute_fp4(x, ldx, T, w->cols, out);
}

int64_t nw_matmul_scratch_bytes(int64_t K) {
    const int64_t f32 = 4 * K * 4, bf16 = 4 * nw_bf16_row_length(K) * 2 + 4 * (K / 32 + 1) * 4;
    return f32 > bf16 ? f32 : bf16;
}

int nw_bf16_dot(void) { return bf16_dot; }

int nw_bf16_dot_applies(const nw_matrix *w) {
    return bf16_dot && (w->format == NW_FORMAT_FP8 || w->format == NW_FORMAT_FP4);
}

void nw_activations_bf16(const float *x, int64_t ldx, int64_t T, int64_t K, uint16_t *out) {
    const int64_t ld = nw_bf16_row_length(K);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t k = 0; k < K; k++) {
            uint32_t u;
            memcpy(&u, x + t * ldx + k, 4);
            out[t * ld + k] = (uint16_t)(u >> 16);
        }
        for (int64_t k = K; k < ld; k++) out[t * ld + k] = 0;
    }
}

void nw_matmul_bf16(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int64_t T, int64_t row0,
                    int64_t row1, void *scratch) {
#if defined(__x86_64__)
    if (bf16_dot && T <= FUSED_MAX_T) nw_matmul_fused_bf16(w, xh, out, ldo, T, row0, row1);
    else if (bf16_dot) nw_matmul_gemm_bf16(w, xh, out, ldo, T, row0, row1, scratch);
#else
    (void)w; (void)xh; (void)out; (void)ldo; (void)T; (void)row0; (void)row1; (void)scratch;
#endif
}

void nw_matmul(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
               int64_t row0, int64_t row1, float *scratch) {
    if (fused && T <= FUSED_MAX_T) {
        fused(w, x, ldx, out, ldo, T, row0, row1);
        return;
    }
    if (gemm) {
        gemm(w, x, ldx, out, ldo, T, row0, row1, scratch);
        return;
    }
    const int64_t K = w->cols;
    for (int64_t n = row0; n < row1; n++) {
        dequantize_row(w, n, scratch);
        for (int64_t t = 0; t < T; t++) out[t * ldo + n] = dot(scratch, x + t * ldx, K);
    }
}
