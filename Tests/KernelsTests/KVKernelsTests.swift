// The KV cache kernels against their scalar references: row codecs, sink attention, indexer scores, top-k.

import Foundation
import Kernels
import Testing

@Suite("KV kernels")
struct KVKernelsTests {
    static func randomRow(_ n: Int, _ rng: inout TestRandom) -> [Float] {
        // Magnitudes over many binades, some exact zeros, so scales and subnormal codes are exercised.
        (0..<n).map { i in i % 17 == 0 ? 0 : rng.float() * Float(sign: .plus, exponent: Int(rng.next() % 24) - 12, significand: 1) }
    }

    static func roundTrip(_ layout: KVRowLayout, _ x: [Float]) -> (bytes: [UInt8], values: [Float]) {
        var bytes = [UInt8](repeating: 0, count: layout.rowBytes)
        var out = [Float](repeating: .nan, count: layout.width)
        x.withUnsafeBufferPointer { layout.encode($0.baseAddress!, into: &bytes) }
        bytes.withUnsafeBufferPointer { layout.decode($0.baseAddress!, into: &out) }
        return (bytes, out)
    }

    @Test("FP8 rows: fake-quantised values round-trip exactly, the BF16 tail is rounded, other values quantise like fakeQuantizeFP8",
          arguments: [(512, 64), (128, 64), (100, 36)])
    func fp8Rows(width: Int, tail: Int) {
        var rng = TestRandom(state: UInt64(width))
        let layout = KVRowLayout(.fp8(bf16Tail: tail), width: width)
        #expect(layout.rowBytes == (width - tail) + (width - tail + 63) / 64 + 2 * tail)
        for _ in 0..<20 {
            var x = Self.randomRow(width, &rng)
            var quantised = x
            quantised.withUnsafeMutableBufferPointer { fakeQuantizeFP8($0.baseAddress!, count: width - tail, block: 64) }
            var expected = quantised
            expected.withUnsafeMutableBufferPointer { layout.roundTail($0.baseAddress!) }
            for i in (width - tail)..<width { #expect(expected[i] == BFloat16.decode(BFloat16.encode(x[i]))) }
            // Encoding quantises: raw input and its fake-quantised version decode to the same values (the bytes may
            // differ: a block whose largest value rounds down to 224·s is re-encoded with scale s/2 and doubled codes).
            #expect(Self.roundTrip(layout, x).values == expected)
            #expect(Self.roundTrip(layout, quantised).values == expected)
            x = expected
            #expect(Self.roundTrip(layout, x).values == expected, "idempotent")
        }
    }

    @Test("FP4 rows: fake-quantised values round-trip exactly", arguments: [128, 64])
    func fp4Rows(width: Int) {
        var rng = TestRandom(state: 7)
        let layout = KVRowLayout(.fp4, width: width)
        #expect(layout.rowBytes == width / 2 + width / 32)
        for _ in 0..<50 {
            let x = Self.randomRow(width, &rng)
            var quantised = x
            quantised.withUnsafeMutableBufferPointer { fakeQuantizeFP4($0.baseAddress!, count: width) }
            #expect(Self.roundTrip(layout, x).values == quantised)
            #expect(Self.roundTrip(layout, quantised).values == quantised)
        }
        // Edge values: all zeros, a block at the largest magnitude, the FP4 ties.
        for x in [[Float](repeating: 0, count: width), (0..<width).map { Float($0 % 13) - 6 }, (0..<width).map { Float($0 % 8) * 0.25 }] {
            var quantised = x
            quantised.withUnsafeMutableBufferPointer { fakeQuantizeFP4($0.baseAddress!, count: width) }
            #expect(Self.roundTrip(layout, x).values == quantised)
        }
    }

    @Test("float32 rows are stored bit for bit")
    func float32Rows() {
        var rng = TestRandom(state: 3)
        let x = Self.randomRow(96, &rng)
        #expect(Self.roundTrip(KVRowLayout(.float32, width: 96), x).values == x)
    }

    @Test("sink attention matches its reference for every head, and a head alone gives the same bits",
          arguments: [(1, 16), (7, 128), (300, 64), (5, 20)], [1, 4, 7])
    func sinkAttentionMatches(shape: (keys: Int, dim: Int), heads H: Int) {
        let (n, D) = shape
        var rng = TestRandom(state: UInt64(n * D + H))
        let queries = (0..<(H * D)).map { _ in rng.float() * 3 }
        let keys = (0..<n).map { _ in (0..<D).map { _ in rng.float() } }
        let sinks = (0..<H).map { h in [Float(-2), 0.5, 30][h % 3] }
        let scale = 1 / Float(D).squareRoot()
        let flat = keys.flatMap { $0 }
        func attend(heads: Int, from h0: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: heads * D)
            var logits = [Float](repeating: 0, count: 3 * n)
            flat.withUnsafeBufferPointer { fb in
                let pointers = (0..<n).map { fb.baseAddress! + $0 * D }
                pointers.withUnsafeBufferPointer { pb in
                    queries.withUnsafeBufferPointer { qb in
                        sinks.withUnsafeBufferPointer { sb in
                            sinkAttention(out: &out, ldo: D, queries: qb.baseAddress! + h0 * D, ldq: D, heads: heads, keys: pb,
                                          dim: D, scale: scale, sinks: sb.baseAddress! + h0, logits: &logits)
                        }
                    }
                }
            }
            return out
        }
        let together = attend(heads: H, from: 0)
        for h in 0..<H {
            let expected = sinkAttentionReference(query: Array(queries[(h * D)..<((h + 1) * D)]), keys: keys, scale: scale, sink: sinks[h])
            for c in 0..<D {
                #expect(abs(together[h * D + c] - expected[c]) <= 1e-5 * max(1, abs(expected[c])), "head \(h) dim \(c)")
            }
            #expect(attend(heads: 1, from: h) == Array(together[(h * D)..<((h + 1) * D)]), "head \(h) alone")
        }
    }

