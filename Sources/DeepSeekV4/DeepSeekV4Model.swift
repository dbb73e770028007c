// DeepSeekV4Model: the whole network, top to bottom like the paper (spec §3.3):
//   X = expand(embed(ids))            (T, n·d), the embedding copied onto the n streams
//   X = Block_l(X) for every layer
//   h = norm(hc_head(X))              (T, d)
//   logits = h_last · headᵀ           (V), float32
// plus the MTP block (§3.11), which reads the final multi-stream state.
//
// `forward` takes any number of new tokens after what the cache already holds: a whole prompt, a chunk
// of one, or a single decode token; results do not depend on how a sequence is split into calls.
// Activations are float32 throughout; `quantizeActivations` switches the reference's three activation
// roundings (FP8 linear inputs, FP8 KV, FP4 indexer) — on for reference semantics, off for the fixtures'
// `noquant` validation mode.

import Foundation
import Kernels
import Weights

public final class DeepSeekV4Model: @unchecked Sendable {
    public let config: DeepSeekV4Config
    let embedding: WeightMatrix  // (V, d) BF16
    let blocks: [Block]
    let hyperHead: HyperHead
    let norm: [Float]
    let head: WeightMatrix       // (V, d) BF16
    let mtp: MTPBlock?
    /// Keeps the mapped checkpoint alive.
    let store: WeightStore
    /// Checkpoint tensors the model does not use (drafter stages of Flash-0731), for reporting.
    public let unusedTensors: [String]

    /// The reference's activation quantization (on by default).
    public var quantizeActivations = true

    /// How caches store their rows while activations are quantised (chosen at load, `.native` unless forced to
    /// `.float32`). Without activation quantisation the values are not FP8/FP4-rounded, so caches are float32.
    public internal(set) var kvFormat: KVCache.Format = .native

    /// The format of the caches `makeCache` makes now.
    public var cacheFormat: KVCache.Format { quantizeActivations ? kvFormat : .float32 }

    /// Most positions a sequence may use; config.json's max_position_embeddings unless lowered (or
    /// raised) by the user, e.g. to budget KV memory.
    public lazy var maxContext: Int = config.maxPositionEmbeddings

    init(config: DeepSeekV4Config, embedding: WeightMatrix, blocks: [Block], hyperHead: HyperHead, norm: [Float],
         head: WeightMatrix, mtp: MTPBlock?, store: WeightStore, unusedTensors: [String]) {
        self.config = config
        self.embedding = embedding
        self.blocks = blocks
        self.hyperHead = hyperHead
        self.norm = norm
        self.head = head
        self.mtp = mtp
        self.store = store
        self.unusedTensors = unusedTensors
    }

    public var hasMTP: Bool { mtp != nil }
    var streams: Int { config.hcMult }

    /// A fresh per-sequence state (empty caches, compressor states reset), in `cacheFormat`.
    public func makeCache() -> KVCache {
        KVCache(layers: (0..<config.numHiddenLayers).map { makeLayerCache(ratio: config.compressRatios[$0]) })
    }

    func makeLayerCache(ratio: Int) -> KVCache.Layer {
        KVCache.Layer(window: config.slidingWindow, format: cacheFormat, headDim: config.headDim, ropeDim: config.qkRopeHeadDim,
                      ratio: ratio, indexerWidth: config.indexHeadDim)
    }

    /// Bytes a cache made now holds after `context` tokens: the rows of `KVCache.Footprint` in `cacheFormat` plus the
    /// compressors' state. For refusing a request that does not fit before starting it.
    public func kvBytes(context: Int) -> Int {
        KVCache.Footprint(config: config, format: cacheFormat).bytes(context: context) + KVCache.compressorStateBytes(config: config)
    }

