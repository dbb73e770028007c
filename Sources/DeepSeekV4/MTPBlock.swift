// Multi-token prediction block `mtp.0` (spec §3.11): reads the main model's final multi-stream state
// X^(L) (before the head merge) and the embedding of the NEXT token at each position, runs one
// sliding-window block (layer id = num_hidden_layers, score-routed) and its own head merge and norm,
// sharing the embedding and the LM head with the main model:
//   e = enorm(embed(next ids)),  x_j = hnorm(X^(L)_j),  X_j = W_e e + W_h x_j  →  Block  →  logits

import Kernels

struct MTPBlock: Sendable {
    let eProj: Linear  // (d, d) FP8
    let hProj: Linear  // (d, d) FP8
    let enorm: [Float]
    let hnorm: [Float]
    let block: Block
    let hyperHead: HyperHead
    let norm: [Float]
    let ratio: Int
}

extension DeepSeekV4Model {
    /// A fresh state for the MTP block (its own one-layer cache).
    public func makeMTPCache() -> KVCache {
        KVCache(layers: [makeLayerCache(ratio: mtp?.ratio ?? 0)])
    }

    /// MTP logits of the last position. finalState: (T, n·d) from the main model for positions
    /// cache.position ..< +T; nextTokens: the token following each of those positions.
    public func mtpLogits(finalState X: Matrix, nextTokens: [Int], cache: KVCache) throws -> [Float] {
        guard let mtp else { throw ModelError.noMTP }
        try checkTokens(nextTokens)
        precondition(nextTokens.count == X.rows, "one next token per state row")
        let T = X.rows, n = streams, d = config.hiddenSize
        let q = quantizeActivations
        var e = embedRows(nextTokens)
        rmsNormRows(&e, weight: mtp.enorm, eps: config.rmsNormEps)
        var x = Matrix(rows: T * n, cols: d, storage: X.storage)
        rmsNormRows(&x, weight: mtp.hnorm, eps: config.rmsNormEps)
        let pe = mtp.eProj(e, quantize: q)
        let ph = mtp.hProj(x, quantize: q)
        var Y = Matrix(rows: T, cols: n * d)
        for t in 0..<T {
            for j in 0..<n {
                for i in 0..<d { Y.storage[t * n * d + j * d + i] = pe.storage[t * d + i] + ph.storage[(t * n + j) * d + i] }
            }
        }
        let start = cache.position
        Y = mtp.block(Y, tokens: nextTokens, segments: [Segment(rows: 0..<T, start: start, cache: cache.layers[0])], quantize: q)
        cache.position += T
        return logits(Y, hyperHead: mtp.hyperHead, norm: mtp.norm)
    }
}
