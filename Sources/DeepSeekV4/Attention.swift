// Attention of DeepSeek V4 (spec §3.4): one shared K=V latent per token (MQA, head_dim values), queries
// through a low-rank path with a per-head RMS normalisation, RoPE on the last dims, sparse attention
// over (sliding window ∪ compressed entries) with a learned sink, inverse RoPE on the output, and a
// grouped low-rank output projection.
//
//   y: (T, d) → c_q = q_norm(W_qa y): (T, q_lora) → q = W_qb c_q: (T, H, D)
//   kv = kv_norm(W_kv y): (T, D); FP8 fake-quant of kv[0 ..< D − rope]
//   index set of the query at p: window p−W+1 … p, plus HCA: all complete blocks, CSA: indexer top-k
//   o_h = Σ_i softmax_i(q_h·k_i / √D ; sink_h) k_i,  inverse RoPE at p
//   out = W_ob · concat_g(W_oa[g] · o_group(g))
//
// The rows of y may belong to several sequences (a batch of decode steps, or chunks of prompts): every
// projection runs once over all rows, so each weight is read once per batch; positions, compressors,
// the indexer and the attention itself run per sequence on its own cache.

import Foundation
import Kernels

/// The rows of a batch that belong to one sequence.
struct Segment {
    /// Rows of the batch matrices.
    let rows: Range<Int>
    /// Position of the first of these rows in its sequence.
    let start: Int
    let cache: KVCache.Layer

    func position(ofRow t: Int) -> Int { start + (t - rows.lowerBound) }
}

struct Attention: Sendable {
    let heads: Int
    let headDim: Int
    let window: Int
    let ratio: Int
    let eps: Float
    let wqA: Linear
    let qNorm: [Float]
    let wqB: Linear
    let wkv: Linear
    let kvNorm: [Float]
    let woA: WeightMatrix  // (G·o_lora, H·D/G) FP8; input not quantized (the reference keeps it BF16)
    let woB: Linear        // (d, G·o_lora)
    let groups: Int
    let oLoraRank: Int
    let sink: [Float]      // (H)
    let rope: RoPE
    let compressor: Compressor?
    let indexer: Indexer?

    func callAsFunction(_ y: Matrix, segments: [Segment], quantize: Bool) -> Matrix {
        let T = y.rows, H = heads, D = headDim
        let ropeOffset = D - rope.dim
        var positions = [Int](repeating: 0, count: T)
        for s in segments { for t in s.rows { positions[t] = s.position(ofRow: t) } }

        var cq = wqA(y, quantize: quantize)
        rmsNormRows(&cq, weight: qNorm, eps: eps)
        var q = wqB(cq, quantize: quantize)  // (T, H·D)
        q.storage.withUnsafeMutableBufferPointer { qb in
            for t in 0..<T {
                for h in 0..<H {
                    let p = qb.baseAddress! + (t * H + h) * D
                    rmsNorm(p, count: D, weight: nil, eps: eps)
                    rope.apply(p + ropeOffset, position: positions[t])
                }
            }
        }
        var kv = wkv(y, quantize: quantize)  // (T, D)
        rmsNormRows(&kv, weight: kvNorm, eps: eps)
        kv.storage.withUnsafeMutableBufferPointer { kb in
            for t in 0..<T {
                let p = kb.baseAddress! + t * D
                rope.apply(p + ropeOffset, position: positions[t])
                if quantize { fakeQuantizeFP8(p, count: ropeOffset, block: 64) }
            }
        }

        // Compressed entries completed by these tokens, then the indexer's choice among them.
        if let compressor {
            let projected = compressor.project(y)
            for s in segments {
                var state = s.cache.compressor!
                compressor.append(projected, rows: s.rows, start: s.start, state: &state, entries: &s.cache.compressed,
                                  rope: rope, quantize: quantize)
                s.cache.compressor = state
            }
        }
        let selections = indexer?.select(y: y, cq: cq, segments: segments, positions: positions, rope: rope, quantize: quantize)

        var o = Matrix(rows: T, cols: H * D)
        for s in segments {
            attend(q: q, kv: kv, segment: s, selections: selections, into: &o)
        }

        // Grouped output projection: group g of H/G heads → o_lora values, through its rows of W_oa.
        var v = Matrix(rows: T, cols: groups * oLoraRank)
        let groupWidth = H * D / groups
        v.storage.withUnsafeMutableBufferPointer { vb in
            o.storage.withUnsafeBufferPointer { ob in
                for g in 0..<groups {
                    matmul(out: vb.baseAddress!, ldo: groups * oLoraRank, x: ob.baseAddress! + g * groupWidth, ldx: H * D, T: T,
                           weight: woA, rowRange: (g * oLoraRank)..<((g + 1) * oLoraRank))
                }
            }
        }
        return woB(v, quantize: quantize)
    }

