// Kernels of the KV cache and of attention over it:
//
//   KVRowLayout   the byte layout of one cached vector — float32, "FP8 + BF16 tail" (a kv row: the first
//                 D − R values FP8 E4M3 with one E8M0 scale per 64, the last R values BF16) or FP4 E2M1 with
//                 one E8M0 scale per 32 (an indexer key) — with its encoder and decoder
//   sinkAttention sparse attention with a sink over gathered keys (keys = values), the heads that share them
//   indexerScores score_j = Σ_h w_h · ReLU(q_h · k_j) of a block of keys, all heads at once
//   topKIndices   the k largest scores with a bounded heap, O(n log k)
//
// The encoders quantise exactly like `fakeQuantizeFP8` / `fakeQuantizeFP4` (same scale rule, same
// rounding), and those roundings are idempotent, so a vector that has already been fake-quantised
// decodes back to the very same floats: the low-precision formats lose nothing in quant mode.

import CKernels
import Foundation
import HeapModule

// MARK: - Row layouts

public struct KVRowLayout: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// every value float32 (native byte order)
        case float32
        /// values [0, width − tail) FP8 E4M3, one E8M0 scale per 64 of them, then `tail` values BF16
        case fp8(bf16Tail: Int)
        /// every value FP4 E2M1, two per byte (low nibble = even index), one E8M0 scale per 32
        case fp4
    }

    public static let fp8Block = 64
    public static let fp4Block = 32

    public let kind: Kind
    /// Values per row.
    public let width: Int

    public init(_ kind: Kind, width: Int) {
        if case .fp4 = kind { precondition(width % 2 == 0, "FP4 rows pack two values per byte") }
        self.kind = kind
        self.width = width
    }

    /// Bytes of one encoded row: values, then scales (then the BF16 tail).
    public var rowBytes: Int {
        switch kind {
        case .float32: 4 * width
        case .fp8(let tail): (width - tail) + Self.blocks(width - tail, Self.fp8Block) + 2 * tail
        case .fp4: width / 2 + Self.blocks(width, Self.fp4Block)
        }
    }

    static func blocks(_ n: Int, _ block: Int) -> Int { (n + block - 1) / block }

    /// Encodes `width` floats into `rowBytes` bytes.
    public func encode(_ x: UnsafePointer<Float>, into b: UnsafeMutablePointer<UInt8>) {
        switch kind {
        case .float32:
            memcpy(b, x, 4 * width)
        case .fp8(let tail):
            let n = width - tail
            let scales = b + n
            var start = 0, block = 0
            while start < n {
                let end = min(start + Self.fp8Block, n)
                let s = fp8BlockScale(x, start..<end)
                scales[block] = UInt8(s.exponent + 127)
                for i in start..<end { b[i] = fp8Code(fp8Round(x[i], scale: s)) }
                start = end
                block += 1
            }
            let bf = b + n + Self.blocks(n, Self.fp8Block)
            for i in 0..<tail {
                let v = BFloat16.encode(x[n + i])
                bf[2 * i] = UInt8(truncatingIfNeeded: v)
                bf[2 * i + 1] = UInt8(truncatingIfNeeded: v >> 8)
            }
        case .fp4:
            let scales = b + width / 2
            var start = 0, block = 0
            while start < width {
                let end = min(start + Self.fp4Block, width)
                let s = fp4BlockScale(x, start..<end)
                scales[block] = UInt8(s.exponent + 127)
                var i = start
                while i < end {
                    let lo = fp4Code(fp4Round(x[i], scale: s))
                    let hi = fp4Code(fp4Round(x[i + 1], scale: s))
                    b[i / 2] = lo | (hi << 4)
                    i += 2
                }
                start = end
                block += 1
            }
        }
    }

    /// Decodes one row of `rowBytes` bytes into `width` floats.
    public func decode(_ b: UnsafePointer<UInt8>, into x: UnsafeMutablePointer<Float>) {
        switch kind {
        case .float32:
            memcpy(x, b, 4 * width)
        case .fp8(let tail):
            let n = width - tail
            let scales = b + n
            fp8Table.withUnsafeBufferPointer { table in
                var start = 0, block = 0
                while start < n {
                    let end = min(start + Self.fp8Block, n)
                    let s = scaleValue(scales[block])
                    for i in start..<end { x[i] = table[Int(b[i])] * s }
                    start = end
                    block += 1
                }
            }
            let bf = b + n + Self.blocks(n, Self.fp8Block)
            for i in 0..<tail {
                x[n + i] = Float(bitPattern: (UInt32(bf[2 * i]) | UInt32(bf[2 * i + 1]) << 8) << 16)
            }
        case .fp4:
            let scales = b + width / 2
            fp4Table.withUnsafeBufferPointer { table in
                var start = 0, block = 0
                while start < width {
                    let end = min(start + Self.fp4Block, width)
                    let s = scaleValue(scales[block])
                    var i = start
                    while i < end {
                        let byte = b[i / 2]
                        x[i] = table[Int(byte & 15)] * s
                        x[i + 1] = table[Int(byte >> 4)] * s
                        i += 2
                    }
                    start = end
                    block += 1
                }
            }
        }
    }

    /// Rounds the BF16 tail of a row in place to the values it will decode to (no-op for the other kinds).
    public func roundTail(_ x: UnsafeMutablePointer<Float>) {
        guard case .fp8(let tail) = kind else { return }
        for i in (width - tail)..<width { x[i] = BFloat16.decode(BFloat16.encode(x[i])) }
    }
}

