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
// the indexer and the attention itself run per sequence on its own cache. Keys are decoded from the cache's
// storage format once per row (CSA selections) or once per call (window ring, HCA entries) into float32 and
// shared by all heads, which run in parallel.

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

        let input = LinearInput(y, quantize: quantize)  // W_qa and W_kv share it
        var cq = wqA(input)
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
        var kv = wkv(input)  // (T, D)
        rmsNormRows(&kv, weight: kvNorm, eps: eps)
        kv.storage.withUnsafeMutableBufferPointer { kb in
            for t in 0..<T {
                let p = kb.baseAddress! + t * D
                rope.apply(p + ropeOffset, position: positions[t])
                if quantize { fakeQuantizeFP8(p, count: ropeOffset, block: 64) }
            }
            // A native cache keeps the RoPE dims in BF16: round them now, so this call's rows equal the rows
            // later calls read back from the cache.
            for s in segments {
                for t in s.rows { s.cache.windowRows.layout.roundTail(kb.baseAddress! + t * D) }
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

    /// Rows attended together: their CSA keys are gathered at once (bounded scratch), then all their heads run in parallel.
    static let rowsPerGroup = 16
    /// Heads of one row per work item of the attention proper (a multiple of the three the kernel takes at once).
    static let headsPerItem = 6

    /// Sparse sink attention of one sequence's rows, then its window ring update. Each (row, head) is computed by
    /// the same code whatever the batch, chunking or thread count (a head's result does not depend on the heads
    /// beside it), so results do not depend on them.
    private func attend(q: Matrix, kv: Matrix, segment s: Segment, selections: [[Int]]?, into o: inout Matrix) {
        let H = heads, D = headDim, W = window
        let ropeOffset = D - rope.dim
        let cache = s.cache
        let first = s.rows.lowerBound, T = s.rows.count
        let scale = 1 / Float(D).squareRoot()
        // Window rows written before this call (positions ringFirst ..< start), decoded once: (start − ringFirst, D).
        let ringFirst = max(0, s.start - W + 1)
        var ring = [Float](repeating: 0, count: (s.start - ringFirst) * D)
        ring.withUnsafeMutableBufferPointer { r in
            for pos in ringFirst..<s.start { cache.windowRows.decode((pos % W)..<(pos % W + 1), into: r.baseAddress! + (pos - ringFirst) * D) }
        }
        // HCA attends to every complete block: the entries visible to the last row, decoded once: (n, D).
        let dense = ratio > 0 && selections == nil ? cache.compressed.decoded(0..<((s.start + T) / ratio)) : []
        // CSA: each row's selected entries are gathered into its own scratch (selections ≤ index_topk per row).
        let maxSelected = selections.map { sel in s.rows.map { sel[$0].count }.max() ?? 0 } ?? 0
        let maxKeys = W + (selections == nil ? dense.count / D : maxSelected)
        let G = Self.rowsPerGroup
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: max(1, G * maxSelected * D))
        let keyLists = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: G * maxKeys)
        let keyCounts = UnsafeMutablePointer<Int>.allocate(capacity: G)
        defer {
            gathered.deallocate()
            keyLists.deallocate()
            keyCounts.deallocate()
        }
        q.storage.withUnsafeBufferPointer { qb in
            kv.storage.withUnsafeBufferPointer { kb in
                ring.withUnsafeBufferPointer { rb in
                    dense.withUnsafeBufferPointer { db in
                        o.storage.withUnsafeMutableBufferPointer { ob in
                            for groupStart in stride(from: 0, to: T, by: G) {
                                let groupRows = min(G, T - groupStart)
                                // Key pointers of each row: window (ring, then this call's kv), then compressed entries.
                                parallelFor(groupRows) { i in
                                    let t = first + groupStart + i
                                    let p = s.position(ofRow: t)
                                    let keys = keyLists + i * maxKeys
                                    var n = 0
                                    for pos in max(0, p - W + 1)...p {
                                        keys[n] = pos >= s.start ? kb.baseAddress! + (first + pos - s.start) * D : rb.baseAddress! + (pos - ringFirst) * D
                                        n += 1
                                    }
                                    if let selections {
                                        let scratch = gathered + i * maxSelected * D
                                        for (k, j) in selections[t].enumerated() {
                                            cache.compressed.decode(j..<(j + 1), into: scratch + k * D)
                                            keys[n] = UnsafePointer(scratch + k * D)
                                            n += 1
                                        }
                                    } else if ratio > 0 {
                                        for j in 0..<((p + 1) / ratio) {
                                            keys[n] = db.baseAddress! + j * D
                                            n += 1
                                        }
                                    }
                                    keyCounts[i] = n
                                }
                                // A row's heads share its keys: blocks of them per work item (one row still
                                // splits across the threads when decoding).
                                let blocks = (H + Self.headsPerItem - 1) / Self.headsPerItem
                                parallelFor(groupRows * blocks) { item in
                                    let i = item / blocks, h0 = item % blocks * Self.headsPerItem
                                    let heads = min(Self.headsPerItem, H - h0)
                                    let t = first + groupStart + i
                                    let out = ob.baseAddress! + (t * H + h0) * D
                                    let keys = UnsafeBufferPointer(start: keyLists + i * maxKeys, count: keyCounts[i])
                                    sink.withUnsafeBufferPointer { sinks in
                                        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * keys.count) { logits in
                                            sinkAttention(out: out, ldo: D, queries: qb.baseAddress! + (t * H + h0) * D, ldq: D,
                                                          heads: heads, keys: keys, dim: D, scale: scale,
                                                          sinks: sinks.baseAddress! + h0, logits: logits.baseAddress!)
                                        }
                                    }
                                    for h in 0..<heads {
                                        rope.apply(out + h * D + ropeOffset, position: s.position(ofRow: t), inverse: true)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Keep the last W rows of the window for the next call.
        cache.windowRows.grow(to: min(W, s.start + T))
        kv.storage.withUnsafeBufferPointer { kb in
            for t in max(first, s.rows.upperBound - W)..<s.rows.upperBound {
                cache.windowRows.set(s.position(ofRow: t) % W, kb.baseAddress! + t * D)
            }
        }
    }
}
