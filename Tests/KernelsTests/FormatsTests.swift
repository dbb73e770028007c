// The low-precision formats, exhaustively: every FP8 E4M3 code (256), every FP4 E2M1 code (16), every
// E8M0 scale (256), in both the Swift decoders and the C kernel's decoder.

import Foundation
import Kernels
import Testing

@Suite("Formats")
struct FormatsTests {
    /// E4M3FN by its definition: bias 7, 3 mantissa bits, subnormals below 2^-6, S.1111.111 is NaN.
    static func e4m3(_ code: UInt8) -> Double {
        let s = code >> 7, e = Int((code >> 3) & 15), m = Double(code & 7)
        if e == 15 && m == 7 { return .nan }
        let v = e == 0 ? m / 8 * pow(2, -6) : (1 + m / 8) * pow(2, Double(e - 7))
        return s == 1 ? -v : v
    }

    @Test("FP8 E4M3 decodes all 256 codes by definition, in Swift and in C")
    func fp8AllCodes() {
        let codes = (0...255).map { UInt8($0) }
        let scale: [UInt8] = [127, 127]  // 2^0 for both 128-column blocks
        for isa in ISA.available {
            let fromC = codes.withUnsafeBytes { data in
                scale.withUnsafeBufferPointer { s in
                    WeightMatrix(rows: 1, cols: 256, format: .fp8, data: data.baseAddress!, scale: s.baseAddress!)
                        .dequantizedRows(0..<1, isa: isa)
                }
            }
            for code in codes {
                let expected = Self.e4m3(code)
                if expected.isNaN {
                    #expect(FP8E4M3.decode(code).isNaN && fromC[Int(code)].isNaN, "\(isa) code \(code)")
                } else {
                    #expect(Double(FP8E4M3.decode(code)) == expected, "code \(code)")
                    #expect(Double(fromC[Int(code)]) == expected, "\(isa) decoder, code \(code)")
                }
            }
        }
        #expect(FP8E4M3.decode(0x7E) == 448)
        #expect(FP8E4M3.decode(0x01) == 0x1p-9)
    }

    @Test("FP8 rounding is exact on codes, ties to even, saturating at 448")
    func fp8Rounding() {
        let finite = (0...0x7E).map { FP8E4M3.decode(UInt8($0)) }
        for v in finite {
            #expect(FP8E4M3.round(v) == v)
            #expect(FP8E4M3.round(-v) == -v)
        }
        for (a, b) in zip(finite, finite.dropFirst()) {
            // The midpoint goes to the neighbour whose code is even.
            let mid = (a + b) / 2
            let even = FP8E4M3.encode(a)! % 2 == 0 ? a : b
            #expect(FP8E4M3.round(mid) == even, "midpoint of \(a) and \(b)")
            #expect(FP8E4M3.round(mid.nextUp) == b)
            #expect(FP8E4M3.round(mid.nextDown) == a)
        }
        #expect(FP8E4M3.round(1000) == 448)
        #expect(FP8E4M3.round(-460) == -448)
    }

    @Test("FP4 E2M1 decodes all 16 codes, in Swift and in C, and rounds ties to even")
    func fp4AllCodes() {
        let expected: [Float] = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6]
        // 32 columns: code c at even column 2c (low nibble), code 15 − c at the odd column (high nibble).
        let packed: [UInt8] = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let scale: [UInt8] = [128]  // 2^1
        for c in 0..<16 {
            #expect(FP4E2M1.decode(UInt8(c)) == expected[c])
            #expect(FP4E2M1.decode(UInt8(c)).sign == expected[c].sign)
        }
        for isa in ISA.available {
            let fromC = packed.withUnsafeBytes { data in
                scale.withUnsafeBufferPointer { s in
                    WeightMatrix(rows: 1, cols: 32, format: .fp4, data: data.baseAddress!, scale: s.baseAddress!)
                        .dequantizedRows(0..<1, isa: isa)
                }
            }
            for c in 0..<16 {
                #expect(fromC[2 * c] == 2 * expected[c], "\(isa)")
                #expect(fromC[2 * c + 1] == 2 * expected[15 - c], "\(isa)")
            }
        }
        #expect(FP4E2M1.round(0.25) == 0)
        #expect(FP4E2M1.round(0.75) == 1)
        #expect(FP4E2M1.round(1.25) == 1)
        #expect(FP4E2M1.round(1.75) == 2)
        #expect(FP4E2M1.round(2.5) == 2)
        #expect(FP4E2M1.round(3.5) == 4)
        #expect(FP4E2M1.round(5) == 4)
        #expect(FP4E2M1.round(5.01) == 6)
        #expect(FP4E2M1.round(-100) == -6)
    }

    @Test("E8M0 decodes all 256 scales to 2^(e-127), 255 is NaN")
    func e8m0AllCodes() {
        for e in 0..<255 { #expect(Double(E8M0.decode(UInt8(e))) == pow(2, Double(e - 127))) }
        #expect(E8M0.decode(255).isNaN)
    }

    @Test("BF16 is the upper half of float32, rounding to nearest even")
    func bf16() {
        for bits in stride(from: 0, to: 0x7F80, by: 7) {
            let v = BFloat16.decode(UInt16(bits))
            #expect(BFloat16.encode(v) == UInt16(bits))
        }
        #expect(BFloat16.encode(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie → even
        #expect(BFloat16.encode(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(BFloat16.decode(0x3F80) == 1)
    }
}
