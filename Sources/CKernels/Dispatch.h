// Internal: the per-ISA implementations of the CKernels entry points and the run-time dispatch table.
#ifndef NARWHAL_CKERNELS_DISPATCH_H
#define NARWHAL_CKERNELS_DISPATCH_H

#include "CKernels.h"

typedef void (*nw_dequantize_row_fn)(const nw_matrix *w, int64_t n, float *row);
typedef float (*nw_dot_fn)(const float *a, const float *b, int64_t n);

void nw_dequantize_row_generic(const nw_matrix *w, int64_t n, float *row);
float nw_dot_generic(const float *a, const float *b, int64_t n);

#if defined(__x86_64__)
void nw_dequantize_row_avx512(const nw_matrix *w, int64_t n, float *row);
float nw_dot_avx512(const float *a, const float *b, int64_t n);
void nw_dequantize_row_avx2(const nw_matrix *w, int64_t n, float *row);
float nw_dot_avx2(const float *a, const float *b, int64_t n);
void nw_matmul_fused_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                          int64_t n0, int64_t n1);
void nw_matmul_gemm_avx2(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                         int64_t n0, int64_t n1, float *panel);
void nw_matmul_gemm_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                           int64_t n0, int64_t n1, float *panel);
void nw_matmul_fused_avx512(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
                            int64_t n0, int64_t n1);
#endif

extern const float nw_fp4_e2m1_table[16];

#endif
