// Random tensor contents for generated checkpoints: a seeded PRNG of our own (so the bytes never depend on
// the platform's random source) and the fills the generator needs, written straight into output buffers.
//
// Quantized weights are produced as random codes, never by rounding random floats: an FP8 E4M3 byte comes
// from a 256-entry table of Gaussian quantiles scaled so the extreme entries are ±448 (every 128×128
// block uses the format's full range, as in trained checkpoints), an FP4 byte is uniformly random (all
// 16 E2M1 codes, so ±6 in every 32-block). The magnitude of the dequantized weight is then set by the
// E8M0 block scales alone. BF16/F32 values come from a 4096-entry table of Gaussian quantiles. One
// 64-bit draw yields 8 FP8 codes or 4 table indices, which keeps generation far faster than the disk.
//
// Determinism: a tensor is cut into fixed chunks of ~1 MiB, and chunk c of tensor `name` draws from its
// own stream seeded by (seed, name, c). Its bytes therefore depend only on the seed, its name, shape and
// fill — not on shard boundaries, buffer sizes or how many threads fill chunks in parallel.

import Foundation
import Kernels
import Weights

/// SplitMix64: expands one 64-bit seed into well-mixed state words (the seeding recommended for xoshiro).
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman & Vigna, 2018): 256 bits of state, period 2^256 − 1, a few cycles per draw.
struct Xoshiro256 {
    private var s0, s1, s2, s3: UInt64

    init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform integer in 0 ..< bound by multiply-shift of 32 random bits: the bias, about bound/2^32, is
    /// below 10⁻⁷ for expert counts.
    @inline(__always)
    mutating func next(below bound: Int) -> Int {
        Int(truncatingIfNeeded: (next() >> 32) &* UInt64(bound) >> 32)
    }
}

/// The seed of one chunk's stream: SplitMix64's finaliser over (seed, FNV-1a of the name, chunk).
func chunkSeed(seed: UInt64, name: String, chunk: Int) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    var mixer = SplitMix64(state: seed ^ hash)
    var mixed = mixer.next()
    mixed ^= UInt64(chunk) &* 0xD6E8_FEB8_6659_FD93
    mixer = SplitMix64(state: mixed)
    return mixer.next()
}

/// What a tensor is filled with.
enum WeightFill: Sendable, Equatable {
    /// mean + std·z, z standard normal; BF16 or F32 by the tensor's dtype.
    case normal(mean: Float, std: Float)
    /// means[i] + std·z for element i (small F32 tensors whose entries play different roles: mHC base).
    case offsets(means: [Float], std: Float)
    /// Gaussian-shaped FP8 E4M3 codes reaching ±448.
    case fp8Codes
    /// Uniformly random bytes = two uniformly random FP4 E2M1 codes.
    case fp4Codes
    /// E8M0 block scales 2^k on a fraction `upper`/65536 of the blocks and 2^(k−1) on the rest. Mixing two
    /// exponents sets the weights' mean square exactly (one power of two only lands within a factor √2),
    /// and a magnitude that varies between blocks makes a loader reading the wrong scale visibly wrong.
    /// The blocks taking 2^k follow a golden-ratio sequence rather than coin flips: the fraction holds
    /// even in a grid of a few blocks (a 1×1 grid takes the exponent closer to the target).
    case scales(exponent: Int, upper: Int)
    /// I64 rows of `perRow` distinct expert ids in 0 ..< experts (the hash-routing table tid2eid).
    case expertIDs(experts: Int, perRow: Int)

    /// Bytes of one unit of generation: an element, or a whole row for expert ids (they must be distinct
    /// within a row, so a row is never split between chunks).
    func unitBytes(_ dtype: DType) -> Int {
        if case .expertIDs(_, let perRow) = self { return 8 * perRow }
        return dtype.byteSize
    }
}