    @Test("indexer scores match their reference", arguments: [(1, 1), (8, 5), (3, 7), (64, 64)], [128, 24, 5])
    func indexerScoresMatch(shape: (heads: Int, keys: Int), dim D: Int) {
        let (H, n) = shape
        var rng = TestRandom(state: UInt64(H * 1000 + n + D))
        let q = (0..<(H * D)).map { _ in rng.float() }
        let w = (0..<H).map { _ in rng.float() }
        let keys = (0..<(n * D)).map { _ in rng.float() }
        let expected = indexerScoresReference(queries: q, weights: w, keys: keys, dim: D)
        var out = [Float](repeating: .nan, count: n)
        indexerScores(out: &out, queries: q, weights: w, heads: H, keys: keys, count: n, dim: D)
        for j in 0..<n { #expect(abs(out[j] - expected[j]) <= 1e-4 * max(1, abs(expected[j])), "key \(j)") }
        // A key's score does not depend on where the block starts (tiles of 4 keys vs the remainder path).
        for start in 1..<min(n, 4) {
            var shifted = [Float](repeating: .nan, count: n - start)
            keys.withUnsafeBufferPointer { kb in
                indexerScores(out: &shifted, queries: q, weights: w, heads: H, keys: kb.baseAddress! + start * D, count: n - start, dim: D)
            }
            #expect(shifted == Array(out[start...]), "block start \(start)")
        }
    }

    @Test("heap top-k equals the sorting reference, ties to the higher index", arguments: [0, 1, 5, 64, 300])
    func topKMatches(k: Int) {
        var rng = TestRandom(state: UInt64(k + 11))
        for n in [0, 1, 7, 64, 1000] {
            // Few distinct values, many exact ties (ReLU zeros in the indexer), and random ones.
            let tied = (0..<n).map { _ in Float(rng.next() % 4) }
            let spread = (0..<n).map { _ in rng.float() }
            for scores in [tied, spread, [Float](repeating: 0, count: n)] {
                let got = scores.withUnsafeBufferPointer { topKIndices($0, k: k) }
                #expect(got == topKIndicesReference(scores, k: k), "n \(n) k \(k)")
            }
        }
    }
}
