// Activation quantization of the reference (spec §3.12), as "fake quant": values are replaced by their
// round trip through the low-precision format, so downstream float32 math sees exactly what the
// reference's FP8/FP4 kernels see.
//
//   FP8 (block B along the row): s = 2^ceil(log2(max(amax, 1e-4) · fp32(1/448))), x ← E4M3(clamp(x/s)) · s
//   FP4 (block 32):              s = 2^ceil(log2(max(amax, 6·2^-126) · fp32(1/6))), x ← E2M1(clamp(x/s)) · s

import CKernels

/// 2^ceil(log2 t) for a positive normal float, computed like the reference: the exponent of t, plus one
/// if t has any mantissa bits.
@inlinable
public func powerOfTwoCeiling(_ t: Float) -> Float {
    let bits = t.bitPattern
    let exponent = Int((bits >> 23) & 0xFF) - 127 + ((bits & 0x7F_FFFF) != 0 ? 1 : 0)
    return Float(sign: .plus, exponent: exponent, significand: 1)
}

/// In-place FP8 E4M3 fake-quantization of `x[0..<count]` in blocks of `block` values (the C kernel,
/// bit-identical to ``fakeQuantizeFP8Reference`` for finite values).
public func fakeQuantizeFP8(_ x: UnsafeMutablePointer<Float>, count: Int, block: Int) {
    nw_fake_quantize_fp8(x, Int64(count), Int64(block))
}

/// Scalar reference of ``fakeQuantizeFP8``, written like the spec.
public func fakeQuantizeFP8Reference(_ x: UnsafeMutablePointer<Float>, count: Int, block: Int) {
    var start = 0
    while start < count {
        let end = min(start + block, count)
        let s = fp8BlockScale(x, start..<end)
        for i in start..<end { x[i] = fp8Round(x[i], scale: s) * s }
        start = end
    }
}

/// In-place FP4 E2M1 fake-quantization of `x[0..<count]` in blocks of 32 values.
public func fakeQuantizeFP4(_ x: UnsafeMutablePointer<Float>, count: Int, block: Int = 32) {
    var start = 0
    while start < count {
        let end = min(start + block, count)
        let s = fp4BlockScale(x, start..<end)
        for i in start..<end { x[i] = fp4Round(x[i], scale: s) * s }
        start = end
    }
}

/// Each row of x FP8-quantized in blocks of `block` (spec §3.12 `act_quant`: the input of every FP8/FP4
/// linear), rows in parallel.
public func quantizedRowsFP8(_ x: Matrix, block: Int = 128) -> Matrix {
    var q = x
    let C = x.cols
    q.storage.withUnsafeMutableBufferPointer { b in
        let p = b.baseAddress!
        parallelRows(x.rows, cols: C) { rows in
            for t in rows { fakeQuantizeFP8(p + t * C, count: C, block: block) }
        }
    }
    return q
}

// The block rules shared by the fake quantizers and the KV cache encoders (KVKernels.swift).

/// Largest |x[i]| over `range` (a NaN is passed over, as by `max`).
func absMax(_ x: UnsafePointer<Float>, _ range: Range<Int>) -> Float {
    var amax: Float = 0
    for i in range { amax = max(amax, abs(x[i])) }
    return amax
}

/// FP8 block scale: 2^ceil(log2(max(amax, 1e-4) · fp32(1/448))).
func fp8BlockScale(_ x: UnsafePointer<Float>, _ range: Range<Int>) -> Float {
    powerOfTwoCeiling(max(absMax(x, range), 1e-4) * (1 / Float(448)))
}

/// FP4 block scale: 2^ceil(log2(max(amax, 6·2^-126) · fp32(1/6))).
func fp4BlockScale(_ x: UnsafePointer<Float>, _ range: Range<Int>) -> Float {
    powerOfTwoCeiling(max(absMax(x, range), 6 * 0x1p-126) * (1 / Float(6)))
}

/// v / s clamped to ±448 and rounded to E4M3 (the value before the scale is put back).
func fp8Round(_ v: Float, scale s: Float) -> Float { FP8E4M3.round(min(max(v / s, -448), 448)) }

/// v / s clamped to ±6 and rounded to E2M1.
func fp4Round(_ v: Float, scale s: Float) -> Float { FP4E2M1.round(min(max(v / s, -6), 6)) }
