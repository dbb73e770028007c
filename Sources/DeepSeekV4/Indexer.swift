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
        selections.withUnsafeMutableBufferPointer { selected in
            q.storage.withUnsafeBufferPointer { qb in
                w.storage.withUnsafeBufferPointer { wb in
                    for s in segments {
                        for group in stride(from: s.rows.lowerBound, to: s.rows.upperBound, by: Self.rowsPerGroup) {
                            let rows = group..<min(group + Self.rowsPerGroup, s.rows.upperBound)
                            score(rows: rows, keys: s.cache.indexerKeys, positions: positions, q: qb.baseAddress!, w: wb.baseAddress!,
                                  into: selected)
                        }
                    }
                }
            }
        }
        return selections
    }

    /// Rows scored together: each key block is decoded once for all of them; their scores take rows × visible floats.
    static let rowsPerGroup = 32
    /// Keys decoded and scored per work item.
    static let keysPerBlock = 64

    /// Scores the visible keys of consecutive rows of one sequence and picks each row's top-k. The key blocks run in
    /// parallel; a key's score is computed the same way whatever its block or group.
    private func score(rows: Range<Int>, keys: KVRows, positions: [Int], q: UnsafePointer<Float>, w: UnsafePointer<Float>,
                       into selected: UnsafeMutableBufferPointer<[Int]>) {
        let D = headDim, KB = Self.keysPerBlock
        func visible(_ t: Int) -> Int { (positions[t] + 1) / compressor.ratio }
        let width = visible(rows.upperBound - 1)  // positions increase along a sequence's rows
        guard width > 0 else { return }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * width)  // (rows, width)
        defer { scores.deallocate() }
        parallelFor((width + KB - 1) / KB) { b in
            let block = (b * KB)..<min((b + 1) * KB, width)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: KB * D) { decoded in
                keys.decode(block, into: decoded.baseAddress!)
                for t in rows where visible(t) > block.lowerBound {
                    indexerScores(out: scores + (t - rows.lowerBound) * width + block.lowerBound, queries: q + t * heads * D,
                                  weights: w + t * heads, heads: heads, keys: decoded.baseAddress!,
                                  count: min(block.upperBound, visible(t)) - block.lowerBound, dim: D)
                }
            }
        }
        parallelFor(rows.count) { i in
            let t = rows.lowerBound + i
            selected[t] = topKIndices(UnsafeBufferPointer(start: scores + i * width, count: visible(t)), k: min(topK, visible(t)))
        }
    }
}
