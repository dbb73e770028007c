// Compressor (spec §3.5): pools every block of `ratio` consecutive tokens into one entry of width c with a
// learned per-channel softmax gate. Shared by CSA (ratio 4), HCA (any other ratio) and the CSA indexer.
//
//   a_t = W_kv · y_t,  g_t = W_g · y_t + ape[t mod r]        (float32, width w·c, w = 2 if overlapping)
//   non-overlapping:  C_j[i] = Σ_{t in block j} softmax_t(g_t[i]) · a_t[i]
//   overlapping (r=4): 2r slots — block j−1 with the first-half channels, block j with the second half
//   entry ← RMSNorm → RoPE on the last dims at position j·r → FP8 (attention) or Hadamard + FP4 (indexer)
//
// Entries are emitted only when their block is complete; the incomplete tail lives in `State`, so
// prefill in chunks and token-by-token decode produce the same entries. The projections run once over
// all rows of a batch (several sequences); the pooling then runs per sequence on its own state.

import Foundation
import Kernels

struct Compressor: Sendable {
    let ratio: Int
    /// c: width of one entry (head_dim for attention, index_head_dim for the indexer)
    let width: Int
    let wkv: WeightMatrix    // (w·c, d) BF16, used in float32
    let wgate: WeightMatrix  // (w·c, d)
    let ape: [Float]         // (r, w·c)
    let norm: [Float]        // (c)
    let eps: Float
    /// true for the indexer's compressor: Hadamard rotation + FP4 instead of FP8 on the non-RoPE dims
    let rotate: Bool

    var overlapping: Bool { ratio == 4 }
    var projectionWidth: Int { overlapping ? 2 * width : width }

    struct State {
        let ratio: Int
        let projectionWidth: Int
        /// rows of the block being filled: (r, w·c) each
        var a: [Float]
        var g: [Float]
        /// the previous complete block (overlapping kind only); gates −∞ before the first block
        var previousA: [Float]
        var previousG: [Float]

        init(ratio: Int, width: Int) {
            self.ratio = ratio
            projectionWidth = ratio == 4 ? 2 * width : width
            a = [Float](repeating: 0, count: ratio * projectionWidth)
            g = [Float](repeating: -.infinity, count: ratio * projectionWidth)
            previousA = ratio == 4 ? a : []
            previousG = ratio == 4 ? g : []
        }
    }

    /// The per-token projections a = W_kv y and g = W_g y of all rows, computed once for a whole batch:
    /// (T, w·c) each. `append` adds the position embedding `ape`.
    func project(_ y: Matrix) -> (a: Matrix, g: Matrix) { (matmul(y, wkv), matmul(y, wgate)) }

    /// Feeds the tokens of `rows` (positions start ..< start + rows.count of one sequence) and appends
    /// every completed entry (width c) to `entries`, encoded in their layout.
    func append(_ projected: (a: Matrix, g: Matrix), rows: Range<Int>, start: Int, state: inout State, entries: inout KVRows,
                rope: RoPE, quantize: Bool) {
        let (a, g) = projected
        let P = projectionWidth
        for (i, t) in rows.enumerated() {
            let slot = (start + i) % ratio
            for c in 0..<P {
                state.a[slot * P + c] = a[t, c]
                state.g[slot * P + c] = g[t, c] + ape[slot * P + c]
            }
            if slot == ratio - 1 {
                let block = (start + i) / ratio
                var entry = pool(state)
                finish(&entry, block: block, rope: rope, quantize: quantize)
                entries.append(entry)
                if overlapping {
                    state.previousA = state.a
                    state.previousG = state.g
                }
            }
        }
    }

    /// Softmax-gated pooling of the current block (and the previous one when overlapping), per channel.
    private func pool(_ s: State) -> [Float] {
        let c = width, P = projectionWidth, r = ratio
        var out = [Float](repeating: 0, count: c)
        var gates = [Float](repeating: 0, count: 2 * r)
        var values = [Float](repeating: 0, count: 2 * r)
        for i in 0..<c {
            var n = 0
            if overlapping {
                for slot in 0..<r {
                    gates[n] = s.previousG[slot * P + i]
                    values[n] = s.previousA[slot * P + i]
                    n += 1
                }
            }
            let channel = overlapping ? c + i : i
            for slot in 0..<r {
                gates[n] = s.g[slot * P + channel]
                values[n] = s.a[slot * P + channel]
                n += 1
            }
            var mx = -Float.infinity
            for k in 0..<n { mx = max(mx, gates[k]) }
            var sum: Float = 0
            var acc: Float = 0
            for k in 0..<n {
                let e = expf(gates[k] - mx)
                sum += e
                acc += e * values[k]
            }
            out[i] = acc / sum
        }
        return out
    }

    private func finish(_ entry: inout [Float], block: Int, rope: RoPE, quantize: Bool) {
        let c = width
        entry.withUnsafeMutableBufferPointer { e in
            let p = e.baseAddress!
            norm.withUnsafeBufferPointer { rmsNorm(p, count: c, weight: $0.baseAddress!, eps: eps) }
            rope.apply(p + (c - rope.dim), position: block * ratio)
            if rotate {
                hadamardRotate(p, count: c)
                if quantize { fakeQuantizeFP4(p, count: c) }
            } else if quantize {
                fakeQuantizeFP8(p, count: c - rope.dim, block: 64)
            }
        }
    }
}
