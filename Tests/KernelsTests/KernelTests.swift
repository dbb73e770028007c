// Each kernel against its scalar reference (or the float64 NumPy reference of the model).

import Foundation
import Kernels
import Testing

/// Deterministic test data (SplitMix64).
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Owns the bytes behind a test WeightMatrix.
final class TestWeight {
    let data: UnsafeMutableRawPointer
    let scale: UnsafeMutablePointer<UInt8>?
    let matrix: WeightMatrix

    init(rows N: Int, cols K: Int, format: WeightMatrix.Format, rng: inout TestRandom) {
        let bytes: Int
        var scaleCount = 0
        switch format {
        case .f32: bytes = N * K * 4
        case .bf16: bytes = N * K * 2
        case .fp8: bytes = N * K; scaleCount = ((N + 127) / 128) * ((K + 127) / 128)
        case .fp4: bytes = N * K / 2; scaleCount = N * K / 32
        }
        // Offset by one byte: kernels must cope with the unaligned pointers of mapped safetensors files.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes + 1, alignment: 64)
        data = raw + 1
        switch format {
        case .f32:
            for i in 0..<(N * K) { data.storeBytes(of: rng.float(), toByteOffset: 4 * i, as: Float.self) }
        case .bf16:
            for i in 0..<(N * K) { data.storeBytes(of: BFloat16.encode(rng.float()), toByteOffset: 2 * i, as: UInt16.self) }
        case .fp8:
            // Avoid the NaN codes 0x7F / 0xFF.
            for i in 0..<bytes { var b = rng.byte(); if b & 0x7F == 0x7F { b &-= 1 }; data.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
        case .fp4:
            for i in 0..<bytes { data.storeBytes(of: rng.byte(), toByteOffset: i, as: UInt8.self) }
        }
        if scaleCount > 0 {
            let s = UnsafeMutablePointer<UInt8>.allocate(capacity: scaleCount)
            for i in 0..<scaleCount { s[i] = 120 + rng.byte() % 12 }
            scale = s
        } else {
            scale = nil
        }
        matrix = WeightMatrix(rows: N, cols: K, format: format, data: UnsafeRawPointer(data), scale: scale.map { UnsafePointer($0) })
    }

    deinit {
        (data - 1).deallocate()
        scale?.deallocate()
    }
}

@Suite("Kernels")
struct KernelTests {
    // T ≤ 8 runs the fused decode kernels where the CPU has them, larger T the decode-once-into-scratch path.
    static let shapes: [(T: Int, N: Int, K: Int)] = [(1, 1, 32), (1, 7, 64), (3, 130, 96), (5, 33, 160), (2, 257, 288), (8, 9, 4128), (11, 20, 160)]

    @Test("matmul equals its scalar reference for every weight format",
          arguments: [WeightMatrix.Format.f32, .bf16, .fp8, .fp4])
    func matmulMatchesReference(format: WeightMatrix.Format) {
        var rng = TestRandom(state: 42)
        for (T, N, K) in Self.shapes {
            let w = TestWeight(rows: N, cols: K, format: format, rng: &rng)
            let x = Matrix(rows: T, cols: K, storage: (0..<(T * K)).map { _ in rng.float() })
            let fast = matmul(x, w.matrix)
            let reference = matmulReference(x, w.matrix)
            var scale: Float = 1e-30
            for v in reference.storage { scale = max(scale, abs(v)) }
            for i in fast.storage.indices {
                #expect(abs(fast.storage[i] - reference.storage[i]) <= 1e-5 * scale, "\(format) T=\(T) N=\(N) K=\(K) at \(i)")
            }
        }
    }

