// Engine: the narrow boundary between front ends (CLI, server) and the model. It owns the model, the
// tokenizer and the sessions (each one timeline with its KV state); front ends hand it a Conversation
// and options and read GenerationEvents from an async stream. Front ends never see tensors.
//
// Sessions are either named (the CLI's chat: one timeline) or anonymous slots (the server: `parallel`
// of them). A request without a name takes the free slot whose tokens share the longest prefix with its
// prompt — so a conversation that comes back computes only its new tokens — and waits in a bounded
// queue when all slots are busy; beyond that it is refused (`GenerationError.busy`). All running
// generations step together through one Batcher. Cancelling the reader of a stream (a client that
// disconnects, Ctrl-C) stops its generation between two tokens and frees its slot.
//
// With a `PrefixCache`, every session also saves its snapshots to disk and starts from the longest
// prefix stored there when that beats what the slots hold — across slots and across restarts.

import Foundation
import Tokenizers

public struct GenerationOptions: Sendable {
    public var sampling: SamplingParameters
    /// Most completion tokens; nil = until EOS or the context is full.
    public var maxTokens: Int?
    /// Stop strings: generation ends when one is produced; it is not part of the output.
    public var stop: [String]

    public init(sampling: SamplingParameters = SamplingParameters(), maxTokens: Int? = nil, stop: [String] = []) {
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
    }
}

/// What front ends (CLI, server) use; tests substitute a scripted engine.
public protocol ChatEngine: AnyObject, Sendable {
    var tokenizer: BPETokenizer { get }
    /// Most positions a sequence may use (prompt + completion).
    var contextLimit: Int { get }
    /// Anonymous slots generating at once.
    var parallel: Int { get }
    /// Requests waiting for a free slot.
    var queued: Int { get }
    /// The prompt tokens of a conversation.
    func promptTokens(_ conversation: Conversation) throws -> [Int]
    /// Generates the assistant's reply to `conversation`, on the named session or (nil) on a free slot.
    func generate(_ conversation: Conversation, options: GenerationOptions, session id: String?) -> GenerationStream
    /// Generates a continuation of raw prompt tokens, parsed as a completion in `thinkingMode`.
    func generate(prompt: [Int], thinkingMode: ThinkingMode, options: GenerationOptions, session id: String?) -> GenerationStream
    /// Forgets a named session's state.
    func reset(session id: String)
}

public final class Engine<Model: LanguageModel>: ChatEngine, @unchecked Sendable {
    public let model: Model
    public let tokenizer: BPETokenizer
    /// Anonymous slots run at once; more requests wait (up to `queueLimit`), then are refused.
    public let parallel: Int
    public let queueLimit: Int
    let batcher: Batcher<Model>
    /// Model states saved on disk by token prefix (nil: memory only).
    public let prefixCache: PrefixCache?

    private let lock = NSLock()
    private var named: [String: Session<Model>] = [:]
    private var namedBusy: Set<String> = []
    private var slots: [Session<Model>]
    private var slotBusy: [Bool]
    private var slotLastUsed: [Int]
    private var clock = 0
    private var waiting = 0

    /// `batchWait`: the least time a step waits for the other running generations to submit their next
    /// token (it waits at least a quarter of the last step; see Batcher).
    public init(model: Model, tokenizer: BPETokenizer, parallel: Int = 1, queueLimit: Int = 16, prefixCache: PrefixCache? = nil,
                batchWait: TimeInterval = 0.002) {
        self.model = model
        self.prefixCache = prefixCache
        self.tokenizer = tokenizer
        self.parallel = max(1, parallel)
        self.queueLimit = max(0, queueLimit)
        let batcher = Batcher(model: model, minimumWait: batchWait)
        self.batcher = batcher
        slots = (0..<max(1, parallel)).map { _ in Session(batcher: batcher, diskCache: prefixCache) }
        slotBusy = Array(repeating: false, count: max(1, parallel))
        slotLastUsed = Array(repeating: 0, count: max(1, parallel))
    }

    public var contextLimit: Int { model.contextLimit }

    /// The prompt tokens of a conversation.
    public func promptTokens(_ conversation: Conversation) throws -> [Int] {
        try DeepSeekV4ChatFormat.tokenIDs(for: conversation, tokenizer: tokenizer)
    }