/// The fixed tables behind the fills, computed once.
enum RandomTables {
    /// 4096 standard-normal quantiles at (i + ½)/4096, exactly antisymmetric and rescaled to unit RMS.
    static let normal: [Float] = {
        let n = 4096
        var table = [Float](repeating: 0, count: n)
        for i in (n / 2)..<n {
            // Φ(z) = p by bisection on erfc: no dependence on an inverse-erf approximation's quality.
            let p = (Double(i) + 0.5) / Double(n)
            var lo = 0.0, hi = 10.0
            for _ in 0..<64 {
                let mid = (lo + hi) / 2
                if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
            }
            table[i] = Float((lo + hi) / 2)
            table[n - 1 - i] = -table[i]
        }
        let rms = (table.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)).squareRoot()
        return table.map { Float(Double($0) / rms) }
    }()

    /// byte → FP8 E4M3 code: 256 Gaussian quantiles (pairs of the 4096 table, averaged to keep the
    /// antisymmetry) scaled so the outermost are ±448.
    static let fp8: [UInt8] = {
        func quantile(_ b: Int) -> Float { (normal[16 * b + 7] + normal[16 * b + 8]) / 2 }
        let top = quantile(255)
        var codes = [UInt8](repeating: 0, count: 256)
        for b in 128..<256 {
            let value = FP8E4M3.round(quantile(b) / top * FP8E4M3.maxFinite)
            let code = FP8E4M3.encode(value) ?? 0x7E  // round() only returns representable values
            codes[b] = code
            codes[255 - b] = code | 0x80
        }
        return codes
    }()

    /// RMS of the FP8 table's values (the code-level RMS before scaling).
    static let fp8RMS: Double = {
        let sum = fp8.reduce(0.0) { $0 + Double(FP8E4M3.decode($1)) * Double(FP8E4M3.decode($1)) }
        return (sum / 256).squareRoot()
    }()

    /// RMS of uniformly random E2M1 codes: √(Σ magnitudes² / 8).
    static let fp4RMS: Double = (FP4E2M1.magnitudes.reduce(0.0) { $0 + Double($1 * $1) } / 8).squareRoot()

    /// The `.scales` fill that gives codes of RMS `codeRMS` a dequantized RMS of `target`: with 2^k on a
    /// fraction q of the blocks and 2^(k−1) on the rest, the mean square is ρ²·4^k·(q + (1 − q)/4), so k is
    /// the smallest exponent with ρ·2^k ≥ target and q = (4x − 1)/3 for x = target² / (ρ²·4^k) in (¼, 1].
    static func scales(target: Double, codeRMS: Double) -> WeightFill {
        let k = min(max(Int(log2(target / codeRMS).rounded(.up)), -126), 127)
        let x = target * target / (codeRMS * codeRMS * pow(4, Double(k)))
        let q = min(max((4 * x - 1) / 3, 0), 1)
        return .scales(exponent: k, upper: Int((q * 65536).rounded()))
    }
}

