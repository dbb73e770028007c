// KernelBenchmark: the matrix kernels timed on weights much larger than the caches, next to the
// machine's limits measured in the same run (MachineProbe). Decode (T = 1, and a small batch) is bound by
// memory bandwidth: its figure is weight bytes read per second as a fraction of the read bandwidth.
// Prefill (large T) is bound by arithmetic: GFLOP/s as a fraction of the peak of the instructions used
// (BF16 dot products for FP8/FP4 weights where the CPU has them, FP32 FMA otherwise). FP8/FP4 weights get
// FP8-quantized activations, as in the model.

import CKernels
import Foundation

public enum KernelBenchmark {
    public struct Result: Sendable, Codable {
        public var kernel: String
        public var format: String
        public var rows: Int
        public var cols: Int
        public var tokens: Int
        public var seconds: Double
        public var gigabytesPerSecond: Double
        public var gflops: Double
        /// "bf16-dot" or "fp32-fma": the arithmetic the kernel ran on.
        public var arithmetic: String
    }

    /// Times `matmul` for each format on a weight of about `megabytes`, at each token count in `tokens`.
    public static func run(megabytes: Int = 256, tokens: [Int] = [1, 4, 64], repeats: Int = 5) -> [Result] {
        var results: [Result] = []
        for format in [WeightMatrix.Format.f32, .bf16, .fp8, .fp4] {
            let K = 4096
            let bytesPerRow: Int
            switch format {
            case .f32: bytesPerRow = K * 4
            case .bf16: bytesPerRow = K * 2
            case .fp8: bytesPerRow = K
            case .fp4: bytesPerRow = K / 2 + K / 32
            }
            let N = (megabytes << 20) / bytesPerRow / 128 * 128
            let weight = RandomWeight(rows: N, cols: K, format: format)
            let quantized = format == .fp8 || format == .fp4
            var c = weight.matrix.c
            let arithmetic = quantized && nw_bf16_dot_applies(&c) != 0 ? "bf16-dot" : "fp32-fma"
            for T in tokens {
                var x = Matrix(rows: T, cols: K)
                for i in x.storage.indices { x.storage[i] = Float(i % 17) / 17 - 0.5 }
                if quantized { x = quantizedRowsFP8(x) }
                var best = Double.infinity
                // Large T is slow: fewer rows then, the rate per row is what matters.
                let rows = T > 8 ? max(128, N / 16) / 128 * 128 : N
                for _ in 0..<repeats {
                    var out = [Float](repeating: 0, count: T * rows)
                    let start = DispatchTime.now().uptimeNanoseconds
                    out.withUnsafeMutableBufferPointer { o in
                        x.storage.withUnsafeBufferPointer { xb in
                            matmul(out: o.baseAddress!, ldo: rows, x: xb.baseAddress!, ldx: K, T: T, weight: weight.matrix, rowRange: 0..<rows,
                                   activationsQuantized: quantized)
                        }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                let bytes = Double(rows * weight.matrix.byteCount / N)
                results.append(Result(
                    kernel: T == 1 ? "matvec" : "matmul", format: "\(format)", rows: rows, cols: K, tokens: T, seconds: best,
                    gigabytesPerSecond: bytes / best / 1e9, gflops: 2 * Double(rows) * Double(K) * Double(T) / best / 1e9,
                    arithmetic: arithmetic))
            }
        }
        return results
    }
}

/// A weight matrix of random codes in its own 64-byte-aligned memory.
final class RandomWeight {
    let data: UnsafeMutableRawPointer
    let scale: UnsafeMutablePointer<UInt8>?
    let matrix: WeightMatrix

    init(rows N: Int, cols K: Int, format: WeightMatrix.Format) {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        let probe = WeightMatrix(rows: N, cols: K, format: .f32, data: UnsafeRawPointer(bitPattern: 64)!)
        _ = probe
        let bytes: Int
        var scales = 0
        switch format {
        case .f32: bytes = N * K * 4
        case .bf16: bytes = N * K * 2
        case .fp8: bytes = N * K; scales = ((N + 127) / 128) * ((K + 127) / 128)
        case .fp4: bytes = N * K / 2; scales = N * K / 32
        }
        data = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let words = data.bindMemory(to: UInt64.self, capacity: bytes / 8)
        for i in 0..<(bytes / 8) {
            var w = next() | next() << 53
            // Keep FP8 codes finite and BF16/F32 values small and ordinary.
            switch format {
            // FP8: exponents 4…7 like trained weights under block scaling (no zero, subnormal or NaN codes).
            case .fp8: w = (w & 0xB7B7_B7B7_B7B7_B7B7) | 0x2020_2020_2020_2020
            case .bf16: w = (w & 0x807F_807F_807F_807F) | 0x3C00_3C00_3C00_3C00
            case .f32: w = (w & 0x807F_FFFF_807F_FFFF) | 0x3C00_0000_3C00_0000
            case .fp4: break
            }
            words[i] = w
        }
        if scales > 0 {
            let s = UnsafeMutablePointer<UInt8>.allocate(capacity: scales)
            s.initialize(repeating: 120, count: scales)
            scale = s
        } else {
            scale = nil
        }
        matrix = WeightMatrix(rows: N, cols: K, format: format, data: UnsafeRawPointer(data), scale: scale.map { UnsafePointer($0) })
    }

    deinit {
        data.deallocate()
        scale?.deallocate()
    }
}