    /// FP8-quantized activations (as FP8/FP4 linears receive them) take the BF16 dot-product kernels on CPUs
    /// that have them: the same exact products, another summation order.
    @Test("matmul of FP8-quantized activations equals its scalar reference", arguments: [WeightMatrix.Format.fp8, .fp4])
    func quantizedActivationsMatchReference(format: WeightMatrix.Format) {
        var rng = TestRandom(state: 43)
        for (T, N, K) in Self.shapes + [(50, 13, 288), (9, 5, 1000)] where format != .fp4 || K % 32 == 0 {
            let w = TestWeight(rows: N, cols: K, format: format, rng: &rng)
            let x = Self.quantizedActivations(rows: T, cols: K, rng: &rng)
            let fast = matmul(x, w.matrix, activationsQuantized: true)
            let reference = matmulReference(x, w.matrix)
            var scale: Float = 1e-30
            for v in reference.storage { scale = max(scale, abs(v)) }
            for i in fast.storage.indices {
                #expect(abs(fast.storage[i] - reference.storage[i]) <= 1e-5 * scale, "\(format) T=\(T) N=\(N) K=\(K) at \(i)")
            }
        }
    }

    /// Random rows through the FP8 activation quantization (blocks of 128, power-of-two scales).
    static func quantizedActivations(rows T: Int, cols K: Int, rng: inout TestRandom) -> Matrix {
        quantizedRowsFP8(Matrix(rows: T, cols: K, storage: (0..<(T * K)).map { i in rng.float() * Float(1 << (i / 128 % 5)) }))
    }

    @Test("every available ISA decodes every format exactly like the Swift formats",
          arguments: [WeightMatrix.Format.f32, .bf16, .fp8, .fp4])
    func dequantizationPerISA(format: WeightMatrix.Format) {
        var rng = TestRandom(state: 99)
        for (N, K) in [(3, 32), (130, 96), (2, 288), (5, 1000)] where format != .fp4 || K % 32 == 0 {
            let w = TestWeight(rows: N, cols: K, format: format, rng: &rng)
            let expected = (0..<N).flatMap { n in (0..<K).map { w.matrix.element(n, $0) } }
            for isa in ISA.available {
                let rows = w.matrix.dequantizedRows(0..<N, isa: isa)
                #expect(rows == expected, "\(isa) \(format) N=\(N) K=\(K)")
            }
        }
    }