/// Power-of-two scale of an E8M0 byte written by the encoders (never the NaN code 255).
@inline(__always)
private func scaleValue(_ e: UInt8) -> Float { Float(bitPattern: UInt32(e) << 23) }

private let fp8Table: [Float] = (0..<256).map { FP8E4M3.decode(UInt8($0)) }
private let fp4Table: [Float] = (0..<16).map { FP4E2M1.decode(UInt8($0)) }

/// The E4M3 code of a value that `FP8E4M3.round` produced (|v| ≤ 448). Zero is always +0, so a value and its
/// fake-quantised copy (which may be −0) encode to the same bytes.
@inline(__always)
private func fp8Code(_ v: Float) -> UInt8 {
    let a = abs(v)
    if a == 0 { return 0 }
    let sign: UInt8 = v.sign == .minus ? 0x80 : 0
    if a < 0x1p-6 { return sign | UInt8(a * 0x1p9) }  // subnormal: m · 2^-9
    let e = Int(a.exponent)
    let m = UInt8((a / Float(sign: .plus, exponent: a.exponent, significand: 1) - 1) * 8)
    return sign | UInt8(e + 7) << 3 | m
}

/// The E2M1 code of a value that `FP4E2M1.round` produced (zero always +0, as for FP8).
@inline(__always)
private func fp4Code(_ v: Float) -> UInt8 {
    let sign: UInt8 = v.sign == .minus && v != 0 ? 8 : 0
    let magnitude: UInt8
    switch abs(v) {
    case 0: magnitude = 0
    case 0.5: magnitude = 1
    case 1: magnitude = 2
    case 1.5: magnitude = 3
    case 2: magnitude = 4
    case 3: magnitude = 5
    case 4: magnitude = 6
    default: magnitude = 7
    }
    return sign | magnitude
}

// MARK: - Sparse attention with a sink

