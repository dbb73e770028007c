// Portable C implementations: the fallback on CPUs without AVX2/AVX-512 (and on ARM until NEON kernels
// exist). Written so the compiler can keep the dot product in vector registers without fast-math:
// eight independent accumulators.
#include "Dispatch.h"

#include <math.h>
#include <string.h>

// E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa bits; exponent 15 with mantissa 7 is NaN; no infinities.
static float fp8_e4m3_table[256];

const float nw_fp4_e2m1_table[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// Filled once at load time, before any thread can call in.
__attribute__((constructor)) static void init_tables(void) {
    for (int b = 0; b < 256; b++) {
        int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
        float v;
        if (e == 15 && m == 7) v = NAN;
        else if (e == 0) v = ldexpf((float)m, -9);  // subnormal: m/8 * 2^-6
        else v = ldexpf((float)(8 + m), e - 10);     // (1 + m/8) * 2^(e-7)
        fp8_e4m3_table[b] = s ? -v : v;
    }
}

void nw_dequantize_row_generic(const nw_matrix *w, int64_t n, float *row) {
    const int64_t K = w->cols;
    switch (w->format) {
    case NW_FORMAT_F32:
        memcpy(row, (const char *)w->data + n * K * 4, (size_t)K * 4);
        break;
    case NW_FORMAT_BF16: {
        const uint8_t *src = (const uint8_t *)w->data + n * K * 2;
        for (int64_t k = 0; k < K; k++) row[k] = bf16_at(src + 2 * k);
        break;
    }
    case NW_FORMAT_FP8: {
        const uint8_t *src = (const uint8_t *)w->data + n * K;
        const int64_t kb = (K + 127) / 128;
        const uint8_t *srow = w->scale + (n / 128) * kb;
        for (int64_t b = 0; b < kb; b++) {
            const float s = e8m0(srow[b]);
            const int64_t k1 = (b + 1) * 128 < K ? (b + 1) * 128 : K;
            for (int64_t k = b * 128; k < k1; k++) row[k] = fp8_e4m3_table[src[k]] * s;
        }
        break;
    }
    case NW_FORMAT_FP4: {
        const uint8_t *src = (const uint8_t *)w->data + n * (K / 2);
        const uint8_t *srow = w->scale + n * (K / 32);
        for (int64_t b = 0; b < K / 32; b++) {
            const float s = e8m0(srow[b]);
            for (int64_t k = b * 32; k < b * 32 + 32; k += 2) {
                const uint8_t byte = src[k / 2];
                row[k] = nw_fp4_e2m1_table[byte & 15] * s;
                row[k + 1] = nw_fp4_e2m1_table[byte >> 4] * s;
            }
        }
        break;
    }
    }
}

float nw_dot_generic(const float *a, const float *b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
    float tail = 0;
    for (; k < n; k++) tail += a[k] * b[k];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}