    @Test("every available ISA computes dot products of every length up to 200")
    func dotPerISA() {
        var rng = TestRandom(state: 5)
        for n in 0...200 {
            let a = (0..<n).map { _ in rng.float() }, b = (0..<n).map { _ in rng.float() }
            let expected = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            for isa in ISA.available { #expect(abs(Double(dot(a, b, count: n, isa: isa)) - expected) <= 1e-5, "\(isa) n=\(n)") }
        }
    }

    /// The product of a row must not depend on how many rows share the call: the decode kernels (small
    /// T) and the tiled GEMM (large T) follow one summation order, so prefix caching, chunked prefill
    /// and batching cannot change a model's output.
    @Test("each output row is bit-identical whatever the number of rows in the call",
          arguments: [WeightMatrix.Format.f32, .bf16, .fp8, .fp4])
    func rowsIndependentOfBatch(format: WeightMatrix.Format) {
        var rng = TestRandom(state: 17)
        for K in [64, 160, 4128] where format != .fp4 || K % 32 == 0 {
            let N = 37
            let w = TestWeight(rows: N, cols: K, format: format, rng: &rng)
            // Up to 100 rows: more than one block of the GEMMs (gemm_xb, GEMM_XB: 48 or 96 rows) and leftovers.
            let x = Matrix(rows: 100, cols: K, storage: (0..<(100 * K)).map { _ in rng.float() })
            let alone = (0..<100).map { matmul(x.rows($0..<($0 + 1)), w.matrix).storage }
            for T in [2, 3, 5, 9, 13, 30, 100] {
                let together = matmul(x.rows(0..<T), w.matrix)
                for t in 0..<T { #expect(together.row(t) == alone[t], "\(format) K=\(K) T=\(T) row \(t)") }
            }
            // FP8-quantized activations (the BF16 dot-product path where the CPU has one).
            guard format == .fp8 || format == .fp4 else { continue }
            let q = Self.quantizedActivations(rows: 100, cols: K, rng: &rng)
            let qAlone = (0..<100).map { matmul(q.rows($0..<($0 + 1)), w.matrix, activationsQuantized: true).storage }
            for T in [2, 3, 5, 9, 13, 60, 100] {
                let together = matmul(q.rows(0..<T), w.matrix, activationsQuantized: true)
                for t in 0..<T { #expect(together.row(t) == qAlone[t], "quantized \(format) K=\(K) T=\(T) row \(t)") }
            }
        }
    }

    /// The AVX2 FP4 kernels apply block scales 2 … 251 as exponent steps and any other by a multiply (see X86.c);
    /// rows with such scales (none in real checkpoints) must still equal the reference, in the decode kernels
    /// (one token) and the prefill GEMM (nine) alike, next to rows with ordinary scales.
    @Test("FP4 rows with block scales at the ends of the E8M0 range equal their reference in every path",
          arguments: [(UInt8(0), UInt8(3), Float(1)), (UInt8(249), UInt8(252), Float(0x1p-20))])
    func fp4ExtremeScales(low: UInt8, high: UInt8, xScale: Float) {
        var rng = TestRandom(state: 23)
        let (T, N, K) = (9, 13, 160)
        let w = TestWeight(rows: N, cols: K, format: .fp4, rng: &rng)
        for n in stride(from: 0, to: N, by: 2) {  // even rows: every block scale drawn from low … high
            for b in 0..<(K / 32) { w.scale![n * (K / 32) + b] = low + rng.byte() % (high - low + 1) }
        }
        let x = Matrix(rows: T, cols: K, storage: (0..<(T * K)).map { _ in rng.float() * xScale })
        let together = matmul(x, w.matrix)
        for t in 0..<T {
            #expect(matmul(x.rows(t..<(t + 1)), w.matrix).storage == together.row(t), "row \(t) alone")
            for n in 0..<N {
                var acc = 0.0, magnitude = 0.0
                for k in 0..<K {
                    let product = Double(w.matrix.element(n, k)) * Double(x[t, k])
                    acc += product
                    magnitude += abs(product)
                }
                #expect(abs(Double(together[t, n]) - acc) <= 1e-6 * magnitude + 0x1p-140, "t=\(t) n=\(n)")
            }
        }
    }

    @Test("matmul over a row range writes only those rows, with strided input and output")
    func matmulRowRange() {
        var rng = TestRandom(state: 7)
        let (T, N, K) = (3, 40, 64)
        let w = TestWeight(rows: N, cols: K, format: .fp8, rng: &rng)
        let x = Matrix(rows: T, cols: K * 2, storage: (0..<(T * K * 2)).map { _ in rng.float() })
        var out = [Float](repeating: -7, count: T * 50)
        out.withUnsafeMutableBufferPointer { o in
            x.storage.withUnsafeBufferPointer { xb in
                matmul(out: o.baseAddress!, ldo: 50, x: xb.baseAddress! + K, ldx: 2 * K, T: T, weight: w.matrix, rowRange: 10..<20)
            }
        }
        for t in 0..<T {
            for n in 0..<50 {
                if (10..<20).contains(n) {
                    // Against the float32 rounding bound of any summation order: a few ulps of Σ|w·x|
                    // (an absolute 1e-4 held for AVX2's order only; AVX-512's, under emulation, missed it by 13%).
                    var acc = 0.0, magnitude = 0.0
                    for k in 0..<K {
                        let product = Double(w.matrix.element(n, k)) * Double(x[t, K + k])
                        acc += product
                        magnitude += abs(product)
                    }
                    #expect(abs(Double(out[t * 50 + n]) - acc) <= 1e-6 * magnitude)
                } else {
                    #expect(out[t * 50 + n] == -7)
                }
            }
        }
    }

    @Test("dot product of every length up to 70 equals a double-precision sum")
    func dotProduct() {
        var rng = TestRandom(state: 3)
        for n in 0...70 {
            let a = (0..<n).map { _ in rng.float() }, b = (0..<n).map { _ in rng.float() }
            let expected = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(dot(a, b, count: n)) - expected) <= 1e-5)
        }
    }

    @Test("fast Hadamard rotation equals the explicit Sylvester matrix product", arguments: [1, 2, 8, 64, 128])
    func hadamard(n: Int) {
        var rng = TestRandom(state: UInt64(n))
        var x = (0..<n).map { _ in rng.float() }
        let expected = hadamardRotateReference(x)
        x.withUnsafeMutableBufferPointer { hadamardRotate($0.baseAddress!, count: n) }
        for i in 0..<n { #expect(abs(x[i] - expected[i]) <= 1e-5) }
    }

    @Test("FP8 and FP4 fake-quantization reproduce the NumPy reference bit for bit")
    func fakeQuantization() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("quantization.json")
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: [Double]]]
        for c in cases {
            let input = c["input"]!.map { Float($0) }
            for (key, block, fp4) in [("fp8_128", 128, false), ("fp8_64", 64, false), ("fp4_32", 32, true)] {
                var x = input
                x.withUnsafeMutableBufferPointer { b in
                    if fp4 { fakeQuantizeFP4(b.baseAddress!, count: b.count, block: block) } else { fakeQuantizeFP8(b.baseAddress!, count: b.count, block: block) }
                }
                #expect(x == c[key]!.map { Float($0) }, "\(key)")
            }
        }
    }

