// Stand-in for <immintrin.h> when checking the x86 kernels under emulation: the intrinsics come from
// SIMDe (portable C implementations); the few it lacks are written out here, element by element, with
// the masked loads reading only the lanes their mask selects, like the hardware. Used by
// AVX512EmulationTests (gcc) and scripts/test-avx512-emulated.sh (the whole package, clang).
#pragma once
// clang's own SSE2 header, which SIMDe includes, defines __m128bh; SIMDe's alias would redefine it.
#include <emmintrin.h>
#define __m128bh simde_m128bh_alias
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/avx2.h>
#include <simde/x86/fma.h>
#include <math.h>
#include <stdint.h>

typedef simde__mmask16 __mmask16;
typedef simde__mmask8 __mmask8;

static inline __m512i _mm512_cvtepu8_epi32(__m128i a) { uint8_t b[16]; _mm_storeu_si128((__m128i *)b, a); int32_t r[16]; for (int i = 0; i < 16; i++) r[i] = b[i]; return _mm512_loadu_si512(r); }
static inline __m512i _mm512_cvtepi8_epi32(__m128i a) { int8_t b[16]; _mm_storeu_si128((__m128i *)b, a); int32_t r[16]; for (int i = 0; i < 16; i++) r[i] = b[i]; return _mm512_loadu_si512(r); }
static inline __m512i _mm512_cvtepu16_epi32(__m256i a) { uint16_t b[16]; _mm256_storeu_si256((__m256i *)b, a); int32_t r[16]; for (int i = 0; i < 16; i++) r[i] = b[i]; return _mm512_loadu_si512(r); }
static inline void _mm512_mask_storeu_ps(void *p, __mmask16 m, __m512 v) { float b[16]; _mm512_storeu_ps(b, v); for (int i = 0; i < 16; i++) if (m >> i & 1) ((float *)p)[i] = b[i]; }
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 m, const void *p) { float b[16]; for (int i = 0; i < 16; i++) b[i] = (m >> i & 1) ? ((const float *)p)[i] : 0.0f; return _mm512_loadu_ps(b); }
static inline float _mm512_reduce_add_ps(__m512 v) { float b[16]; _mm512_storeu_ps(b, v); float s = 0; for (int i = 0; i < 16; i++) s += b[i]; return s; }
static inline __m128i _mm_maskz_loadu_epi8(__mmask16 m, const void *p) { uint8_t b[16]; for (int i = 0; i < 16; i++) b[i] = (m >> i & 1) ? ((const uint8_t *)p)[i] : 0; return _mm_loadu_si128((const __m128i *)b); }
static inline __m512i _mm512_maskz_loadu_epi8(uint64_t m, const void *p) { uint8_t b[64]; for (int i = 0; i < 64; i++) b[i] = (m >> i & 1) ? ((const uint8_t *)p)[i] : 0; return _mm512_loadu_si512(b); }
static inline __m256i _mm256_maskz_loadu_epi16(__mmask16 m, const void *p) { uint16_t b[16]; for (int i = 0; i < 16; i++) b[i] = (m >> i & 1) ? ((const uint16_t *)p)[i] : 0; return _mm256_loadu_si256((const __m256i *)b); }

// F16C (SIMDe has no half-precision conversions): IEEE binary16 → float32, exactly, subnormals and NaN included.
static inline float half_to_float(uint16_t h) {
    const int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? (float)m * 0x1p-24f : e == 31 ? (m ? __builtin_nanf("") : __builtin_inff()) : ldexpf(1.0f + (float)m / 1024.0f, e - 15);
    return sign ? -v : v;
}
static inline __m256 _mm256_cvtph_ps(__m128i a) { uint16_t b[8]; _mm_storeu_si128((__m128i *)b, a); float r[8]; for (int i = 0; i < 8; i++) r[i] = half_to_float(b[i]); return _mm256_loadu_ps(r); }
static inline __m512 _mm512_cvtph_ps(__m256i a) { uint16_t b[16]; _mm256_storeu_si256((__m256i *)b, a); float r[16]; for (int i = 0; i < 16; i++) r[i] = half_to_float(b[i]); return _mm512_loadu_ps(r); }

// Used by the BF16 kernels (X86BF16.c).
typedef simde__mmask32 __mmask32;
static inline __m512i _mm512_cvtepu8_epi16(__m256i a) { uint8_t b[32]; _mm256_storeu_si256((__m256i *)b, a); uint16_t r[32]; for (int i = 0; i < 32; i++) r[i] = b[i]; return _mm512_loadu_si512(r); }
static inline __m256i _mm256_maskz_loadu_epi8(__mmask32 m, const void *p) { uint8_t b[32]; for (int i = 0; i < 32; i++) b[i] = (m >> i & 1) ? ((const uint8_t *)p)[i] : 0; return _mm256_loadu_si256((const __m256i *)b); }

// The comparison predicates Quantize.c and X86.c use, which SIMDe names only with its prefix under clang.
#ifndef _CMP_LT_OQ
#define _CMP_LT_OQ SIMDE_CMP_LT_OQ
#endif
#ifndef _CMP_EQ_OQ
#define _CMP_EQ_OQ SIMDE_CMP_EQ_OQ
#endif
#ifndef _CMP_NEQ_OQ
#define _CMP_NEQ_OQ SIMDE_CMP_NEQ_OQ
#endif
