// Messages: `POST /v1/messages` and `/v1/messages/count_tokens` — Anthropic's response objects and
// its standard streaming event sequence.
//
// Content blocks come in the order the model produced them: `thinking` (with an empty `signature`: the
// reasoning is not signed here, and is accepted back unsigned), `text`, then one `tool_use` per call
// (ids `toolu_…`, `input` the parsed arguments). Stop reasons: end_turn, stop_sequence (with the
// sequence), max_tokens, tool_use. Usage: `input_tokens` counts the prompt tokens computed,
// `cache_read_input_tokens` those reused from the cache (Anthropic's split; their sum is the prompt).
//
// Streaming:
//   event: message_start        the message with empty content and the input usage
//   event: content_block_start  per block: thinking / text / tool_use (the first is followed by a ping)
//   event: content_block_delta  thinking_delta / text_delta as generated; input_json_delta with a call's
//                               whole arguments once the call is complete
//   event: content_block_stop
//   event: message_delta        stop_reason, stop_sequence and the final usage
//   event: message_stop
// A failure after the stream began is sent as `event: error`.

import Generation
import Hummingbird
import Tokenizers

extension ServerState {
    /// `POST /v1/messages`.
    func message(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await RequestObject.body(of: request, limit: configuration.maxRequestBodyBytes)
        let messages = try MessagesRequest(body)
        let options = try messages.settings.options(temperatureRange: 0...2, maxTokensField: "max_tokens")
        let prompt = try engine.promptTokens(messages.conversation)
        try checkContext(promptTokens: prompt.count)

        let run = GenerationRun(state: self, prompt: prompt, mode: messages.parseMode, options: options)
        let first = try await run.start(context: context)
        let writer = MessageWriter(id: id("msg_"), model: messages.model, state: self)
        if messages.stream {
            // The first event tells how much of the prompt was found in the cache.
            var cached = 0
            if case .prefill(_, let total) = first { cached = prompt.count - total }
            let usage = Usage(promptTokens: prompt.count, cachedPromptTokens: cached)
            return Response.eventStream { sse in try await writer.stream(run, first: first, usage: usage, to: &sse) }
        }
        var record = CompletionRecord(tokenizer: tokenizer)
        try await run.collect(after: first, into: &record)
        return Response.json(writer.message(record))
    }

    /// `POST /v1/messages/count_tokens`: the prompt's length, without generating.
    func countTokens(_ request: Request) async throws -> Response {
        let body = try await RequestObject.body(of: request, limit: configuration.maxRequestBodyBytes)
        let messages = try MessagesRequest(body, requireMaxTokens: false)
        let prompt = try engine.promptTokens(messages.conversation)
        return Response.json(["input_tokens": .integer(String(prompt.count))])
    }
}

/// Builds the response objects of one message.
struct MessageWriter: Sendable {
    let id: String
    let model: String
    let state: ServerState

    /// The `message` object.
    func message(_ record: CompletionRecord) -> JSONValue {
        var content: [JSONValue] = []
        if !record.reasoning.isEmpty { content.append(["type": "thinking", "thinking": .string(record.reasoning), "signature": ""]) }
        if !record.content.isEmpty || (content.isEmpty && record.toolCalls.isEmpty) {
            content.append(["type": "text", "text": .string(record.content)])
        }
        for call in record.toolCalls {
            content.append(["type": "tool_use", "id": .string(toolUseID(call)), "name": .string(call.name), "input": Self.input(call)])
        }
        let usage = record.usage ?? Usage()
        return [
            "id": .string(id), "type": "message", "role": "assistant", "model": .string(model), "content": .array(content),
            "stop_reason": .string(Self.stopReason(record.finishReason, stopSequence: record.stopSequence)),
            "stop_sequence": record.stopSequence.map(JSONValue.string) ?? .null, "usage": Self.usage(usage),
        ]
    }

