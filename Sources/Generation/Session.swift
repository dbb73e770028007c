// Session: one timeline of tokens and the model state that holds them. `sync(prompt)` makes the state
// hold exactly the prompt while computing as little as possible: it keeps the longest common prefix
// with what is already held, or returns to a snapshot when the prompt departs from the held tokens
// earlier (the V4 state — sliding window, compressor tails — cannot be truncated in place).
//
// Snapshots are taken one token before the end of every synced prompt: a chat's next prompt repeats the
// previous one up to its final `<think>` / `</think>` (in thinking mode the earlier reasoning is dropped
// from the history, so the prompts part right there), so the next turn resumes from that snapshot and
// computes only the new tokens.

public final class Session<Model: LanguageModel>: @unchecked Sendable {
    public let model: Model
    /// Runs the forward passes, batched with other sessions' steps.
    let batcher: Batcher<Model>
    /// The tokens the state holds, in order.
    public private(set) var tokens: [Int] = []
    private var cache: Model.Cache
    /// Logits after the last held token (nil when no token is held).
    private var lastLogits: [Float]?
    private var snapshots: [(tokens: [Int], cache: Model.Cache)] = []
    public let maxSnapshots: Int

    init(batcher: Batcher<Model>, maxSnapshots: Int = 4) {
        self.model = batcher.model
        self.batcher = batcher
        self.cache = model.makeCache()
        self.maxSnapshots = maxSnapshots
    }

    /// Forgets everything.
    public func reset() {
        tokens = []
        cache = model.makeCache()
        lastLogits = nil
        snapshots = []
    }

    /// Makes the state hold exactly `prompt` and returns how many of its tokens were reused (not
    /// recomputed) and the logits after its last token.
    public func sync(_ prompt: [Int], progress: ((Int, Int) -> Void)? = nil) async throws -> (reused: Int, logits: [Float]) {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard prompt.count <= model.contextLimit else {
            throw GenerationError.contextTooLong(tokens: prompt.count, limit: model.contextLimit)
        }
        var common = 0
        while common < min(tokens.count, prompt.count) && tokens[common] == prompt[common] { common += 1 }
        if common == prompt.count && common == tokens.count, let lastLogits { return (common, lastLogits) }

        // At least the last prompt token must be computed to get its logits.
        let target = min(common, prompt.count - 1)
        if target < tokens.count { restore(upTo: target, prompt: prompt) }
        let reused = tokens.count
        let total = prompt.count - reused
        if reused < prompt.count - 1 {
            try await feed(Array(prompt[reused..<(prompt.count - 1)])) { progress?($0, total) }
        }
        takeSnapshot()
        let logits = try await feed([prompt[prompt.count - 1]], progress: nil)
        progress?(total, total)
        return (reused, logits)
    }

    /// Feeds one more token (a sampled one) and returns the logits after it.
    public func append(_ token: Int) async throws -> [Float] {
        guard tokens.count < model.contextLimit else {
            throw GenerationError.contextTooLong(tokens: tokens.count + 1, limit: model.contextLimit)
        }
        return try await feed([token], progress: nil)
    }

    @discardableResult
    private func feed(_ new: [Int], progress: ((Int) -> Void)?) async throws -> [Float] {
        do {
            let logits = try await batcher.forward(new, cache: cache, progress: progress)
            tokens += new
            lastLogits = logits
            return logits
        } catch {
            // A failed forward leaves the state undefined: start over next time.
            reset()
            throw error
        }
    }

    private func takeSnapshot() {
        snapshots.removeAll { $0.tokens.count == tokens.count }
        snapshots.append((tokens, model.copy(cache)))
        if snapshots.count > maxSnapshots { snapshots.removeFirst() }
    }

    /// Returns to the latest snapshot whose tokens begin `prompt` and hold at most `target` tokens,
    /// or to the empty state.
    private func restore(upTo target: Int, prompt: [Int]) {
        let best = snapshots.filter { $0.tokens.count <= target && prompt.starts(with: $0.tokens) }
            .max { $0.tokens.count < $1.tokens.count }
        if let best {
            tokens = best.tokens
            cache = model.copy(best.cache)
        } else {
            tokens = []
            cache = model.makeCache()
        }
        lastLogits = nil
    }
}
