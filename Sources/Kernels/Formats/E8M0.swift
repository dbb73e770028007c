// E8M0 (UE8M0): an unsigned power-of-two scale, value 2^(e − 127); 255 is NaN.

public enum E8M0 {
    public static func decode(_ e: UInt8) -> Float {
        e == 255 ? .nan : Float(sign: .plus, exponent: Int(e) - 127, significand: 1)
    }

    /// The code of a power of two 2^k with −127 ≤ k ≤ 127.
    public static func encode(exponent k: Int) -> UInt8 {
        precondition((-127...127).contains(k), "E8M0 exponent out of range")
        return UInt8(k + 127)
    }
}
