// CKernels: the hot loops of Narwhal in C, where Swift cannot express the bit tricks (FP8/FP4 decoding)
// efficiently. Every function here has a Swift scalar reference in the Kernels module and is tested
// against it. Entry points are plain, non-generic and take raw pointers.
//
// Layout rules (see Sources/Kernels/README.md): matrices are row-major [rows, cols] = [N, K] (out, in);
// activations are row-major [T, K] with an explicit row stride. Weight pointers may be unaligned (they
// point straight into a memory-mapped safetensors file), so every multi-byte load goes through memcpy.
#ifndef NARWHAL_CKERNELS_H
#define NARWHAL_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Storage formats of a weight matrix, as in the official checkpoints.
typedef enum {
    NW_FORMAT_F32 = 0,   ///< float32 [N, K]
    NW_FORMAT_BF16 = 1,  ///< bfloat16 [N, K]
    NW_FORMAT_FP8 = 2,   ///< F8_E4M3 [N, K] + E8M0 scales [ceil(N/128), ceil(K/128)]
    NW_FORMAT_FP4 = 3,   ///< packed E2M1 [N, K/2] (low nibble = even column) + E8M0 scales [N, K/32]
} nw_format;

/// A weight matrix W [rows, cols] in one of the storage formats.
typedef struct {
    const void *data;
    const uint8_t *scale;  ///< E8M0 block scales (FP8, FP4); NULL otherwise
    int64_t rows;
    int64_t cols;
    int32_t format;        ///< nw_format
} nw_matrix;

/// out[t, n] = sum_k W[n, k] * x[t, k] for t in [0, T), n in [row0, row1).
/// x: (T, K) with row stride ldx; out: (T, N) with row stride ldo. `scratch`: nw_matmul_scratch_bytes(K)
/// bytes (decoded weight rows, reused for many rows of x). Where nw_matmul_permutes(w), x must be the output
/// of nw_permute_activations (ldx = K).
/// Products and sums are float32: FP8/FP4/BF16 values and E8M0 scales are exact in float32.
void nw_matmul(const nw_matrix *w, const float *x, int64_t ldx, float *out, int64_t ldo, int64_t T,
               int64_t row0, int64_t row1, float *scratch);

/// Whether nw_matmul takes the activations for W permuted into the order in which its kernels decode the
/// weights: FP4 weights under AVX2.
int nw_matmul_permutes(const nw_matrix *w);

/// x (T, K), row stride ldx, permuted for nw_matmul with W (where nw_matmul_permutes(w)): T rows of K floats.
/// Done once per product, not per row chunk.
void nw_permute_activations(const nw_matrix *w, const float *x, int64_t ldx, int64_t T, float *out);

/// Values per BF16 activation row: K rounded up to whole 32-value chunks.
static inline int64_t nw_bf16_row_length(int64_t K) { return (K + 31) / 32 * 32; }

/// Scratch bytes nw_matmul and nw_matmul_bf16 need for a matrix of K columns (64-byte aligned).
int64_t nw_matmul_scratch_bytes(int64_t K);

/// Whether nw_matmul_bf16 applies to W on this CPU: FP8 or FP4 weights and a BF16 dot-product instruction
/// (AVX-512 BF16; NARWHAL_BF16=0 turns it off).
int nw_bf16_dot_applies(const nw_matrix *w);

/// Whether the BF16 dot-product kernels are in use (AVX-512 BF16 CPU, not turned off).
int nw_bf16_dot(void);

/// x (T, K), row stride ldx, as BF16 bits, rows nw_bf16_row_length(K) apart and zero-padded. The values must
/// be exact in BF16 — FP8 E4M3 values times power-of-two scales, as quantized activations are: the low 16
/// bits are dropped.
void nw_activations_bf16(const float *x, int64_t ldx, int64_t T, int64_t K, uint16_t *out);

/// nw_matmul for FP8/FP4 weights and FP8-quantized activations xh (from nw_activations_bf16) by BF16 dot
/// products: the same products, exact in float32, summed in this path's own fixed order (bit-identical for
/// every T). Only where nw_bf16_dot_applies(w).
void nw_matmul_bf16(const nw_matrix *w, const uint16_t *xh, float *out, int64_t ldo, int64_t T, int64_t row0,
                    int64_t row1, void *scratch);

/// Dequantizes rows [row0, row1) of W into out (row1 - row0, K), float32.
void nw_dequantize_rows(const nw_matrix *w, int64_t row0, int64_t row1, float *out);

/// Float32 dot product of length n.
float nw_dot(const float *a, const float *b, int64_t n);

/// out[g] = nw_dot(a[g], b, n) for g < 3, bit for bit, with b read once where the ISA allows.
void nw_dot3(const float *const a[3], const float *b, int64_t n, float out[3]);

/// The instruction set chosen at load time: "avx512", "avx2" or "generic" (NARWHAL_ISA overrides it).
const char *nw_isa(void);

/// Whether this CPU can run the implementation `isa` ("generic", "avx2", "avx512").
int nw_isa_available(const char *isa);

/// The same operations with an explicitly chosen implementation (tests compare every one with the
/// Swift references). `isa` must be available.
void nw_dequantize_rows_isa(const char *isa, const nw_matrix *w, int64_t row0, int64_t row1, float *out);
float nw_dot_isa(const char *isa, const float *a, const float *b, int64_t n);

/// A spin-wait hint to the CPU (x86 `pause`, ARM `yield`).
static inline void nw_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Machine probes (benchmarks): a streaming read of n floats (returns their sum so it is not optimised
/// away); `iterations` rounds of independent FP32 FMAs / BF16 dot products, returning the flops done
/// (0 when the CPU has no BF16 dot instruction).
float nw_probe_read(const float *p, int64_t n);
double nw_probe_fma(int64_t iterations, float *sink);
double nw_probe_bf16(int64_t iterations, float *sink);

/// In-place FP8 E4M3 fake-quantization of x[0, count) in blocks of `block` values (spec §3.12 act_quant),
/// bit-identical to the Swift reference fakeQuantizeFP8Reference for finite values.
void nw_fake_quantize_fp8(float *x, int64_t count, int64_t block);

/// Sink attention of H queries (D each, rows ldq apart) over the same n keys, which are also the values: for
/// each head h, out_h = Σ_i p_i · k_i (rows ldo apart) with p = softmax([scale · q_h·k_i]_i, sinks[h]) without
/// the sink's entry. logits: 3·n floats of scratch. Each head's result does not depend on H.
void nw_sink_attention(float *out, int64_t ldo, const float *queries, int64_t ldq, int64_t H, const float *const *keys,
                       int64_t n, int64_t D, float scale, const float *sinks, float *logits);

/// Lightning-indexer scores of n keys k (n, D) against H queries q (H, D) with head weights w (H):
/// out[j] = Σ_h w[h] · max(0, q_h · k_j), heads summed in order. scratch: 4·H floats.
void nw_indexer_scores(const float *q, const float *w, int64_t H, const float *k, int64_t n, int64_t D, float *out,
                       float *scratch);

#ifdef __cplusplus
}
#endif

#endif