    @Test("the FP8 fake-quantization kernel equals the Swift reference bit for bit")
    func fakeQuantizationKernel() {
        var rng = TestRandom(state: 23)
        for (count, block) in [(1000, 128), (4096, 128), (200, 64), (13, 128), (7, 64), (130, 128)] {
            var x = (0..<count).map { i -> Float in
                // Magnitudes from 2^-40 to 2^40 by block, exact E4M3 ties, zeros of both signs.
                let v = rng.float() * Float(sign: .plus, exponent: (i / block) % 81 - 40, significand: 1)
                switch i % 23 {
                case 3: return 0
                case 5: return -0.0
                // Ties between two E4M3 values, with even and with odd lower neighbours (once the block scale
                // is 2^e, set by the 448 · 2^e below).
                case 7: return Float(sign: v < 0 ? .minus : .plus, exponent: (i / block) % 81 - 40 - 3, significand: i % 2 == 0 ? 1.0625 : 1.1875)
                case 11: return Float(i % 5) * 0x1p-10 * Float(sign: .plus, exponent: (i / block) % 81 - 40, significand: 1)  // subnormal E4M3 ties
                default: return v
                }
            }
            for b in stride(from: 0, to: count, by: block) where b + 1 < count {
                x[b + 1] = 448 * Float(sign: .plus, exponent: (b / block) % 81 - 40, significand: 1)  // sets the block's scale
            }
            var reference = x
            x.withUnsafeMutableBufferPointer { fakeQuantizeFP8($0.baseAddress!, count: count, block: block) }
            reference.withUnsafeMutableBufferPointer { fakeQuantizeFP8Reference($0.baseAddress!, count: count, block: block) }
            let first = x.indices.first { x[$0].bitPattern != reference[$0].bitPattern }
            #expect(first == nil, "count \(count) block \(block): at \(first ?? 0) \(x[first ?? 0]) vs \(reference[first ?? 0])")
        }
    }

    @Test("powerOfTwoCeiling rounds up to a power of two")
    func powerOfTwo() {
        #expect(powerOfTwoCeiling(1) == 1)
        #expect(powerOfTwoCeiling(1.0001) == 2)
        #expect(powerOfTwoCeiling(0.75) == 1)
        #expect(powerOfTwoCeiling(0x1p-20) == 0x1p-20)
        #expect(powerOfTwoCeiling(3e-7) == 0x1p-21)
    }

    @Test("parallelFor visits every index exactly once, also when nested")
    func parallelForCoverage() {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
        counts.initialize(repeating: 0, count: 1000)
        defer { counts.deallocate() }
        let p = UnsafeSendable(counts)
        for _ in 0..<20 {
            parallelFor(100) { i in
                parallelFor(10) { j in p.value[i * 10 + j] += 1 }
            }
        }
        for i in 0..<1000 { #expect(counts[i] == 20) }
    }
}
