// Internal: the per-ISA implementations of the CKernels entry points and the run-time dispatch table.
#ifndef NARWHAL_CKERNELS_DISPATCH_H
#define NARWHAL_CKERNELS_DISPATCH_H

#include "CKernels.h"

#include <string.h>

typedef void (*nw_dequantize_row_fn)(const nw_matrix *w, int64_t n, float *row);
typedef float (*nw_dot_fn)(const float *a, const float *b, int64_t n);

void nw_dequantize_row_generic(const nw_matrix *w, int64_t n, float *row);
float nw_dot_generic(const float *a, const float *b, int64_t n);

#if defined(__x86_64__)
void nw_dequantize_row_avx512(const nw_matrix *w, int64_t n, float *row);
float nw_dot_avx512(const float *a, const float *b, int64_t n);
void nw_dequantize_row_avx2(const nw_matrix *w, int64_t n, float *row);
float nw_dot_avx2(const float *a, const float *b, int64_t n);
void nw_dot3_avx2(const float *const a[3], const float *b, int64_t n, float out[3]);
void nw_matmul_fused_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                          int64_t n0, int64_t n1);
void nw_matmul_gemm_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                         int64_t n0, int64_t n1, float *panel);
void nw_permute_fp4_avx2(const float *x, int64_t ldx, int64_t T, int64_t K, float *xp);
void nw_matmul_gemm_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                           int64_t n0, int64_t n1, float *panel);
void nw_matmul_fused_bf16(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int64_t T, int64_t n0,
                          int64_t n1);
void nw_matmul_gemm_bf16(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int64_t T, int64_t n0,
                         int64_t n1, void *scratch);
void nw_matmul_fused_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                            int64_t n0, int64_t n1);
#endif

/// Whether the ISA chosen at load time (MatMul.c; NARWHAL_ISA may force "generic") has AVX2 and FMA — true
/// for "avx2" and "avx512". Kernels outside the matrix dispatch table (quantization, attention) follow it.
int nw_isa_avx2(void);

extern const float nw_fp4_e2m1_table[16];

/// E8M0 scale byte e → 2^(e−127), built from its bits (a libm call per block of 32 would cost more than the
/// block's arithmetic); e = 0 is the subnormal 2^-127, 255 is NaN.
static inline float e8m0(uint8_t e) {
    uint32_t bits = e == 0 ? 0x00400000u : e == 255 ? 0x7FC00000u : (uint32_t)e << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// The bfloat16 at p (possibly unaligned) as a float32.
static inline float bf16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#endif
