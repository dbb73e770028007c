// FP8 E4M3 (the "FN" variant used by DeepSeek): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits,
// subnormals, no infinities; code 0x7F/0xFF is NaN; largest finite value 448.

public enum FP8E4M3 {
    public static let maxFinite: Float = 448

    /// The value of one FP8 E4M3 code.
    public static func decode(_ code: UInt8) -> Float {
        let sign: Float = code & 0x80 != 0 ? -1 : 1
        let exponent = Int(code >> 3) & 15
        let mantissa = Int(code & 7)
        if exponent == 15 && mantissa == 7 { return .nan }
        if exponent == 0 { return sign * Float(mantissa) * 0x1p-9 }
        return sign * Float(8 + mantissa) * Float(sign: .plus, exponent: exponent - 10, significand: 1)
    }

    /// Rounds `x` to the nearest E4M3 value (ties to even), saturating at ±448.
    public static func round(_ x: Float) -> Float {
        let a = Swift.min(abs(x), maxFinite)
        let step: Float
        if a < 0x1p-6 {
            step = 0x1p-9
        } else {
            step = Float(sign: .plus, exponent: a.exponent - 3, significand: 1)
        }
        let q = Swift.min((a / step).rounded(.toNearestOrEven) * step, maxFinite)
        return x < 0 ? -q : q
    }

    /// The code of a value that is exactly representable (used by checkpoint writers and tests).
    public static func encode(_ x: Float) -> UInt8? {
        let r = round(x)
        guard r == x || x.isNaN else { return nil }
        if x.isNaN { return 0x7F }
        for code in UInt8(0)...UInt8(0x7E) where decode(code) == abs(x) {
            return x.sign == .minus ? code | 0x80 : code
        }
        return nil
    }
}
