// Completions: `POST /v1/completions` (and DeepSeek's `/beta/completions`) — plain text continuation,
// and fill-in-the-middle when a `suffix` is given. Non-thinking only, as DeepSeek's FIM.
//
// Prompts (BOS first, as the model was trained):
//   continuation  <｜begin▁of▁sentence｜>PROMPT
//   FIM           <｜begin▁of▁sentence｜><｜fim▁begin｜>PROMPT<｜fim▁hole｜>SUFFIX<｜fim▁end｜>
// the model then writes the text (for FIM: the middle) and ends with EOS.
//
// Fields: model, prompt (a string, or a list holding one), suffix, max_tokens (default 16, OpenAI's),
// temperature, top_p, presence/frequency penalty, stop, seed, stream, stream_options.include_usage,
// logprobs (an integer: alternatives per token, at most 20), echo, user. The response is OpenAI's
// `text_completion`, with DeepSeek's usage fields; streaming sends `text_completion` chunks and
// `data: [DONE]`.

import Generation
import Hummingbird
import Tokenizers

extension ServerState {
    /// `POST /v1/completions`.
    func completion(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await RequestObject.body(of: request, limit: configuration.maxRequestBodyBytes)
        let completion = try CompletionRequest(body, configuration: configuration)
        let prompt = try completion.promptTokens(tokenizer)
        try checkContext(promptTokens: prompt.count)

        let run = GenerationRun(state: self, prompt: prompt, mode: .chat, options: completion.options)
        let first = try await run.start(context: context)
        let writer = CompletionWriter(
            id: id("cmpl-"), created: created, model: completion.model, echo: completion.echo ? completion.prompt : nil,
            logprobs: completion.options.sampling.logprobs != nil, includeUsage: completion.includeUsage, state: self)
        if completion.stream {
            return Response.eventStream { sse in try await writer.stream(run, first: first, to: &sse) }
        }
        var record = CompletionRecord(tokenizer: tokenizer)
        try await run.collect(after: first, into: &record)
        return Response.json(writer.completion(record))
    }
}

/// A validated completions request.
struct CompletionRequest {
    var model: String
    var prompt: String
    var suffix: String?
    var options: GenerationOptions
    var stream: Bool
    var includeUsage: Bool
    var echo: Bool

    /// OpenAI's default for this endpoint.
    static let defaultMaxTokens = 16

    init(_ body: RequestObject, configuration: ServerConfiguration) throws(APIError) {
        model = try body.required(body.string("model"), "model")
        guard configuration.accepts(model: model) else { throw APIError.unknownModel(model) }
        switch body.value("prompt") {
        case .string(let text)?: prompt = text
        case .array(let list)? where list.count == 1:
            guard case .string(let text) = list[0] else { throw body.typeError("prompt", list[0], expected: "a string") }
            prompt = text
        case .array?:
            throw APIError.invalidParameter(param: "prompt", message: "Only one prompt per request is supported.")
        case let other?: throw body.typeError("prompt", other, expected: "a string")
        case nil: throw APIError.invalidBody(path: "", problem: "missing field `prompt`")
        }
        suffix = try body.string("suffix")
        echo = try body.bool("echo") ?? false
        stream = try body.bool("stream") ?? false
        includeUsage = try body.object("stream_options")?.bool("include_usage") ?? false
        _ = try body.string("user")

        var settings = ChatSettings(thinking: false)
        settings.temperature = try body.number("temperature")
        settings.topP = try body.number("top_p")
        settings.presencePenalty = try body.number("presence_penalty")
        settings.frequencyPenalty = try body.number("frequency_penalty")
        settings.seed = try body.int("seed")
        settings.maxTokens = try body.int("max_tokens") ?? Self.defaultMaxTokens
        settings.stop = try body.strings("stop") ?? []
        if settings.stop.count > 16 {
            throw APIError.invalidParameter(param: "stop", message: "At most 16 stop sequences are supported.")
        }
        if let logprobs = try body.int("logprobs") {
            guard (0...20).contains(logprobs) else {
                throw APIError.invalidParameter(param: "logprobs", message: "Invalid logprobs \(logprobs): expected 0 to 20.")
            }
            settings.logprobs = logprobs
        }
        options = try settings.options(temperatureRange: 0...2, maxTokensField: "max_tokens")
    }