    /// Sparse sink attention of one sequence's rows, then its window ring update.
    private func attend(q: Matrix, kv: Matrix, segment s: Segment, selections: [[Int]]?, into o: inout Matrix) {
        let H = heads, D = headDim, W = window
        let ropeOffset = D - rope.dim
        let cache = s.cache
        let first = s.rows.lowerBound
        let scale = 1 / Float(D).squareRoot()
        q.storage.withUnsafeBufferPointer { qb in
            kv.storage.withUnsafeBufferPointer { kb in
                cache.windowRows.withUnsafeBufferPointer { ring in
                    cache.compressed.withUnsafeBufferPointer { comp in
                        o.storage.withUnsafeMutableBufferPointer { ob in
                            var keys: [UnsafePointer<Float>] = []
                            var logits: [Float] = []
                            for t in s.rows {
                                let p = s.position(ofRow: t)
                                keys.removeAll(keepingCapacity: true)
                                // Window: positions before this call come from the ring, the rest from kv.
                                for pos in max(0, p - W + 1)...p {
                                    keys.append(pos >= s.start ? kb.baseAddress! + (first + pos - s.start) * D : ring.baseAddress! + (pos % W) * D)
                                }
                                if ratio > 0 {
                                    if let selections {
                                        for j in selections[t] { keys.append(comp.baseAddress! + j * D) }
                                    } else {
                                        for j in 0..<((p + 1) / ratio) { keys.append(comp.baseAddress! + j * D) }
                                    }
                                }
                                for h in 0..<H {
                                    let qh = qb.baseAddress! + (t * H + h) * D
                                    let out = ob.baseAddress! + (t * H + h) * D
                                    sinkAttention(out: out, query: qh, keys: keys, dim: D, scale: scale, sink: sink[h], logits: &logits)
                                    rope.apply(out + ropeOffset, position: p, inverse: true)
                                }
                            }
                        }
                    }
                }
            }
        }
        // Keep the last W rows of the window for the next call.
        for t in max(first, s.rows.upperBound - W)..<s.rows.upperBound {
            let slot = s.position(ofRow: t) % W
            for i in 0..<D { cache.windowRows[slot * D + i] = kv[t, i] }
        }
    }
}

/// o = Σ_i softmax(z)_i k_i with z_i = scale · q·k_i and the sink logit in the denominator only:
///   o = Σ_i e^{z_i − M} k_i / (Σ_i e^{z_i − M} + e^{sink − M})
func sinkAttention(
    out: UnsafeMutablePointer<Float>, query: UnsafePointer<Float>, keys: [UnsafePointer<Float>], dim D: Int,
    scale: Float, sink: Float, logits: inout [Float]
) {
    logits.removeAll(keepingCapacity: true)
    var m = -Float.infinity
    for k in keys {
        let z = dot(query, k, count: D) * scale
        logits.append(z)
        m = max(m, z)
    }
    var denominator: Float = 0
    for i in 0..<D { out[i] = 0 }
    for (i, k) in keys.enumerated() {
        let e = expf(logits[i] - m)
        denominator += e
        for c in 0..<D { out[c] += e * k[c] }
    }
    denominator += expf(sink - m)
    let r = 1 / denominator
    for c in 0..<D { out[c] *= r }
}