    public func reset(session id: String) {
        lock.lock()
        named[id] = nil
        lock.unlock()
    }

    public func generate(_ conversation: Conversation, options: GenerationOptions, session id: String? = "default")
        -> GenerationStream
    {
        do {
            let prompt = try promptTokens(conversation)
            return generate(prompt: prompt, thinkingMode: conversation.thinkingMode, options: options, session: id)
        } catch {
            return .failing(error)
        }
    }

    public func generate(prompt: [Int], thinkingMode: ThinkingMode, options: GenerationOptions, session id: String? = "default")
        -> GenerationStream
    {
        // Refuse at once when the queue is full, before any stream exists.
        if id == nil {
            lock.lock()
            let full = !slotBusy.contains(false) && waiting >= queueLimit
            lock.unlock()
            if full { return .failing(GenerationError.busy(queued: queueLimit)) }
        }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let task = Task.detached { [self] in
            do {
                let (session, release) = try await acquire(id, prompt: prompt)
                defer { release() }
                batcher.begin()
                defer { batcher.end() }
                var loop = GenerationLoop(session: session, tokenizer: tokenizer, prompt: prompt, thinkingMode: thinkingMode, options: options)
                try await loop.run { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return GenerationStream(events: stream, task: task)
    }

    /// Takes a session for one generation: the named one (waiting while it is busy), or the best free
    /// slot (waiting in the bounded queue while none is free).
    private func acquire(_ id: String?, prompt: [Int]) async throws -> (Session<Model>, @Sendable () -> Void) {
        var queued = false
        defer { if queued { leaveQueue() } }
        while true {
            try Task.checkCancellation()
            if let taken = try tryAcquire(id, prompt: prompt, queued: &queued) { return taken }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    private func leaveQueue() {
        lock.lock()
        waiting -= 1
        lock.unlock()
    }

    private func tryAcquire(_ id: String?, prompt: [Int], queued: inout Bool) throws -> (Session<Model>, @Sendable () -> Void)? {
        lock.lock()
        defer { lock.unlock() }
        if let id {
            guard !namedBusy.contains(id) else { return nil }
            namedBusy.insert(id)
            let s = named[id] ?? Session(batcher: batcher, diskCache: prefixCache)
            named[id] = s
            return (s, { [self] in lock.lock(); namedBusy.remove(id); lock.unlock() })
        }
        if let slot = bestFreeSlot(for: prompt) {
            slotBusy[slot] = true
            clock += 1
            slotLastUsed[slot] = clock
            return (slots[slot], { [self] in lock.lock(); slotBusy[slot] = false; lock.unlock() })
        }
        if !queued {
            guard waiting < queueLimit else { throw GenerationError.busy(queued: queueLimit) }
            waiting += 1
            queued = true
        }
        return nil
    }

    /// The free slot to use for `prompt`: the one whose held tokens are mostly a prefix of it (at least
    /// half of them shared — a conversation coming back), else the least recently used one, so that
    /// unrelated requests do not evict each other's conversations.
    private func bestFreeSlot(for prompt: [Int]) -> Int? {
        var reuse: (slot: Int, common: Int)?
        var lru: Int?
        for i in slots.indices where !slotBusy[i] {
            let held = slots[i].tokens
            var common = 0
            while common < min(held.count, prompt.count) && held[common] == prompt[common] { common += 1 }
            if common > 0 && 2 * common >= held.count && common > (reuse?.common ?? 0) { reuse = (i, common) }
            if lru == nil || slotLastUsed[i] < slotLastUsed[lru!] { lru = i }
        }
        return reuse?.slot ?? lru
    }

    /// Whether a generation is running on the named session `id`, e.g. one whose reader stopped but which
    /// is still finishing its current step (the next generation on the session waits for it).
    public func isBusy(session id: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return namedBusy.contains(id)
    }

    /// Returns once no generation runs on the named session `id`, so a front end can say why the next
    /// answer is late and time it from when it really starts.
    public func waitUntilIdle(session id: String) async {
        while isBusy(session: id) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Number of requests waiting for a slot.
    public var queued: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiting
    }
}

/// One generation: sync the prompt, then sample → detokenize → stop strings → completion parser, one
/// token at a time.
struct GenerationLoop<Model: LanguageModel> {
    let session: Session<Model>
    let tokenizer: BPETokenizer
    let prompt: [Int]
    let thinkingMode: ThinkingMode
    let options: GenerationOptions

    mutating func run(_ emit: @escaping (GenerationEvent) -> Void) async throws {
        try options.sampling.validate()
        let limit = session.model.contextLimit
        guard prompt.count < limit else { throw GenerationError.contextTooLong(tokens: prompt.count + 1, limit: limit) }
        if let m = options.maxTokens, m < 1 { throw GenerationError.invalidParameter(name: "max_tokens", expected: ">= 1") }
        let maxTokens = min(options.maxTokens ?? Int.max, limit - prompt.count)

        let (reused, firstLogits) = try await session.sync(prompt) { done, total in emit(.prefill(done: done, total: total)) }
        var usage = Usage(promptTokens: prompt.count, cachedPromptTokens: reused)
        var logits = firstLogits
        var sampler = Sampler(parameters: options.sampling)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var stopper = StopMatcher(stops: options.stop)
        var parser = IncrementalCompletionParser(thinkingMode: thinkingMode)
        var parserFailed = false
        var calledTools = false
        let eos = tokenizer.eosTokenID
        let thinkEnd = tokenizer.tokenID(DeepSeekV4ChatFormat.Token.thinkingEnd)
        var reasoning = thinkingMode == .thinking
        var generated: [Int] = []
        var reason = FinishReason.length

        func parse(_ text: String, finish: Bool) {
            guard !parserFailed else { return }
            do {
                var events = try parser.feed(text)
                if finish { events += try parser.finish() }
                for e in events {
                    switch e {
                    case .reasoning(let t): if !t.isEmpty { emit(.reasoning(t)) }
                    case .content(let t): if !t.isEmpty { emit(.content(t)) }
                    case .toolCall(let call): calledTools = true; emit(.toolCall(call))
                    case .end: break
                    }
                }
            } catch {
                // Malformed output (e.g. broken DSML): what was already emitted stands; the rest is dropped.
                parserFailed = true
            }
        }

        while generated.count < maxTokens {
            try Task.checkCancellation()
            let recent = (prompt.suffix(options.sampling.repetitionWindow) + generated).suffix(options.sampling.repetitionWindow)
            let choice = sampler.sample(logits, generated: generated, recent: recent)
            let token = choice.token
            generated.append(token)
            if reasoning {
                usage.reasoningTokens += 1
                if token == thinkEnd { reasoning = false }
            }
            let piece = detokenizer.append(token)
            if options.sampling.logprobs != nil { emit(.logprobs(logprobs(choice))) }
            if token == eos {
                parse(stopper.flush() + piece + detokenizer.flush(), finish: true)
                reason = .stop
                break
            }
            parse(stopper.feed(piece), finish: false)
            if stopper.stopped {
                reason = .stop
                break
            }
            if generated.count == maxTokens { break }
            logits = try await session.append(token)
        }
        if generated.last != eos {
            // Stopped by a stop string or the limit: close the completion as the model would have.
            let rest = stopper.stopped ? "" : stopper.flush() + detokenizer.flush()
            parse(rest + DeepSeekV4ChatFormat.Token.eos, finish: true)
        }
        usage.completionTokens = generated.count
        // The answer's end is a prefix of the conversation's next prompt.
        session.persist()
        if calledTools && reason == .stop { reason = .toolCalls }
        if let matched = stopper.matched { emit(.stopSequence(matched)) }
        emit(.finish(reason, usage))
    }

    private func logprobs(_ c: Sampler.Choice) -> TokenLogprobs {
        func entry(_ token: Int, _ lp: Float) -> TokenLogprobs.Entry {
            let text = tokenizer.decode([token])
            return TokenLogprobs.Entry(id: token, token: text, bytes: Array(text.utf8), logprob: lp)
        }
        return TokenLogprobs(chosen: entry(c.token, c.logprob ?? 0), top: c.alternatives.map { entry($0.token, $0.logprob) })
    }
}