/// For each head h < H: o_h = Σ_i e^{z_i − M} k_i / (Σ_i e^{z_i − M} + e^{sinks[h] − M}), z_i = scale · q_h·k_i,
/// M = max z. Queries rows `ldq` floats apart, outputs `ldo` apart; keys: n pointers to D floats (keys are
/// also the values); logits: scratch of 3·n floats. A head's output does not depend on H.
public func sinkAttention(
    out: UnsafeMutablePointer<Float>, ldo: Int, queries: UnsafePointer<Float>, ldq: Int, heads H: Int,
    keys: UnsafeBufferPointer<UnsafePointer<Float>>, dim D: Int, scale: Float, sinks: UnsafePointer<Float>,
    logits: UnsafeMutablePointer<Float>
) {
    keys.withMemoryRebound(to: UnsafePointer<Float>?.self) { k in
        nw_sink_attention(out, Int64(ldo), queries, Int64(ldq), Int64(H), k.baseAddress, Int64(keys.count), Int64(D), scale,
                          sinks, logits)
    }
}

/// Scalar reference of `sinkAttention`: the formula in double precision.
public func sinkAttentionReference(query: [Float], keys: [[Float]], scale: Float, sink: Float) -> [Float] {
    let z = keys.map { k in Double(scale) * zip(query, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
    let m = max(z.max() ?? -.infinity, Double(sink))
    let e = z.map { exp($0 - m) }
    let denominator = e.reduce(0, +) + exp(Double(sink) - m)
    return (0..<query.count).map { c in Float(zip(e, keys).reduce(0.0) { $0 + $1.0 * Double($1.1[c]) } / denominator) }
}

// MARK: - Lightning indexer scores

/// out[j] = Σ_h w[h] · ReLU(q_h · k_j) for a block of n keys (n, D) and H queries (H, D): the (H × n)
/// product Q·Kᵀ (register-tiled C kernel) reduced over heads in head order; a key's score does not depend on
/// its block.
public func indexerScores(
    out: UnsafeMutablePointer<Float>, queries: UnsafePointer<Float>, weights: UnsafePointer<Float>, heads H: Int,
    keys: UnsafePointer<Float>, count n: Int, dim D: Int
) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * H) { scratch in
        nw_indexer_scores(queries, weights, Int64(H), keys, Int64(n), Int64(D), out, scratch.baseAddress!)
    }
}

/// Scalar reference of `indexerScores` in double precision.
public func indexerScoresReference(queries: [Float], weights: [Float], keys: [Float], dim D: Int) -> [Float] {
    let H = weights.count, n = keys.count / D
    return (0..<n).map { j in
        var score = 0.0
        for h in 0..<H {
            var qk = 0.0
            for i in 0..<D { qk += Double(queries[h * D + i]) * Double(keys[j * D + i]) }
            score += Double(weights[h]) * max(qk, 0)
        }
        return Float(score)
    }
}

// MARK: - Top-k

/// A score and its index, ordered by rank: the larger score, and for exact ties the higher index (the order
/// PyTorch's CPU top-k produced for the reference).
private struct RankedScore: Comparable {
    let score: Float
    let index: Int

    static func < (a: Self, b: Self) -> Bool { a.score != b.score ? a.score < b.score : a.index < b.index }
}

/// Indices of the k largest scores, largest first; exact ties go to the higher index. A heap of the k best
/// so far, whose minimum is the one to replace: O(n log k) time, O(k) memory.
public func topKIndices(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [Int] {
    let k = min(k, scores.count)
    guard k > 0 else { return [] }
    var best = Heap<RankedScore>(minimumCapacity: k)
    for j in 0..<scores.count {
        let candidate = RankedScore(score: scores[j], index: j)
        if best.count < k {
            best.insert(candidate)
        } else if best.min! < candidate {
            best.replaceMin(with: candidate)
        }
    }
    return best.unordered.sorted(by: >).map(\.index)
}

/// Scalar reference of `topKIndices`: a full sort.
public func topKIndicesReference(_ scores: [Float], k: Int) -> [Int] {
    let order = scores.indices.sorted { a, b in
        scores[a] != scores[b] ? scores[a] > scores[b] : a > b
    }
    return Array(order.prefix(k))
}