    /// The prompt's tokens (see the file header for the two layouts).
    func promptTokens(_ tokenizer: BPETokenizer) throws(APIError) -> [Int] {
        let bos = DeepSeekV4ChatFormat.Token.bos
        guard let suffix else { return tokenizer.encode(bos + prompt) }
        return tokenizer.encode(bos + FIM.begin + prompt + FIM.hole + suffix + FIM.end)
    }

    /// DeepSeek's fill-in-the-middle tokens.
    enum FIM {
        static let begin = "<｜fim▁begin｜>"
        static let hole = "<｜fim▁hole｜>"
        static let end = "<｜fim▁end｜>"
    }
}

/// Builds the response objects of one completion.
struct CompletionWriter: Sendable {
    let id: String
    let created: Int
    let model: String
    /// The prompt, when `echo` asked for it in front of the text.
    let echo: String?
    let logprobs: Bool
    let includeUsage: Bool
    let state: ServerState

    func completion(_ record: CompletionRecord) -> JSONValue {
        object(
            choices: [choice(text: (echo ?? "") + record.content, logprobs: record.logprobs, finishReason: record.finishReason)],
            usage: record.usage.map(ChatCompletionWriter.usage) ?? .null)
    }

    func stream(_ run: GenerationRun, first: GenerationEvent, to sse: inout SSEWriter) async throws {
        var router = LogprobsRouter(tokenizer: state.tokenizer)
        if let echo { try await sse.send(object(choices: [choice(text: echo, logprobs: [], finishReason: nil)])) }
        var event: GenerationEvent? = first
        do {
            while let current = event {
                switch current {
                case .prefill, .stopSequence, .reasoning, .toolCall: break
                case .logprobs(let entry): router.add(entry)
                case .content(let text):
                    try await sse.send(object(choices: [choice(text: text, logprobs: router.content(), finishReason: nil)]))
                case .finish(let reason, let usage):
                    try await sse.send(object(choices: [choice(text: "", logprobs: [], finishReason: reason)]))
                    if includeUsage { try await sse.send(object(choices: [], usage: ChatCompletionWriter.usage(usage))) }
                    try await sse.send(raw: "[DONE]")
                    return
                }
                event = try await run.next()
            }
            throw APIError.internalError("the generation ended without finishing")
        } catch {
            let apiError = APIError(error)
            state.logger.info("completion stream ended early: \(apiError.message)")
            try await sse.send(apiError.body(for: .openAI))
        }
    }

    private func object(choices: [JSONValue], usage: JSONValue? = nil) -> JSONValue {
        var object: JSONObject = [
            "id": .string(id), "object": "text_completion", "created": .integer(String(created)), "model": .string(model),
            "system_fingerprint": .string(ChatCompletionWriter.fingerprint), "choices": .array(choices),
        ]
        if let usage { object["usage"] = usage } else if includeUsage { object["usage"] = .null }
        return .object(object)
    }

    private func choice(text: String, logprobs entries: [TokenLogprobs], finishReason: FinishReason?) -> JSONValue {
        [
            "text": .string(text), "index": 0, "logprobs": logprobs ? Self.logprobs(entries) : .null,
            "finish_reason": finishReason.map { .string($0.rawValue) } ?? .null,
        ]
    }

    /// The legacy completions `logprobs` object: parallel lists of tokens, their log-probabilities,
    /// the alternatives per position and each token's character offset in the text.
    static func logprobs(_ entries: [TokenLogprobs]) -> JSONValue {
        func value(_ x: Float) -> JSONValue { .float(x.isFinite ? Double(x) : -9999) }
        var offsets: [JSONValue] = []
        var offset = 0
        for entry in entries {
            offsets.append(.integer(String(offset)))
            offset += entry.chosen.token.count
        }
        return [
            "tokens": .array(entries.map { .string($0.chosen.token) }),
            "token_logprobs": .array(entries.map { value($0.chosen.logprob) }),
            "top_logprobs": .array(entries.map { entry in
                var top = JSONObject()
                for alternative in entry.top { top[alternative.token] = value(alternative.logprob) }
                return .object(top)
            }),
            "text_offset": .array(offsets),
        ]
    }
}
