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
        var amax: Float = 0
        for i in start..<end { amax = max(amax, abs(x[i])) }
        let s = powerOfTwoCeiling(max(amax, 1e-4) * (1 / Float(448)))
        for i in start..<end {
            let q = FP8E4M3.round(min(max(x[i] / s, -448), 448))
            x[i] = q * s
        }
        start = end
    }
}

/// In-place FP4 E2M1 fake-quantization of `x[0..<count]` in blocks of 32 values.
public func fakeQuantizeFP4(_ x: UnsafeMutablePointer<Float>, count: Int, block: Int = 32) {
    var start = 0
    while start < count {
        let end = min(start + block, count)
        var amax: Float = 0
        for i in start..<end { amax = max(amax, abs(x[i])) }
        let s = powerOfTwoCeiling(max(amax, 6 * 0x1p-126) * (1 / Float(6)))
        for i in start..<end {
            x[i] = FP4E2M1.round(min(max(x[i] / s, -6), 6)) * s
        }
        start = end
    }
}
