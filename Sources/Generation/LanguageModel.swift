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

    /// What a saved cache's validity depends on (weights, config, numerics, storage format): caches are
    /// restored from disk only into a model with the same identity. nil: this model's caches are not saved.
    var cacheIdentity: String? { get }
    /// A cache as bytes, for the prefix cache on disk.
    func encode(_ cache: Cache) -> [UInt8]
    /// A cache from ``encode(_:)`` bytes; throws (never traps) on bytes that are not one of this model's.
    func decodeCache(_ bytes: [UInt8]) throws -> Cache
}

extension LanguageModel {
    /// One by one, for models without a batched pass.
    public func forwardBatch(_ batch: [(tokens: [Int], cache: Cache)]) throws -> [[Float]] {
        try batch.map { try forward($0.tokens, cache: $0.cache, progress: nil) }
    }

    /// Models that say nothing about persistence are never cached on disk.
    public var cacheIdentity: String? { nil }
    public func encode(_ cache: Cache) -> [UInt8] { [] }
    public func decodeCache(_ bytes: [UInt8]) throws -> Cache { throw PrefixCacheError.notPersistable }
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

    public var cacheIdentity: String? { kvCacheIdentity }
    public func encode(_ cache: KVCache) -> [UInt8] { cache.encoded() }
    public func decodeCache(_ bytes: [UInt8]) throws -> KVCache { try decodeKVCache(bytes) }
}
