// Mixture of experts (spec §3.9): a sqrt-softplus gate picks `num_experts_per_tok` routed experts per
// token — by the top-k of σ + bias on score-routed layers, by the fixed `tid2eid[token]` table on the first
// hash-routed layers — weighted by σ normalised over the chosen ones × route_scale; plus one shared expert.
// Each expert is a clamped SwiGLU:
//   g = min(W1 y, L),  u = clamp(W3 y, −L, L),  a = w_k · silu(g) · u,  out = W2 a
// (the routing weight is applied before W2, so the weighted activation is what W2's input quantization sees).
//
// Tokens are grouped by expert so each expert's weights are read once per call, not once per token.

import Foundation
import Kernels
import Weights

struct Expert: Sendable {
    let w1: Linear  // (I, d) gate
    let w2: Linear  // (d, I) down
    let w3: Linear  // (I, d) up

    /// y: (T, d), weights: one routing weight per row (1 for the shared expert) → (T, d)
    func callAsFunction(_ y: LinearInput, weights: [Float]?, limit: Float, quantize: Bool) -> Matrix {
        var g = w1(y)
        let u = w3(y)
        let I = g.cols
        g.storage.withUnsafeMutableBufferPointer { gb in
            u.storage.withUnsafeBufferPointer { ub in
                let gp = gb.baseAddress!, up = ub.baseAddress!
                parallelRows(g.rows, cols: I) { rows in
                    for t in rows {
                        let w = weights?[t] ?? 1
                        for i in 0..<I {
                            var gi = gp[t * I + i]
                            var ui = up[t * I + i]
                            if limit > 0 {
                                gi = min(gi, limit)
                                ui = min(max(ui, -limit), limit)
                            }
                            gp[t * I + i] = w * (gi / (1 + expf(-gi)) * ui)
                        }
                    }
                }
            }
        }
        return w2(g, quantize: quantize)
    }
}

struct MoE: Sendable {
    enum Routing: Sendable {
        /// top-k of σ + bias (bias affects the choice only)
        case score(bias: [Float])
        /// fixed table tid2eid: (vocab, k) I64
        case hash(table: TensorData)
    }

    let gate: WeightMatrix  // (E, d) BF16, used in float32 on an unquantized input
    let routing: Routing
    let experts: [Expert]
    let shared: Expert
    let topK: Int
    let routeScale: Float
    let swigluLimit: Float

    /// Chosen experts and their weights for each token: (T, k) each.
    func route(_ y: Matrix, tokens: [Int]) -> (experts: [Int], weights: [Float]) {
        let scores = matmul(y, gate)  // (T, E)
        let E = scores.cols
        var chosen = [Int](repeating: 0, count: y.rows * topK)
        var weights = [Float](repeating: 0, count: y.rows * topK)
        for t in 0..<y.rows {
            // σ = sqrt(softplus(s)), softplus with PyTorch's threshold 20.
            let sigma = (0..<E).map { e -> Float in
                let s = scores[t, e]
                return (s > 20 ? s : log1pf(expf(s))).squareRoot()
            }
            let idx: [Int]
            switch routing {
            case .score(let bias):
                // Largest first; exact ties to the lower index.
                idx = Array((0..<E).sorted { a, b in
                    let ka = sigma[a] + bias[a], kb = sigma[b] + bias[b]
                    return ka != kb ? ka > kb : a < b
                }.prefix(topK))
            case .hash(let table):
                idx = (0..<topK).map { k in
                    Int(table.bytes.loadUnaligned(fromByteOffset: (tokens[t] * topK + k) * 8, as: Int64.self))
                }
            }
            var sum: Float = 0
            for e in idx { sum += sigma[e] }
            for (k, e) in idx.enumerated() {
                chosen[t * topK + k] = e
                weights[t * topK + k] = sigma[e] / sum * routeScale
            }
        }
        return (chosen, weights)
    }

    /// y: (T, d) → (T, d)
    func callAsFunction(_ y: Matrix, tokens: [Int], quantize: Bool) -> Matrix {
        let (chosen, weights) = route(y, tokens: tokens)
        let d = y.cols
        let input = LinearInput(y, quantize: quantize)  // quantized once for the shared and every routed expert
        var out = shared(input, weights: nil, limit: swigluLimit, quantize: quantize)
        // Group the (token, slot) pairs by expert.
        var byExpert = [[(token: Int, weight: Float)]](repeating: [], count: experts.count)
        for t in 0..<y.rows {
            for k in 0..<topK { byExpert[chosen[t * topK + k]].append((t, weights[t * topK + k])) }
        }
        for (e, items) in byExpert.enumerated() where !items.isEmpty {
            let h = experts[e](input.rows(items.map(\.token)), weights: items.map(\.weight), limit: swigluLimit, quantize: quantize)
            // Experts in order, so each output row sums its experts in the same order; the columns are split
            // across threads (rows could repeat a token if a routing table named an expert twice).
            out.storage.withUnsafeMutableBufferPointer { ob in
                h.storage.withUnsafeBufferPointer { hb in
                    let op = ob.baseAddress!, hp = hb.baseAddress!
                    let width = 256, chunks = items.count * d >= 1 << 16 ? (d + width - 1) / width : 1
                    parallelFor(chunks) { chunk in
                        let columns = (chunk * d / chunks)..<((chunk + 1) * d / chunks)
                        for (r, item) in items.enumerated() {
                            let dst = op + item.token * d, src = hp + r * d
                            for i in columns { dst[i] += src[i] }
                        }
                    }
                }
            }
        }
        return out
    }
}