/// Writes units `units` of a tensor filled by `fill` to `out` (the bytes of those units, contiguous, at
/// any alignment).
func fillChunk(_ out: UnsafeMutableRawPointer, fill: WeightFill, dtype: DType, units: Range<Int>, rng: inout Xoshiro256) {
    let count = units.count
    switch fill {
    case .fp8Codes:
        // Eight table lookups per draw, gathered into one 8-byte store; the tail byte by byte.
        RandomTables.fp8.withUnsafeBufferPointer { table in
            var i = 0
            while i + 8 <= count {
                let r = rng.next()
                var word: UInt64 = 0
                for b in 0..<8 { word |= UInt64(table[Int((r >> (8 * b)) & 0xFF)]) << (8 * b) }
                out.storeBytes(of: word.littleEndian, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            var r = rng.next()
            for j in i..<count {
                out.storeBytes(of: table[Int(r & 0xFF)], toByteOffset: j, as: UInt8.self)
                r >>= 8
            }
        }
    case .fp4Codes:
        var i = 0
        while i + 8 <= count {
            out.storeBytes(of: rng.next().littleEndian, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        var r = rng.next()
        for j in i..<count {
            out.storeBytes(of: UInt8(truncatingIfNeeded: r), toByteOffset: j, as: UInt8.self)
            r >>= 8
        }
    case .scales(let k, let upper):
        let p = out.assumingMemoryBound(to: UInt8.self)
        for j in 0..<count {
            // {i/φ + ½} in 16-bit fixed point: 40503 = 65536/φ.
            let phase = (UInt32(truncatingIfNeeded: units.lowerBound + j) &* 40503 &+ 32768) & 0xFFFF
            p[j] = E8M0.encode(exponent: phase < upper ? k : k - 1)
        }
    case .normal(let mean, let std):
        // Encode the 4096 possible values once; the fill is then table lookups only (the embedding and
        // head of the real shapes are 10⁹ values each).
        let values = RandomTables.normal.map { mean + std * $0 }
        if dtype == .bf16 {
            fillFromTable(out, values.map { UInt64(BFloat16.encode($0)) }, bytesPerValue: 2, count, &rng)
        } else {
            fillFromTable(out, values.map { UInt64($0.bitPattern) }, bytesPerValue: 4, count, &rng)
        }
    case .offsets(let means, let std):
        let first = units.lowerBound
        fillNormal(out, dtype: dtype, count: count, rng: &rng) { i, z in means[first + i] + std * z }
    case .expertIDs(let experts, let perRow):
        var pool = Array(0..<experts)
        for row in 0..<count {
            // Partial Fisher–Yates: the first perRow slots of a shuffled pool are distinct experts.
            for k in 0..<perRow {
                let j = k + rng.next(below: experts - k)
                pool.swapAt(k, j)
                out.storeBytes(of: Int64(pool[k]).littleEndian, toByteOffset: 8 * (row * perRow + k), as: Int64.self)
            }
        }
    }
}

/// out[i] = table[12 random bits] for a 4096-entry table of 2- or 4-byte values: one draw per 4 values,
/// gathered into 8-byte little-endian stores. Raw stores: tensors sit back to back in the output buffer,
/// so a BF16 tensor may start at an odd address.
private func fillFromTable(_ out: UnsafeMutableRawPointer, _ table: [UInt64], bytesPerValue: Int, _ count: Int,
                           _ rng: inout Xoshiro256) {
    var g = rng  // a local copy stays in registers
    defer { rng = g }
    table.withUnsafeBufferPointer { t in
        @inline(__always) func value(_ r: UInt64, _ v: UInt64) -> UInt64 { t[Int((r >> (16 * v)) & 0xFFF)] }
        var i = 0
        while i + 4 <= count {
            let r = g.next()
            if bytesPerValue == 2 {
                let word = value(r, 0) | value(r, 1) << 16 | value(r, 2) << 32 | value(r, 3) << 48
                out.storeBytes(of: word.littleEndian, toByteOffset: 2 * i, as: UInt64.self)
            } else {
                out.storeBytes(of: (value(r, 0) | value(r, 1) << 32).littleEndian, toByteOffset: 4 * i, as: UInt64.self)
                out.storeBytes(of: (value(r, 2) | value(r, 3) << 32).littleEndian, toByteOffset: 4 * i + 8, as: UInt64.self)
            }
            i += 4
        }
        let r = g.next()
        for v in 0..<(count - i) {
            let x = value(r, UInt64(v))
            for b in 0..<bytesPerValue {
                out.storeBytes(of: UInt8(truncatingIfNeeded: x >> (8 * b)), toByteOffset: bytesPerValue * (i + v) + b, as: UInt8.self)
            }
        }
    }
}

/// BF16 or F32 values value(i, z), z from the normal table: for small tensors whose entries differ in role.
private func fillNormal(_ out: UnsafeMutableRawPointer, dtype: DType, count: Int, rng: inout Xoshiro256,
                        _ value: (Int, Float) -> Float) {
    RandomTables.normal.withUnsafeBufferPointer { table in
        var i = 0
        while i < count {
            var r = rng.next()
            for j in i..<min(i + 4, count) {
                let v = value(j, table[Int(r & 0xFFF)])
                if dtype == .bf16 {
                    out.storeBytes(of: BFloat16.encode(v).littleEndian, toByteOffset: 2 * j, as: UInt16.self)
                } else {
                    out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * j, as: UInt32.self)
                }
                r >>= 16
            }
            i += 4
        }
    }
}
