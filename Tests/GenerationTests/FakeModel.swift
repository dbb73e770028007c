// A scripted language model: its logits are a fixed function of the whole token history, so any
// mistake in what a session feeds (a token twice, one missing, a wrong restore) changes them. It counts
// the tokens it computes.

import Foundation
@testable import Generation

final class FakeModel: LanguageModel, @unchecked Sendable {
    final class Cache { var tokens: [Int] = [] }

    let vocabularySize: Int
    let contextLimit: Int
    /// When set, the model strongly prefers `tokens[i]` after any history that is `prefix` plus i tokens.
    var script: (prefix: [Int], tokens: [Int])?
    private(set) var computed = 0
    /// Seconds to sleep per forward call (cancellation tests).
    var delay: Double = 0
    /// When set, every forward call first waits for a signal: a test holds the model mid-generation.
    var gate: DispatchSemaphore? {
        get { lock.lock(); defer { lock.unlock() }; return _gate }
        set { lock.lock(); _gate = newValue; lock.unlock() }
    }
    private var _gate: DispatchSemaphore?
    private let lock = NSLock()

    init(vocabularySize: Int = 50, contextLimit: Int = 10_000) {
        self.vocabularySize = vocabularySize
        self.contextLimit = contextLimit
    }

    /// Sizes of the batches the model was asked to run.
    private(set) var batchSizes: [Int] = []

    func forwardBatch(_ batch: [(tokens: [Int], cache: Cache)]) throws -> [[Float]] {
        lock.lock()
        batchSizes.append(batch.count)
        lock.unlock()
        return try batch.map { try forward($0.tokens, cache: $0.cache, progress: nil) }
    }

    /// Part of the cache identity: tests change it to play another model.
    var identity = "fake/v1"
    var cacheIdentity: String? { "\(identity) vocab=\(vocabularySize)" }
    func encode(_ cache: Cache) -> [UInt8] { cache.tokens.flatMap { t in withUnsafeBytes(of: UInt32(t).littleEndian) { Array($0) } } }
    func decodeCache(_ bytes: [UInt8]) throws -> Cache {
        struct Malformed: Error {}
        guard bytes.count % 4 == 0 else { throw Malformed() }
        let c = Cache()
        c.tokens = stride(from: 0, to: bytes.count, by: 4).map { i in
            Int(bytes[i..<(i + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        return c
    }

    func makeCache() -> Cache { Cache() }
    func copy(_ cache: Cache) -> Cache { let c = Cache(); c.tokens = cache.tokens; return c }

    func forward(_ tokens: [Int], cache: Cache, progress: ((Int) -> Void)?) throws -> [Float] {
        lock.lock()
        computed += tokens.count
        lock.unlock()
        gate?.wait()
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        cache.tokens += tokens
        progress?(tokens.count)
        return logits(for: cache.tokens)
    }

    /// Deterministic pseudo-random logits from the history hash.
    func logits(for history: [Int]) -> [Float] {
        var h: UInt64 = 1469598103934665603
        for t in history { h = (h ^ UInt64(t)) &* 1099511628211 }
        // Only the first 256 ids get varied logits (cheap at a 129K vocabulary); the rest are unlikely.
        var out = [Float](repeating: -30, count: vocabularySize)
        for i in 0..<min(256, vocabularySize) {
            var z = h &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 31)) &* 0xBF58_476D_1CE4_E5B9
            out[i] = Float(z >> 40) / Float(1 << 24) * 4
        }
        if let script, history.starts(with: script.prefix) {
            let step = history.count - script.prefix.count
            if step < script.tokens.count { out[script.tokens[step]] += 100 }
        }
        return out
    }
}
