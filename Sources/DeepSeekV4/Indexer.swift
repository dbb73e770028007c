// Lightning indexer (spec §3.6, CSA layers only): picks, for each query position p, the top-k compressed
// blocks among those complete at p, by
//   score_j = Σ_h w_h · ReLU(q_h · K_j)
// with q_h = W_iq · c_q (64 heads × 128, RoPE on the last dims, Hadamard-rotated, FP4-rounded),
// w = (W_w · y) · (128^-1/2 · 64^-1/2), and K_j the indexer's own compressed keys (r = 4, overlapping).
// The chosen j index the attention compressor's entries of the same layer.

import Kernels

struct Indexer: Sendable {
    let heads: Int
    let headDim: Int
    let topK: Int
    let wqB: Linear            // (heads·headDim, q_lora) FP8
    let weightsProj: WeightMatrix  // (heads, d) BF16, input not quantized
    let compressor: Compressor

    /// Selected block indices for each row of the batch (each row's sequence and position from
    /// `segments` / `positions`). y: (T, d) sublayer input; cq: (T, q_lora) the attention's normalised
    /// query latent.
    func select(y: Matrix, cq: Matrix, segments: [Segment], positions: [Int], rope: RoPE, quantize: Bool) -> [[Int]] {
        let T = y.rows
        let projected = compressor.project(y)
        for s in segments {
            var state = s.cache.indexerCompressor!
            compressor.append(projected, rows: s.rows, start: s.start, state: &state, entries: &s.cache.indexerKeys,
                              rope: rope, quantize: quantize)
            s.cache.indexerCompressor = state
        }

        var q = wqB(cq, quantize: quantize)  // (T, heads·headDim)
        let D = headDim
        q.storage.withUnsafeMutableBufferPointer { qb in
            for t in 0..<T {
                for h in 0..<heads {
                    let p = qb.baseAddress! + (t * heads + h) * D
                    rope.apply(p + (D - rope.dim), position: positions[t])
                    hadamardRotate(p, count: D)
                    if quantize { fakeQuantizeFP4(p, count: D) }
                }
            }
        }
        var w = matmul(y, weightsProj)  // (T, heads)
        let wScale = 1 / (Float(D).squareRoot() * Float(heads).squareRoot())
        for i in 0..<w.storage.count { w.storage[i] *= wScale }

        var selections = [[Int]](repeating: [], count: T)
        for s in segments {
            q.storage.withUnsafeBufferPointer { qb in
                s.cache.indexerKeys.withUnsafeBufferPointer { kb in
                    for t in s.rows {
                        let visible = (positions[t] + 1) / compressor.ratio
                        guard visible > 0 else { continue }
                        var scores = [Float](repeating: 0, count: visible)
                        for j in 0..<visible {
                            let key = kb.baseAddress! + j * D
                            var score: Float = 0
                            for h in 0..<heads {
                                let qk = dot(qb.baseAddress! + (t * heads + h) * D, key, count: D)
                                if qk > 0 { score += w[t, h] * qk }
                            }
                            scores[j] = score
                        }
                        selections[t] = topKIndices(scores, k: min(topK, visible))
                    }
                }
            }
        }
        return selections
    }
}

/// Indices of the k largest scores, largest first. Exact ties go to the higher index (the order PyTorch's
/// CPU top-k produced for the reference; the golden fixtures contain no ties).
func topKIndices(_ scores: [Float], k: Int) -> [Int] {
    let order = scores.indices.sorted { a, b in
        scores[a] != scores[b] ? scores[a] > scores[b] : a > b
    }
    return Array(order.prefix(k))
}
