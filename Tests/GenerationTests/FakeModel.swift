// A scripted language model: its logits are a fixed function of the whole token history, so any
// mistake in what a session feeds (a token twice, one missing, a wrong restore) changes them. It counts
// the tokens it computes.

import Foundation
@testable import Generation

final class FakeModel: LanguageModel, @unchecked Sendable {
    final class Cache { var tokens: [Int] = [] }

    let vocabularySize: Int
    let contextLimit: Int
    /// When set, the model strongly prefers this token sequence after the prompt, token by token:
    /// script[i] is favoured at the i-th step after any history ending in `trigger`.
    var script: [Int] = []
    private(set) var computed = 0
    private let lock = NSLock()

    init(vocabularySize: Int = 50, contextLimit: Int = 10_000) {
        self.vocabularySize = vocabularySize
        self.contextLimit = contextLimit
    }

    func makeCache() -> Cache { Cache() }
    func copy(_ cache: Cache) -> Cache { let c = Cache(); c.tokens = cache.tokens; return c }

    func forward(_ tokens: [Int], cache: Cache, progress: ((Int) -> Void)?) throws -> [Float] {
        lock.lock()
        computed += tokens.count
        lock.unlock()
        cache.tokens += tokens
        progress?(tokens.count)
        return logits(for: cache.tokens)
    }

    /// Deterministic pseudo-random logits from the history hash.
    func logits(for history: [Int]) -> [Float] {
        var h: UInt64 = 1469598103934665603
        for t in history { h = (h ^ UInt64(t)) &* 1099511628211 }
        var out = (0..<vocabularySize).map { i -> Float in
            var z = h &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 31)) &* 0xBF58_476D_1CE4_E5B9
            return Float(z >> 40) / Float(1 << 24)
        }
        if let step = scriptStep(history), step < script.count { out[script[step]] += 100 }
        return out
    }

    /// Number of tokens after the last occurrence of token 0 (the "prompt end" marker of scripted tests).
    private func scriptStep(_ history: [Int]) -> Int? {
        guard !script.isEmpty, let last = history.lastIndex(of: 0) else { return nil }
        return history.count - 1 - last
    }
}
