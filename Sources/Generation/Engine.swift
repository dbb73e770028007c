// Engine: the narrow boundary between front ends (CLI, server) and the model. It owns the model, the
// tokenizer and the sessions (each one timeline with its KV state); front ends hand it a Conversation
// and options and read GenerationEvents from an async stream. Front ends never see tensors.
//
// A generation runs on its own task; cancelling the consumer of the stream (a client that disconnects,
// Ctrl-C in the chat) cancels it between two tokens. One session runs one generation at a time.
//
// The token loop itself runs on a thread of its own, not on the task: it blocks for the whole
// generation, and Swift's cooperative pool has only as many threads as the machine has cores. On one
// or two cores a blocked pool thread leaves the reader of the stream (and any other task) waiting, so
// nothing would stream and a cancellation would not be noticed until the end.

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
    /// The prompt tokens of a conversation.
    func promptTokens(_ conversation: Conversation) throws -> [Int]
    /// Generates the assistant's reply to `conversation` on session `id`.
    func generate(_ conversation: Conversation, options: GenerationOptions, session id: String) -> GenerationStream
    /// Generates a continuation of raw prompt tokens, parsed as a completion in `thinkingMode`.
    func generate(prompt: [Int], thinkingMode: ThinkingMode, options: GenerationOptions, session id: String) -> GenerationStream
    /// Forgets a session's state.
    func reset(session id: String)
}

public final class Engine<Model: LanguageModel>: ChatEngine, @unchecked Sendable {
    public let model: Model
    public let tokenizer: BPETokenizer
    private var sessions: [String: Session<Model>] = [:]
    private var busy: Set<String> = []
    private let lock = NSLock()

    public init(model: Model, tokenizer: BPETokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    public var contextLimit: Int { model.contextLimit }

    /// The prompt tokens of a conversation.
    public func promptTokens(_ conversation: Conversation) throws -> [Int] {
        try DeepSeekV4ChatFormat.tokenIDs(for: conversation, tokenizer: tokenizer)
    }

    /// Forgets a session's state.
    public func reset(session id: String) {
        lock.lock()
        sessions[id] = nil
        lock.unlock()
    }

    /// Generates the assistant's reply to `conversation` on session `id`.
    public func generate(_ conversation: Conversation, options: GenerationOptions, session id: String = "default")
        -> GenerationStream
    {
        do {
            let prompt = try promptTokens(conversation)
            return generate(prompt: prompt, thinkingMode: conversation.thinkingMode, options: options, session: id)
        } catch {
            return .failing(error)
        }
    }

    /// Generates a continuation of raw prompt tokens, parsed as a completion in `thinkingMode`.
    public func generate(prompt: [Int], thinkingMode: ThinkingMode, options: GenerationOptions, session id: String = "default")
        -> GenerationStream
    {
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let task = Task.detached { [self] in
            do {
                // A session runs one generation at a time: wait for one still winding down (e.g. cancelled).
                var session = self.checkOut(id)
                while session == nil {
                    try await Task.sleep(for: .milliseconds(2))
                    session = self.checkOut(id)
                }
                defer { self.checkIn(id) }
                let cancelled = CancellationFlag()
                let loop = GenerationLoop(
                    session: session!, tokenizer: tokenizer, prompt: prompt, thinkingMode: thinkingMode, options: options,
                    isCancelled: { cancelled.isSet })
                try await withTaskCancellationHandler {
                    try await runOnOwnThread {
                        var loop = loop
                        try loop.run { continuation.yield($0) }
                    }
                } onCancel: {
                    cancelled.set()
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return GenerationStream(events: stream, task: task)
    }

    /// Whether a generation is running on session `id`, e.g. one whose reader stopped but which is still
    /// finishing a prefill (prefills are not interrupted; the next generation on the session waits).
    public func isBusy(session id: String) -> Bool {
        lock.withLock { busy.contains(id) }
    }

    /// Returns once no generation runs on session `id`, so a front end can say why the next answer is
    /// late and time it from when it really starts.
    public func waitUntilIdle(session id: String) async {
        while isBusy(session: id) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private func checkOut(_ id: String) -> Session<Model>? {
        lock.lock()
        defer { lock.unlock() }
        guard !busy.contains(id) else { return nil }
        busy.insert(id)
        if let s = sessions[id] { return s }
        let s = Session(model: model)
        sessions[id] = s
        return s
    }

    private func checkIn(_ id: String) {
        lock.lock()
        busy.remove(id)
        lock.unlock()
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
    /// Checked between two tokens; true ends the generation with `CancellationError`.
    let isCancelled: @Sendable () -> Bool

    mutating func run(_ emit: @escaping (GenerationEvent) -> Void) throws {
        try options.sampling.validate()
        let limit = session.model.contextLimit
        guard prompt.count < limit else { throw GenerationError.contextTooLong(tokens: prompt.count + 1, limit: limit) }
        if let m = options.maxTokens, m < 1 { throw GenerationError.invalidParameter(name: "max_tokens", expected: ">= 1") }
        let maxTokens = min(options.maxTokens ?? Int.max, limit - prompt.count)

        let (reused, firstLogits) = try session.sync(prompt) { done, total in emit(.prefill(done: done, total: total)) }
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
            if isCancelled() { throw CancellationError() }
            let choice = sampler.sample(logits, generated: generated, recent: (prompt + generated).suffix(options.sampling.repetitionWindow)[...])
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
            logits = try session.append(token)
        }
        if generated.last != eos {
            // Stopped by a stop string or the limit: close the completion as the model would have.
            let rest = stopper.stopped ? "" : stopper.flush() + detokenizer.flush()
            parse(rest + DeepSeekV4ChatFormat.Token.eos, finish: true)
        }
        usage.completionTokens = generated.count
        if calledTools && reason == .stop { reason = .toolCalls }
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

/// A flag set from a task's cancellation handler and read by a thread.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Runs `body` on a new thread and resumes with its result, leaving the cooperative pool free meanwhile.
func runOnOwnThread(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let thread = Thread {
            do {
                try body()
                continuation.resume()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        // Model code recurses little but allocates large stack frames in debug builds.
        thread.stackSize = 8 << 20
        thread.start()
    }
}
