// Batcher: continuous batching. Every generation hands its next forward step (a decode token, or a
// chunk of its prompt) to the batcher and awaits the logits; one worker thread runs whatever is pending
// as a single batched forward pass, so the weights are read once per step for all sequences — on a
// CPU, where decoding is bound by memory bandwidth, that is where serving throughput comes from.
//
// Long prompts are fed in chunks of `prefillChunk` tokens, one chunk per step, so a big prefill
// delays the other sequences' tokens by one chunk at a time instead of stalling them.

import Foundation

final class Batcher<Model: LanguageModel>: @unchecked Sendable {
    private struct Request {
        let id: Int
        var tokens: ArraySlice<Int>
        let cache: Model.Cache
        let progress: ((Int) -> Void)?
        var done = 0
        let continuation: CheckedContinuation<[Float], any Error>
    }

    let model: Model
    let prefillChunk: Int
    private let condition = NSCondition()
    private var pending: [Request] = []
    private var nextID = 0
    /// Generations in progress: after a step, the worker waits briefly for all of them to submit their
    /// next token so they share one pass.
    private var active = 0
    /// Duration of the last forward step (only the worker thread touches it).
    private var lastStepSeconds: Double = 0
    /// The least time a step waits for stragglers.
    let minimumWait: TimeInterval

    init(model: Model, prefillChunk: Int = 256, minimumWait: TimeInterval = 0.002) {
        self.model = model
        self.prefillChunk = prefillChunk
        self.minimumWait = minimumWait
        let thread = Thread { [weak self] in self?.run() }
        thread.name = "narwhal-batcher"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// A generation starts / ends (see `active`).
    func begin() { condition.lock(); active += 1; condition.unlock() }
    func end() { condition.lock(); active -= 1; condition.broadcast(); condition.unlock() }

    /// Runs `tokens` after what `cache` holds (in one or more steps) and returns the last logits.
    func forward(_ tokens: [Int], cache: Model.Cache, progress: ((Int) -> Void)? = nil) async throws -> [Float] {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            pending.append(Request(id: nextID, tokens: tokens[...], cache: cache, progress: progress, continuation: continuation))
            nextID += 1
            condition.broadcast()
            condition.unlock()
        }
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            // Give the other running generations a moment to submit their next token (they are sampling
            // the last one). A straggler left out costs a whole extra pass over the weights, so the wait
            // scales with the step time: up to a quarter of the last step, and at least `minimumWait`.
            let deadline = Date().addingTimeInterval(max(minimumWait, lastStepSeconds / 4))
            while pending.count < active && condition.wait(until: deadline) {}
            var batch = pending
            pending.removeAll()
            condition.unlock()

            let steps = batch.map { r in (tokens: Array(r.tokens.prefix(prefillChunk)), cache: r.cache) }
            do {
                let start = Date()
                let logits = try model.forwardBatch(steps)
                lastStepSeconds = Date().timeIntervalSince(start)
                var unfinished: [Request] = []
                for i in batch.indices {
                    batch[i].tokens = batch[i].tokens.dropFirst(steps[i].tokens.count)
                    batch[i].done += steps[i].tokens.count
                    batch[i].progress?(batch[i].done)
                    if batch[i].tokens.isEmpty {
                        batch[i].continuation.resume(returning: logits[i])
                    } else {
                        unfinished.append(batch[i])
                    }
                }
                if !unfinished.isEmpty {
                    condition.lock()
                    pending.insert(contentsOf: unfinished, at: 0)
                    condition.unlock()
                }
            } catch {
                for r in batch { r.continuation.resume(throwing: error) }
            }
        }
    }
}
