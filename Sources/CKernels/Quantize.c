// FP8 E4M3 activation fake-quantization (spec §3.12 act_quant), the rounding in front of every FP8/FP4
// linear: per block, s = 2^ceil(log2(max(amax, 1e-4) / 448)), x ← E4M3(clamp(x / s, ±448)) · s.
// Bit-identical to the Swift reference `fakeQuantizeFP8Reference` (tested); AVX2 where the chosen ISA has it.
//
// Rounding to E4M3 without a table: dividing by the power of two s is exact, so only the rounding of x / s
// to 3 mantissa bits matters. Normal E4M3 values (≥ 2^-6) round in the float32 bits — add 0x7FFFF plus the
// lowest kept bit, then clear the 20 dropped bits (ties to even; a carry moves into the exponent, as it
// should). Subnormal ones are multiples of 2^-9: adding and subtracting 2^14, whose float32 spacing is 2^-9,
// rounds to them, ties to even.
#include "Dispatch.h"

#include <string.h>

static inline uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float magnitude(float v) { return from_bits(bits_of(v) & 0x7FFFFFFFu); }

/// The block scale: 2^ceil(log2(max(amax, 1e-4) · fp32(1/448))), from the bits like powerOfTwoCeiling.
static inline float block_scale(float amax) {
    const float t = (1e-4f >= amax ? 1e-4f : amax) * (1.0f / 448.0f);
    const uint32_t b = bits_of(t);
    const int e = (int)((b >> 23) & 0xFF) - 127 + ((b & 0x7FFFFF) != 0);
    return from_bits((uint32_t)(e + 127) << 23);
}

/// One value already divided by its scale: clamped to ±448, rounded to E4M3, sign restored as the Swift
/// reference does (`v < 0 ? -q : q`).
static inline float e4m3_round(float v) {
    v = -448.0f >= v ? -448.0f : v;
    v = 448.0f < v ? 448.0f : v;
    const float a = magnitude(v);
    float q;
    if (a < 0x1p-6f) {
        q = (a + 0x1p14f) - 0x1p14f;
    } else {
        const uint32_t b = bits_of(a);
        q = from_bits((b + 0x7FFFFu + ((b >> 20) & 1)) & 0xFFF00000u);
    }
    q = 448.0f < q ? 448.0f : q;
    return v < 0 ? -q : q;
}

static void quantize_block_scalar(float *x, int64_t n) {
    float amax = 0;
    for (int64_t i = 0; i < n; i++) amax = magnitude(x[i]) >= amax ? magnitude(x[i]) : amax;
    const float s = block_scale(amax), inv = 1.0f / s;  // exact: s is a power of two in [2^-22, 2^120]
    for (int64_t i = 0; i < n; i++) x[i] = e4m3_round(x[i] * inv) * s;
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static void quantize_block_avx2(float *x, int64_t n) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 vmax = _mm256_setzero_ps();
    int64_t i = 0;
    // max(a, amax): a NaN element leaves amax alone, as in the reference.
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), vmax);
    float lanes[8], amax = 0;
    _mm256_storeu_ps(lanes, vmax);
    for (int j = 0; j < 8; j++) amax = lanes[j] >= amax ? lanes[j] : amax;
    for (int64_t j = i; j < n; j++) amax = magnitude(x[j]) >= amax ? magnitude(x[j]) : amax;
    const float s = block_scale(amax);
    const __m256 vs = _mm256_set1_ps(s), vinv = _mm256_set1_ps(1.0f / s);
    const __m256 lo = _mm256_set1_ps(-448.0f), hi = _mm256_set1_ps(448.0f), magic = _mm256_set1_ps(0x1p14f);
    const __m256 min_normal = _mm256_set1_ps(0x1p-6f), sign = _mm256_set1_ps(-0.0f);
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), lo), hi);
        const __m256 a = _mm256_and_ps(v, abs_mask);
        const __m256 sub = _mm256_sub_ps(_mm256_add_ps(a, magic), magic);
        const __m256i b = _mm256_castps_si256(a);
        const __m256i r = _mm256_and_si256(
            _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7FFFF)), _mm256_and_si256(_mm256_srli_epi32(b, 20), _mm256_set1_epi32(1))),
            _mm256_set1_epi32((int)0xFFF00000u));
        __m256 q = _mm256_blendv_ps(_mm256_castsi256_ps(r), sub, _mm256_cmp_ps(a, min_normal, _CMP_LT_OQ));
        q = _mm256_min_ps(q, hi);
        q = _mm256_or_ps(q, _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ), sign));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(q, vs));
    }
    for (; i < n; i++) x[i] = e4m3_round(x[i] * (1.0f / s)) * s;
}
#endif

void nw_fake_quantize_fp8(float *x, int64_t count, int64_t block) {
#if defined(__x86_64__)
    const int avx2 = nw_isa_avx2();
#endif
    for (int64_t start = 0; start < count; start += block) {
        const int64_t n = count - start < block ? count - start : block;
#if defined(__x86_64__)
        if (avx2) {
            quantize_block_avx2(x + start, n);
            continue;
        }
#endif
        quantize_block_scalar(x + start, n);
    }
}