    /// Streams the events of a generation whose first event was `first`; `usage` holds the prompt figures
    /// known at the start.
    func stream(_ run: GenerationRun, first: GenerationEvent, usage: Usage, to sse: inout SSEWriter) async throws {
        enum Block { case thinking, text }
        var open: Block?
        var index = 0
        var pinged = false
        var stopSequence: String?

        func start(_ block: JSONValue, _ sse: inout SSEWriter) async throws {
            try await sse.send(
                ["type": "content_block_start", "index": .integer(String(index)), "content_block": block], event: "content_block_start")
            if !pinged {
                try await sse.send(["type": "ping"], event: "ping")
                pinged = true
            }
        }
        func delta(_ delta: JSONValue, _ sse: inout SSEWriter) async throws {
            try await sse.send(
                ["type": "content_block_delta", "index": .integer(String(index)), "delta": delta], event: "content_block_delta")
        }
        func stop(_ sse: inout SSEWriter) async throws {
            try await sse.send(["type": "content_block_stop", "index": .integer(String(index))], event: "content_block_stop")
            index += 1
        }
        func close(_ sse: inout SSEWriter) async throws {
            if open != nil { try await stop(&sse) }
            open = nil
        }

        let started: JSONValue = [
            "id": .string(id), "type": "message", "role": "assistant", "model": .string(model), "content": [],
            "stop_reason": .null, "stop_sequence": .null, "usage": Self.usage(usage),
        ]
        try await sse.send(["type": "message_start", "message": started], event: "message_start")
        var event: GenerationEvent? = first
        do {
            while let current = event {
                switch current {
                case .prefill, .logprobs: break
                case .stopSequence(let stop): stopSequence = stop
                case .reasoning(let text):
                    if open != .thinking {
                        try await close(&sse)
                        try await start(["type": "thinking", "thinking": "", "signature": ""], &sse)
                        open = .thinking
                    }
                    try await delta(["type": "thinking_delta", "thinking": .string(text)], &sse)
                case .content(let text):
                    if open != .text {
                        try await close(&sse)
                        try await start(["type": "text", "text": ""], &sse)
                        open = .text
                    }
                    try await delta(["type": "text_delta", "text": .string(text)], &sse)
                case .toolCall(let call):
                    try await close(&sse)
                    try await start(["type": "tool_use", "id": .string(toolUseID(call)), "name": .string(call.name), "input": [:]], &sse)
                    try await delta(["type": "input_json_delta", "partial_json": .string(Self.input(call).serialized())], &sse)
                    try await stop(&sse)
                case .finish(let reason, let final):
                    try await close(&sse)
                    if !pinged { try await sse.send(["type": "ping"], event: "ping") }
                    let delta: JSONValue = [
                        "stop_reason": .string(Self.stopReason(reason, stopSequence: stopSequence)),
                        "stop_sequence": stopSequence.map(JSONValue.string) ?? .null,
                    ]
                    try await sse.send(["type": "message_delta", "delta": delta, "usage": Self.usage(final)], event: "message_delta")
                    try await sse.send(["type": "message_stop"], event: "message_stop")
                    return
                }
                event = try await run.next()
            }
            throw APIError.internalError("the generation ended without finishing")
        } catch {
            let apiError = APIError(error)
            state.logger.info("message stream ended early: \(apiError.message)")
            try await sse.send(apiError.body(for: .anthropic), event: "error")
        }
    }

    private func toolUseID(_ call: ToolCall) -> String { call.id ?? state.id("toolu_") }

    /// A call's arguments as the `input` object.
    static func input(_ call: ToolCall) -> JSONValue {
        guard let value = try? JSONValue(parsing: call.arguments), case .object = value else { return .object([:]) }
        return value
    }

    static func stopReason(_ reason: FinishReason, stopSequence: String?) -> String {
        switch reason {
        case .stop: stopSequence == nil ? "end_turn" : "stop_sequence"
        case .length: "max_tokens"
        case .toolCalls: "tool_use"
        }
    }

    /// Anthropic's usage object; input tokens exclude the cached ones, which are reported apart.
    static func usage(_ usage: Usage) -> JSONValue {
        func int(_ n: Int) -> JSONValue { .integer(String(n)) }
        return [
            "input_tokens": int(usage.promptTokens - usage.cachedPromptTokens), "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": int(usage.cachedPromptTokens), "output_tokens": int(usage.completionTokens),
        ]
    }
}
