// Session: one timeline of tokens and the model state that holds them. `sync(prompt)` makes the state
// hold exactly the prompt while computing as little as possible: it keeps the longest common prefix
// with what is already held, or returns to a snapshot when the prompt departs from the held tokens
// earlier (the V4 state — sliding window, compressor tails — cannot be truncated in place).
//
// Snapshots are taken one token before the end of every synced prompt: a chat's next prompt repeats the
// previous one up to its final `<think>` / `</think>` (in thinking mode the earlier reasoning is dropped
// from the history, so the prompts part right there), so the next turn resumes from that snapshot and
// computes only the new tokens.
//
// With a `PrefixCache` (disk), the same snapshot points are also saved to disk — one token before the end
// of every prompt, every `snapshotInterval` tokens of a long prompt (the prefill is split there), and the
// end of every answer (`persist()`) — and a prompt starts from the longest prefix found in memory or on
// disk, whichever is longer.

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
    /// Where snapshots are also saved and looked up (nil: memory only).
    let diskCache: PrefixCache?

    init(batcher: Batcher<Model>, maxSnapshots: Int = 4, diskCache: PrefixCache? = nil) {
        self.model = batcher.model
        self.batcher = batcher
        self.diskCache = diskCache
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
        if !restoreFromDisk(prompt, memoryTarget: target), target < tokens.count { restore(upTo: target, prompt: prompt) }
        let reused = tokens.count
        let total = prompt.count - reused
        let end = prompt.count - 1
        // Long prompts stop at every multiple of the disk cache's interval to save a snapshot there.
        let interval = diskCache?.snapshotInterval ?? 0
        while tokens.count < end {
            var stop = end
            if interval > 0 { stop = min(end, (tokens.count / interval + 1) * interval) }
            let base = tokens.count - reused
            try await feed(Array(prompt[tokens.count..<stop])) { progress?(base + $0, total) }
            if stop < end { persist() }
        }
        takeSnapshot()
        persist()
        let logits = try await feed([prompt[prompt.count - 1]], progress: nil)
        progress?(total, total)
        return (reused, logits)
    }

    /// Saves the current state to the disk cache (a copy, written in the background).
    public func persist() {
        guard let diskCache, !tokens.isEmpty else { return }
        let snapshot = model.copy(cache)
        let model = model
        diskCache.store(tokens: tokens) { model.encode(snapshot) }
    }

    /// Takes the longest prefix of `prompt` but its last token that the disk cache holds, when it is longer
    /// than what memory offers (the held tokens up to `memoryTarget`, or a snapshot). Returns whether it did.
    private func restoreFromDisk(_ prompt: [Int], memoryTarget target: Int) -> Bool {
        guard let diskCache else { return false }
        let inMemory = target == tokens.count ? target : (bestSnapshot(upTo: target, prompt: prompt)?.tokens.count ?? 0)
        while let hit = diskCache.load(prefixOf: prompt, longerThan: inMemory, atMost: prompt.count - 1) {
            do {
                cache = try model.decodeCache(hit.payload)
                tokens = hit.tokens
                lastLogits = nil
                return true
            } catch {
                // The file passed its checks but is not this model's state: drop it and look further.
                diskCache.discard(diskCache.key(hit.tokens), "the model cannot decode it: \(error)")
            }
        }
        return false
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
        if let best = bestSnapshot(upTo: target, prompt: prompt) {
            tokens = best.tokens
            cache = model.copy(best.cache)
        } else {
            tokens = []
            cache = model.makeCache()
        }
        lastLogits = nil
    }

    private func bestSnapshot(upTo target: Int, prompt: [Int]) -> (tokens: [Int], cache: Model.Cache)? {
        snapshots.filter { $0.tokens.count <= target && prompt.starts(with: $0.tokens) }
            .max { $0.tokens.count < $1.tokens.count }
    }
}