    /// The longest context, at most `limit`, whose cache takes at most `budget` bytes (0 when even one token's
    /// does not fit). The size grows with the context, so a binary search finds it.
    public func largestContext(fittingKVBytes budget: Int, upTo limit: Int) -> Int {
        guard limit > 0, kvBytes(context: 1) <= budget else { return 0 }
        var (low, high) = (1, limit)  // kvBytes(low) fits; the answer is in low...high
        while low < high {
            let mid = low + (high - low + 1) / 2
            if kvBytes(context: mid) <= budget { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// Result of one forward call over T new tokens.
    public struct Output {
        /// logits of the last token: (V)
        public var logits: [Float]
        /// multi-stream state after the last block, before the head merge: (T, n·d)
        public var finalState: Matrix
    }

    /// Runs `tokens` at positions cache.position ..< cache.position + T and advances the cache.
    public func forward(_ tokens: [Int], cache: KVCache) throws -> Output {
        try forward(batch: [(tokens, cache)])[0]
    }

    /// Runs several sequences in one pass: each entry's tokens after what its cache holds. Every weight
    /// is read once for the whole batch (the linears and experts see the rows of all sequences), which
    /// is where batched decoding gets its throughput; attention runs per sequence on its own cache.
    /// Results equal those of separate calls.
    public func forward(batch: [(tokens: [Int], cache: KVCache)]) throws -> [Output] {
        for (tokens, _) in batch {
            guard !tokens.isEmpty else { throw ModelError.emptyInput }
            try checkTokens(tokens)
        }
        guard Set(batch.map { ObjectIdentifier($0.cache) }).count == batch.count else { throw ModelError.sharedCache }
        let allTokens = batch.flatMap(\.tokens)
        var rows: [Range<Int>] = []
        var next = 0
        for (tokens, _) in batch {
            rows.append(next..<(next + tokens.count))
            next += tokens.count
        }
        var X = embed(allTokens)
        for (l, block) in blocks.enumerated() {
            let segments = zip(batch, rows).map { entry, r in Segment(rows: r, start: entry.cache.position, cache: entry.cache.layers[l]) }
            X = block(X, tokens: allTokens, segments: segments, quantize: quantizeActivations)
        }
        // The head reads its (V, d) weight once for the last rows of all sequences.
        var last = Matrix(rows: 0, cols: X.cols)
        for r in rows { last.storage += X.storage[((r.upperBound - 1) * X.cols)..<(r.upperBound * X.cols)]; last.rows += 1 }
        var h = hyperHead(last)
        rmsNormRows(&h, weight: norm, eps: config.rmsNormEps)
        let logits = matmul(h, head)
        return zip(batch, rows).enumerated().map { i, item in
            item.0.cache.position += item.1.count
            return Output(logits: logits.row(i), finalState: X.rows(item.1))
        }
    }

    /// Tokens per prefill chunk unless the caller chooses: bounds the activations' working memory.
    public static let defaultPrefillChunk = 512

    /// Prefill in chunks of at most `chunkSize` tokens (bounded working memory), returning the last
    /// logits and, if asked, the final state of every token (for the MTP block).
    public func prefill(_ tokens: [Int], cache: KVCache, chunkSize: Int = defaultPrefillChunk, keepFinalState: Bool = false,
                        progress: ((Int) -> Void)? = nil) throws -> Output {
        guard !tokens.isEmpty else { throw ModelError.emptyInput }
        var state = Matrix(rows: 0, cols: config.hiddenSize * streams)
        var last: Output?
        var i = 0
        while i < tokens.count {
            let chunk = Array(tokens[i..<min(i + max(1, chunkSize), tokens.count)])
            let out = try forward(chunk, cache: cache)
            if keepFinalState {
                state.storage.append(contentsOf: out.finalState.storage)
                state.rows += out.finalState.rows
            }
            last = out
            i += chunk.count
            progress?(i)
        }
        return Output(logits: last!.logits, finalState: keepFinalState ? state : last!.finalState)
    }

    /// Embedding rows: (T, d)
    func embedRows(_ tokens: [Int]) -> Matrix {
        let d = config.hiddenSize
        var E = Matrix(rows: tokens.count, cols: d)
        for (t, id) in tokens.enumerated() {
            E.storage.replaceSubrange((t * d)..<((t + 1) * d), with: embedding.dequantizedRows(id..<(id + 1)))
        }
        return E
    }

    /// Embedding rows copied onto the n streams: (T, n·d)
    func embed(_ tokens: [Int]) -> Matrix {
        let d = config.hiddenSize, n = streams
        let E = embedRows(tokens)
        var X = Matrix(rows: tokens.count, cols: n * d)
        for t in 0..<tokens.count {
            for j in 0..<n {
                X.storage.replaceSubrange((t * n * d + j * d)..<(t * n * d + (j + 1) * d), with: E.storage[(t * d)..<((t + 1) * d)])
            }
        }
        return X
    }

    /// Head merge, final norm and LM head on the last token: (V)
    func logits(_ X: Matrix, hyperHead: HyperHead, norm: [Float]) -> [Float] {
        var h = hyperHead(X.rows((X.rows - 1)..<X.rows))
        rmsNormRows(&h, weight: norm, eps: config.rmsNormEps)
        return matmul(h, head).storage
    }

    /// The head merge and final norm for every token (debugging / golden comparison): (T, d) twice.
    public func headInputs(_ X: Matrix) -> (merged: Matrix, normed: Matrix) {
        let merged = hyperHead(X)
        var normed = merged
        rmsNormRows(&normed, weight: norm, eps: config.rmsNormEps)
        return (merged, normed)
    }

    /// Runs block `layer` alone on a given multi-stream input with a fresh cache (teacher-forced
    /// per-block checks). X: (T, n·d) at positions 0 ..< T.
    public func runBlock(_ layer: Int, input X: Matrix, tokens: [Int]) -> Matrix {
        let cache = makeLayerCache(ratio: config.compressRatios[layer])
        return blocks[layer](X, tokens: tokens, segments: [Segment(rows: 0..<X.rows, start: 0, cache: cache)],
                             quantize: quantizeActivations)
    }

    /// The embedding on the n streams (the input of block 0).
    public func embeddingState(_ tokens: [Int]) throws -> Matrix {
        try checkTokens(tokens)
        return embed(tokens)
    }

    /// Logits of the last token from a final multi-stream state.
    public func logits(finalState X: Matrix) -> [Float] { logits(X, hyperHead: hyperHead, norm: norm) }

    func checkTokens(_ tokens: [Int]) throws {
        for t in tokens where t < 0 || t >= config.vocabSize {
            throw ModelError.tokenOutOfRange(token: t, vocabularySize: config.vocabSize)
        }
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case emptyInput
    case noMTP
    case contextFull(position: Int, limit: Int)
    case sharedCache
    case kvFormatNotStorable(KVCache.Format)

    public var description: String {
        switch self {
        case .tokenOutOfRange(let t, let v): "token id \(t) is outside the vocabulary (0 ..< \(v))"
        case .emptyInput: "no input tokens"
        case .noMTP: "this checkpoint has no MTP block (num_nextn_predict_layers = 0 or drafter stages only)"
        case .contextFull(let p, let l): "position \(p) is beyond the context limit \(l)"
        case .sharedCache: "a batch lists the same cache twice; each sequence needs its own"
        case .kvFormatNotStorable(let f): "the KV cache cannot be stored as \(f.rawValue); use native or float32"
        }
    }
}
