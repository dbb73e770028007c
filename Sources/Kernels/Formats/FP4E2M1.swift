// FP4 E2M1 (MXFP4 element): 1 sign bit, 2 exponent bits, 1 mantissa bit. The 8 magnitudes are
// {0, 0.5, 1, 1.5, 2, 3, 4, 6}. Checkpoints pack two codes per byte: low nibble = even column.

public enum FP4E2M1 {
    public static let maxFinite: Float = 6
    public static let magnitudes: [Float] = [0, 0.5, 1, 1.5, 2, 3, 4, 6]

    /// The value of one 4-bit code (bit 3 = sign).
    public static func decode(_ code: UInt8) -> Float {
        let m = magnitudes[Int(code & 7)]
        return code & 8 != 0 ? -m : m
    }

    /// Rounds `x` to the nearest E2M1 value (ties to even mantissa), saturating at ±6.
    public static func round(_ x: Float) -> Float {
        let a = Swift.min(abs(x), maxFinite)
        let step: Float = a < 2 ? 0.5 : (a < 4 ? 1 : 2)
        let q = Swift.min((a / step).rounded(.toNearestOrEven) * step, maxFinite)
        return x < 0 ? -q : q
    }

    /// The code of an exactly representable value.
    public static func encode(_ x: Float) -> UInt8? {
        guard let i = magnitudes.firstIndex(of: abs(x)) else { return nil }
        return UInt8(i) | (x.sign == .minus ? 8 : 0)
    }
}
