// ChatCompletions: `POST /v1/chat/completions` — the response objects and the streaming chunks, shaped
// as DeepSeek's API sends them.
//
// Non-streaming: one `chat.completion` with `message.content`, `message.reasoning_content` (thinking mode
// only), `message.tool_calls` (ids `call_…`, arguments as JSON text), `finish_reason` and the usage with
// DeepSeek's cache fields.
//
// Streaming: `chat.completion.chunk`s —
//   1. the role:         {"role": "assistant", "content": ""}  (thinking: "content": null, "reasoning_content": "")
//   2. reasoning deltas: {"content": null, "reasoning_content": "…"}
//   3. answer deltas:    {"content": "…"}  (thinking: plus "reasoning_content": null)
//   4. per tool call:    {"tool_calls": [{"index", "id", "type", "function": {"name", "arguments": ""}}]},
//                        then {"tool_calls": [{"index", "function": {"arguments": "…"}}]}
//   5. the finish:       {"content": ""} with finish_reason
//   6. with stream_options.include_usage: a chunk with `choices: []` and the usage (earlier chunks carry
//      "usage": null, as OpenAI's do)
//   7. data: [DONE]

import Generation
import Hummingbird
import Tokenizers

extension ServerState {
    /// `POST /v1/chat/completions`.
    func chatCompletion(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await RequestObject.body(of: request, limit: configuration.maxRequestBodyBytes)
        let chat = try ChatCompletionRequest(body, configuration: configuration)
        let options = try chat.settings.options(
            temperatureRange: 0...2, maxTokensField: "max_tokens", defaultMaxTokens: configuration.defaultMaxTokens)
        let prompt = try engine.promptTokens(chat.conversation)
        try checkContext(promptTokens: prompt.count)

        let run = GenerationRun(state: self, prompt: prompt, mode: chat.parseMode, options: options)
        let first = try await run.start(context: context)
        let writer = ChatCompletionWriter(
            id: id("chatcmpl-"), created: created, model: chat.model, thinking: chat.parseMode == .thinking,
            logprobs: chat.logprobs, includeUsage: chat.includeUsage, state: self)
        if chat.stream {
            return Response.eventStream { sse in try await writer.stream(run, first: first, to: &sse) }
        }
        var record = CompletionRecord(tokenizer: tokenizer)
        try await run.collect(after: first, into: &record)
        return Response.json(writer.completion(record))
    }
}

/// Builds the response objects of one chat completion.
struct ChatCompletionWriter: Sendable {
    let id: String
    let created: Int
    let model: String
    /// Whether `reasoning_content` fields are part of the messages.
    let thinking: Bool
    let logprobs: Bool
    let includeUsage: Bool
    let state: ServerState

