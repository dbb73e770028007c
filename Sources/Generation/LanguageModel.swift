// LanguageModel: what the generation loop needs from a model — the real DeepSeek V4, or a scripted fake
// in tests. The conformance of DeepSeekV4Model lives here, so the model target knows nothing of
// sessions and sampling.

import DeepSeekV4

public protocol LanguageModel: AnyObject, Sendable {
    associatedtype Cache
    var vocabularySize: Int { get }
    /// Largest number of positions a sequence may use.
    var contextLimit: Int { get }
    func makeCache() -> Cache
    /// An independent copy of a cache, to return to later.
    func copy(_ cache: Cache) -> Cache
    /// Runs `tokens` after what `cache` holds and returns the logits of the last one. `progress` is
    /// told how many of the tokens are done (long prefills).
    func forward(_ tokens: [Int], cache: Cache, progress: ((Int) -> Void)?) throws -> [Float]
    /// Runs several sequences (each with its own cache) in one pass; returns each one's last logits.
    func forwardBatch(_ batch: [(tokens: [Int], cache: Cache)]) throws -> [[Float]]
}

extension LanguageModel {
    /// One by one, for models without a batched pass.
    public func forwardBatch(_ batch: [(tokens: [Int], cache: Cache)]) throws -> [[Float]] {
        try batch.map { try forward($0.tokens, cache: $0.cache, progress: nil) }
    }
}

extension DeepSeekV4Model: LanguageModel {
    public var vocabularySize: Int { config.vocabSize }
    public var contextLimit: Int { maxContext }
    public func copy(_ cache: KVCache) -> KVCache { cache.copy() }

    public func forward(_ tokens: [Int], cache: KVCache, progress: ((Int) -> Void)?) throws -> [Float] {
        try prefill(tokens, cache: cache, chunkSize: 256, progress: progress).logits
    }

    public func forwardBatch(_ batch: [(tokens: [Int], cache: KVCache)]) throws -> [[Float]] {
        try forward(batch: batch).map(\.logits)
    }
}
