// GenerationRun: one generation served to one client, the part every generating endpoint shares.
//
// Lifetime: the handler starts the run and awaits its first event before it commits a response, so
// whatever fails before generation begins (queue full → 429, a prompt the model rejects) still gets its
// own status code. Streaming handlers then keep reading while they write; the others collect everything
// into a `CompletionRecord` first.
//
// The run ends its generation, freeing the slot at once:
//   - when the client disconnects (seen by `ClientDisconnectHandler`, even while the request waits in
//     the queue or generates without writing anything);
//   - when the server shuts down gracefully and the generation is still going after the grace period;
//   - when the run itself goes away (a handler that threw, a failed write).

import Foundation
import Generation
import ServiceLifecycle
import Tokenizers

/// One generation, read by one request handler.
final class GenerationRun: @unchecked Sendable {
    // @unchecked: the iterator is used by one task at a time — the handler, then the response body
    // writer it hands over to; `stream.cancel()` (from disconnect and shutdown callbacks) is thread-safe.
    private let stream: GenerationStream
    private var iterator: GenerationStream.AsyncIterator
    private let state: ServerState
    private var unregister: @Sendable () -> Void = {}
    /// When the first event after the prefill arrived, for the decode speed.
    private var decodeStart: Date?
    /// Set when a graceful shutdown cancelled the generation, so the client is told that rather than
    /// a bare cancellation.
    private let shutdown = ShutdownFlag()

    /// Starts generating the continuation of `prompt` (parsed as a completion in `mode`).
    init(state: ServerState, prompt: [Int], mode: ThinkingMode, options: GenerationOptions) {
        self.state = state
        stream = state.engine.generate(prompt: prompt, thinkingMode: mode, options: options, session: nil)
        iterator = stream.makeAsyncIterator()
        state.metrics.requestStarted()
    }

    deinit {
        unregister()
        stream.cancel()
        state.metrics.requestEnded()
    }

    /// Ties the run to its client's connection, then waits for the first event (the slot was taken and
    /// the prompt is being computed) and returns it. Throws what the engine refused the request with.
    func start(context: APIRequestContext) async throws -> GenerationEvent {
        let stream = stream
        unregister = await context.onDisconnect { stream.cancel() }
        guard let first = try await next() else { throw APIError.internalError("the generation ended without events") }
        return first
    }

    /// The next event; nil at the end. Waits under the graceful-shutdown handler, so a shutdown
    /// cancels the generation once the grace period is over.
    func next() async throws -> GenerationEvent? {
        let stream = stream
        let grace = state.configuration.shutdownGracePeriod
        let shutdown = shutdown
        let event: GenerationEvent?
        do {
            event = try await withGracefulShutdownHandler {
                try await iterator.next()
            } onGracefulShutdown: {
                Task {
                    try? await Task.sleep(for: grace)
                    shutdown.set()
                    stream.cancel()
                }
            }
        } catch is CancellationError where shutdown.isSet {
            throw APIError.shuttingDown
        }
        switch event {
        case .prefill?: break
        case .finish(let reason, let usage)?:
            let seconds = decodeStart.map { Date().timeIntervalSince($0) } ?? 0
            state.metrics.generationFinished(usage, decodeSeconds: seconds)
            state.logger.info(
                "generation finished",
                metadata: [
                    "finish_reason": "\(reason.rawValue)", "prompt_tokens": "\(usage.promptTokens)",
                    "cached_tokens": "\(usage.cachedPromptTokens)", "completion_tokens": "\(usage.completionTokens)",
                    "reasoning_tokens": "\(usage.reasoningTokens)",
                    "tokens_per_second": "\(seconds > 0 ? String(format: "%.1f", Double(usage.completionTokens) / seconds) : "-")",
                ])
        case _?:
            if decodeStart == nil { decodeStart = Date() }
        case nil: break
        }
        return event
    }

    /// Reads every remaining event into `record` (after `first`).
    func collect(after first: GenerationEvent, into record: inout CompletionRecord) async throws {
        record.add(first)
        while let event = try await next() { record.add(event) }
        guard record.usage != nil else { throw APIError.internalError("the generation ended without finishing") }
    }
}

/// A flag set once, from any thread.
final class ShutdownFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

/// Everything a generation produced, assembled for a non-streaming response.
struct CompletionRecord {
    let tokenizer: BPETokenizer
    var reasoning = ""
    var content = ""
    var toolCalls: [ToolCall] = []
    /// Log-probabilities of the answer's tokens (see ``LogprobsRouter``).
    var logprobs: [TokenLogprobs] = []
    var finishReason: FinishReason = .length
    var stopSequence: String?
    var usage: Usage?
    /// Tokens already computed when the prompt was taken up (known from the first prefill event).
    var cachedPromptTokens: Int?
    private var router: LogprobsRouter

    init(tokenizer: BPETokenizer) {
        self.tokenizer = tokenizer
        router = LogprobsRouter(tokenizer: tokenizer)
    }

    mutating func add(_ event: GenerationEvent) {
        switch event {
        case .prefill: break
        case .reasoning(let text):
            reasoning += text
            router.reasoning()
        case .content(let text):
            content += text
            logprobs += router.content()
        case .toolCall(let call): toolCalls.append(call)
        case .logprobs(let entry): router.add(entry)
        case .stopSequence(let stop): stopSequence = stop
        case .finish(let reason, let usage):
            finishReason = reason
            self.usage = usage
        }
    }
}

/// Decides which answer text a token's log-probability belongs to. The engine reports each token's
/// log-probabilities before the parser has placed its text, and the parser may hold text back (a
/// possible `</think>` or tool-call opener) or drop it (markup): so entries wait here until the next
/// reasoning delta (they were reasoning: dropped, as DeepSeek reports log-probabilities of the answer
/// only) or content delta (they were the answer). Special tokens (EOS, `</think>`) are never reported.
struct LogprobsRouter {
    let tokenizer: BPETokenizer
    private var pending: [TokenLogprobs] = []

    init(tokenizer: BPETokenizer) { self.tokenizer = tokenizer }

    mutating func add(_ entry: TokenLogprobs) {
        if !tokenizer.isSpecialToken(entry.chosen.id) { pending.append(entry) }
    }

    mutating func reasoning() { pending.removeAll() }

    /// The entries of the content delta just emitted.
    mutating func content() -> [TokenLogprobs] {
        defer { pending.removeAll() }
        return pending
    }
}