    /// The `chat.completion` object.
    func completion(_ record: CompletionRecord) -> JSONValue {
        var message: JSONObject = ["role": "assistant", "content": .string(record.content)]
        if thinking { message["reasoning_content"] = .string(record.reasoning) }
        if !record.toolCalls.isEmpty {
            message["tool_calls"] = .array(record.toolCalls.map { call in
                ["id": .string(call.id ?? state.id("call_")), "type": "function",
                 "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
            })
        }
        let choice: JSONValue = [
            "index": 0, "message": .object(message),
            "logprobs": logprobs ? ["content": Self.logprobs(record.logprobs)] : .null,
            "finish_reason": .string(record.finishReason.rawValue),
        ]
        return [
            "id": .string(id), "object": "chat.completion", "created": .integer(String(created)), "model": .string(model),
            "choices": [choice], "usage": record.usage.map(Self.usage) ?? .null, "system_fingerprint": .string(Self.fingerprint),
        ]
    }

    /// Streams the chunks of a generation whose first event was `first`.
    func stream(_ run: GenerationRun, first: GenerationEvent, to sse: inout SSEWriter) async throws {
        var router = LogprobsRouter(tokenizer: state.tokenizer)
        var toolIndex = 0
        var roleDelta: JSONObject = ["role": "assistant", "content": thinking ? .null : ""]
        if thinking { roleDelta["reasoning_content"] = "" }
        try await sse.send(chunk(roleDelta))
        var event: GenerationEvent? = first
        do {
            while let current = event {
                switch current {
                case .prefill, .stopSequence: break
                case .logprobs(let entry): router.add(entry)
                case .reasoning(let text):
                    router.reasoning()
                    try await sse.send(chunk(["content": .null, "reasoning_content": .string(text)]))
                case .content(let text):
                    let entries = router.content()
                    try await sse.send(chunk(answer(text), logprobs: logprobs ? ["content": Self.logprobs(entries)] : .null))
                case .toolCall(let call):
                    let opening: JSONValue = [
                        "index": .integer(String(toolIndex)), "id": .string(call.id ?? state.id("call_")), "type": "function",
                        "function": ["name": .string(call.name), "arguments": ""],
                    ]
                    try await sse.send(chunk(["tool_calls": [opening]]))
                    let arguments: JSONValue = [
                        "index": .integer(String(toolIndex)), "function": ["arguments": .string(call.arguments)],
                    ]
                    try await sse.send(chunk(["tool_calls": [arguments]]))
                    toolIndex += 1
                case .finish(let reason, let usage):
                    try await sse.send(chunk(answer(""), finishReason: reason))
                    if includeUsage {
                        try await sse.send(
                            [
                                "id": .string(id), "object": "chat.completion.chunk", "created": .integer(String(created)),
                                "model": .string(model), "system_fingerprint": .string(Self.fingerprint), "choices": [],
                                "usage": Self.usage(usage),
                            ])
                    }
                    try await sse.send(raw: "[DONE]")
                    return
                }
                event = try await run.next()
            }
            throw APIError.internalError("the generation ended without finishing")
        } catch {
            // The stream has begun: the error can only be reported inside it.
            let apiError = APIError(error)
            state.logger.info("chat completion stream ended early: \(apiError.message)")
            try await sse.send(apiError.body(for: .openAI))
        }
    }

    /// An answer delta; in thinking mode it says that reasoning is over.
    private func answer(_ text: String) -> JSONObject {
        thinking ? ["content": .string(text), "reasoning_content": .null] : ["content": .string(text)]
    }

    private func chunk(_ delta: JSONObject, finishReason: FinishReason? = nil, logprobs: JSONValue = .null) -> JSONValue {
        let choice: JSONValue = [
            "index": 0, "delta": .object(delta), "logprobs": logprobs,
            "finish_reason": finishReason.map { .string($0.rawValue) } ?? .null,
        ]
        var chunk: JSONObject = [
            "id": .string(id), "object": "chat.completion.chunk", "created": .integer(String(created)), "model": .string(model),
            "system_fingerprint": .string(Self.fingerprint), "choices": [choice],
        ]
        if includeUsage { chunk["usage"] = .null }
        return .object(chunk)
    }

    /// Identifies the serving stack, as DeepSeek's `fp_…` values do.
    static let fingerprint = "fp_narwhal"

    /// DeepSeek's usage object: OpenAI's fields plus the cache hit/miss split.
    static func usage(_ usage: Usage) -> JSONValue {
        let hit = usage.cachedPromptTokens, miss = usage.promptTokens - usage.cachedPromptTokens
        func int(_ n: Int) -> JSONValue { .integer(String(n)) }
        return [
            "prompt_tokens": int(usage.promptTokens), "completion_tokens": int(usage.completionTokens),
            "total_tokens": int(usage.promptTokens + usage.completionTokens),
            "prompt_tokens_details": ["cached_tokens": int(hit)],
            "completion_tokens_details": ["reasoning_tokens": int(usage.reasoningTokens)],
            "prompt_cache_hit_tokens": int(hit), "prompt_cache_miss_tokens": int(miss),
        ]
    }

    /// OpenAI's `logprobs.content` list.
    static func logprobs(_ entries: [TokenLogprobs]) -> JSONValue {
        func entry(_ e: TokenLogprobs.Entry) -> JSONObject {
            // A token the sampler ruled out has logprob −∞, which JSON cannot hold; OpenAI reports −9999.
            let logprob = e.logprob.isFinite ? Double(e.logprob) : -9999
            return ["token": .string(e.token), "logprob": .float(logprob), "bytes": .array(e.bytes.map { .integer(String($0)) })]
        }
        return .array(entries.map { e in
            var object = entry(e.chosen)
            object["top_logprobs"] = .array(e.top.map { .object(entry($0)) })
            return .object(object)
        })
    }
}
