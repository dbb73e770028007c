// LogitsRun: the checking protocol behind `narwhal logits` and the golden fixtures — prefill the prompt
// from a fresh state, then decode one token per step (the given tokens in order, i.e. teacher forcing, or
// greedy: each step feeds the previous argmax), optionally running the MTP block on the prompt's final
// state with the next-token ids (position t gets token t+1, the last one gets `mtpNext`).

public struct LogitsRun: Sendable {
    /// logits of the last prompt token: (V)
    public var prefillLogits: [Float]
    /// one row per decode step: (steps, V)
    public var decodeLogits: [[Float]]
    /// the token fed at each decode step
    public var tokens: [Int]
    /// MTP logits of the last prompt position: (V), when requested
    public var mtpLogits: [Float]?
}

extension DeepSeekV4Model {
    /// - Parameters:
    ///   - feed: tokens to feed one per step; when nil, `greedySteps` steps feed back their own argmax.
    ///   - mtpNext: the token after the prompt; runs the MTP block when given.
    public func runLogits(prompt: [Int], feed: [Int]?, greedySteps: Int = 0, mtpNext: Int? = nil) throws -> LogitsRun {
        let cache = makeCache()
        let prefill = try self.prefill(prompt, cache: cache, keepFinalState: mtpNext != nil)
        var run = LogitsRun(prefillLogits: prefill.logits, decodeLogits: [], tokens: [], mtpLogits: nil)
        if let next = mtpNext {
            run.mtpLogits = try mtpLogits(finalState: prefill.finalState, nextTokens: Array(prompt.dropFirst()) + [next], cache: makeMTPCache())
        }
        var last = prefill.logits
        for j in 0..<(feed?.count ?? max(0, greedySteps)) {
            let token = feed?[j] ?? Self.argmax(last)
            last = try forward([token], cache: cache).logits
            run.tokens.append(token)
            run.decodeLogits.append(last)
        }
        return run
    }

    /// Index of the largest value (the first one on ties).
    public static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }
}
