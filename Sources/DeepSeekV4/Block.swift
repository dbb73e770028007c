// One transformer block (spec §3.15): an attention site then an FFN site, each wrapped in its own
// hyper-connection (mHC) over the n residual streams.
//   X: (T, n·d) → X': (T, n·d)

import Kernels

struct Block: Sendable {
    let attentionHC: HyperConnection
    let attentionNorm: [Float]
    let attention: Attention
    let ffnHC: HyperConnection
    let ffnNorm: [Float]
    let moe: MoE
    let eps: Float

    /// X: (T, n·d) rows of one or more sequences (see Segment); tokens: the input id of each row.
    func callAsFunction(_ X: Matrix, tokens: [Int], segments: [Segment], quantize: Bool) -> Matrix {
        let n = attentionHC.streams
        var c = attentionHC.coefficients(X)
        var y = HyperConnection.collapse(X, weights: c.pre, streams: n)
        rmsNormRows(&y, weight: attentionNorm, eps: eps)
        let a = attention(y, segments: segments, quantize: quantize)
        let X1 = attentionHC.expand(X, sublayerOutput: a, c)

        c = ffnHC.coefficients(X1)
        y = HyperConnection.collapse(X1, weights: c.pre, streams: n)
        rmsNormRows(&y, weight: ffnNorm, eps: eps)
        let f = moe(y, tokens: tokens, quantize: quantize)
        return ffnHC.expand(X1, sublayerOutput: f, c)
    }
}
