// The instruction sets the C kernels are built for. The best available one is chosen at load time;
// tests run every available one against the Swift references.

import CKernels

public enum ISA: String, CaseIterable, Sendable {
    case generic
    case avx2
    case avx512

    /// The implementation in use (NARWHAL_ISA=generic|avx2|avx512 overrides the automatic choice).
    public static var current: ISA { ISA(rawValue: String(cString: nw_isa())) ?? .generic }

    public var isAvailable: Bool { nw_isa_available(rawValue) != 0 }

    public static var available: [ISA] { allCases.filter(\.isAvailable) }

    /// Whether FP8/FP4 products with quantized activations use BF16 dot products (AVX-512 BF16 CPUs;
    /// NARWHAL_BF16=0 turns them off).
    public static var bf16Dot: Bool { nw_bf16_dot() != 0 }

    /// The kernels in use, for reports: "avx2", "avx512", "avx512+bf16", "generic".
    public static var summary: String { current.rawValue + (bf16Dot ? "+bf16" : "") }
}

extension WeightMatrix {
    /// Rows decoded to float32 by a specific implementation (tests).
    public func dequantizedRows(_ range: Range<Int>, isa: ISA) -> [Float] {
        precondition(isa.isAvailable, "\(isa) is not available on this CPU")
        var out = [Float](repeating: 0, count: range.count * cols)
        var m = c
        out.withUnsafeMutableBufferPointer { o in
            nw_dequantize_rows_isa(isa.rawValue, &m, Int64(range.lowerBound), Int64(range.upperBound), o.baseAddress!)
        }
        return out
    }
}

/// Dot product by a specific implementation (tests).
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int, isa: ISA) -> Float {
    precondition(isa.isAvailable, "\(isa) is not available on this CPU")
    return nw_dot_isa(isa.rawValue, a, b, Int64(n))
}
