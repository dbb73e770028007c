// ChatCompletionRequest: an OpenAI Chat Completions body, read into a `Conversation` and options.
//
// Fields (DeepSeek's documented set): model, messages (system, user, assistant with reasoning_content,
// tool_calls and the beta `prefix`, tool; `developer` reads as system), thinking {type},
// reasoning_effort, temperature, top_p, presence_penalty, frequency_penalty, max_tokens (or
// max_completion_tokens), stop, seed, stream, stream_options.include_usage, tools, tool_choice,
// response_format, logprobs, top_logprobs, user, n (only 1). Unknown fields are ignored, as DeepSeek
// does.
//
// Content may be a string or a list of parts; text parts are joined with newlines (tool results keep
// their parts, which the chat format renders itself). Other parts (images, audio, files) are refused:
// the model reads text only.

import Generation
import Tokenizers

/// A validated Chat Completions request.
struct ChatCompletionRequest {
    var model: String
    var settings: ChatSettings
    var messages: [Message]
    var stream: Bool
    var includeUsage: Bool
    var logprobs: Bool
    /// The last message is an assistant prefix to continue (DeepSeek's beta prefix completion): the
    /// completion is then answer text, whatever the thinking mode.
    var continuesPrefix: Bool

    init(_ body: RequestObject, configuration: ServerConfiguration) throws(APIError) {
        model = try body.required(body.string("model"), "model")
        guard configuration.accepts(model: model) else { throw APIError.unknownModel(model) }
        let messageObjects = try body.required(body.objects("messages"), "messages")
        guard !messageObjects.isEmpty else {
            throw APIError.invalidParameter(param: "messages", message: "messages must not be empty.")
        }

        var thinking = ModelNames.thinkingByDefault(model)
        if let object = try body.object("thinking"), let type = try object.string("type") {
            switch type {
            case "enabled": thinking = true
            case "disabled": thinking = false
            default:
                throw APIError.invalidParameter(
                    param: "thinking.type", message: "Invalid thinking.type '\(type)': expected 'enabled' or 'disabled'.")
            }
        }
        settings = ChatSettings(thinking: thinking)
        if let name = try body.string("reasoning_effort") {
            guard let effort = ChatSettings.effort(named: name) else {
                throw APIError.invalidParameter(
                    param: "reasoning_effort",
                    message: "Invalid reasoning_effort '\(name)': expected low, medium, high or max.")
            }
            settings.effort = effort
        }
        settings.temperature = try body.number("temperature")
        settings.topP = try body.number("top_p")
        settings.presencePenalty = try body.number("presence_penalty")
        settings.frequencyPenalty = try body.number("frequency_penalty")
        settings.seed = try body.int("seed")
        let maxCompletionTokens = try body.int("max_completion_tokens")
        settings.maxTokens = try body.int("max_tokens") ?? maxCompletionTokens
        settings.stop = try body.strings("stop") ?? []
        if settings.stop.count > 16 {
            throw APIError.invalidParameter(param: "stop", message: "At most 16 stop sequences are supported.")
        }
        if let n = try body.int("n"), n != 1 {
            throw APIError.invalidParameter(param: "n", message: "Only n = 1 is supported.")
        }
        _ = try body.string("user")

        logprobs = try body.bool("logprobs") ?? false
        if let top = try body.int("top_logprobs") {
            guard logprobs else {
                throw APIError.invalidRequest(param: "top_logprobs", message: "top_logprobs requires logprobs to be true.")
            }
            guard (0...20).contains(top) else {
                throw APIError.invalidParameter(param: "top_logprobs", message: "Invalid top_logprobs \(top): expected 0 to 20.")
            }
            settings.logprobs = top
        } else if logprobs {
            settings.logprobs = 0
        }

        stream = try body.bool("stream") ?? false
        includeUsage = try body.object("stream_options")?.bool("include_usage") ?? false

        for tool in try body.objects("tools") ?? [] {
            let type = try tool.string("type") ?? "function"
            guard type == "function" else {
                throw APIError.invalidParameter(param: tool.path("type"), message: "Only function tools are supported.")
            }
            let function = try tool.required(tool.object("function"), "function")
            _ = try function.required(function.string("name"), "name")
            settings.tools.append(Tool(function: .object(function.fields)))
        }
        settings.toolChoice = try Self.toolChoice(body)
        try settings.validateTools(param: "tools")
        settings.responseFormat = try Self.responseFormat(body)

        messages = try messageObjects.map { object throws(APIError) in try Self.message(object) }
        continuesPrefix = messages.last?.role == .assistant && messages.last?.withoutEOS == true
        if thinking {
            // DeepSeek's rule for tool use in thinking mode: the reasoning of every assistant turn that
            // called tools must come back with it.
            for message in messages where message.role == .assistant && !message.toolCalls.isEmpty {
                if message.reasoningContent == nil { throw APIError.reasoningContentMissing }
            }
        }
    }

    var conversation: Conversation { settings.conversation(messages) }

    /// The thinking mode the completion is parsed in.
    var parseMode: ThinkingMode { settings.thinking && !continuesPrefix ? .thinking : .chat }

    private static func toolChoice(_ body: RequestObject) throws(APIError) -> ToolChoice {
        guard let value = body.value("tool_choice") else { return .auto }
        switch value {
        case .string("none"): return .none
        case .string("auto"): return .auto
        case .string("required"): return .required
        case .object:
            let object = try RequestObject(value, path: "tool_choice")
            let function = try object.required(object.object("function"), "function")
            return .named(try function.required(function.string("name"), "name"))
        default:
            throw APIError.invalidParameter(
                param: "tool_choice",
                message: "Invalid tool_choice: expected 'none', 'auto', 'required' or "
                    + "{\"type\": \"function\", \"function\": {\"name\": …}}.")
        }
    }

    private static func responseFormat(_ body: RequestObject) throws(APIError) -> JSONValue? {
        guard let format = try body.object("response_format") else { return nil }
        switch try format.string("type") ?? "text" {
        case "text": return nil
        case "json_object", "json_schema": return .object(format.fields)
        case let other:
            throw APIError.invalidParameter(
                param: "response_format.type",
                message: "Invalid response_format.type '\(other)': expected text, json_object or json_schema.")
        }
    }

    /// One message of `messages`.
    static func message(_ object: RequestObject) throws(APIError) -> Message {
        let role = try object.required(object.string("role"), "role")
        switch role {
        case "system", "developer":
            return Message(role: .system, content: .text(try text(object, "content")))
        case "user":
            return Message(role: .user, content: .text(try text(object, "content")))
        case "assistant":
            var message = Message(role: .assistant, content: .text(try text(object, "content")))
            message.reasoningContent = try object.string("reasoning_content")
            message.withoutEOS = try object.bool("prefix") ?? false
            if let calls = try object.objects("tool_calls") {
                message.toolCalls = try calls.map { call throws(APIError) in
                    let function = try call.required(call.object("function"), "function")
                    let name = try function.required(function.string("name"), "name")
                    // Arguments are a JSON text; some clients send the object itself.
                    let arguments: String
                    switch function.value("arguments") {
                    case .string(let text)?: arguments = text
                    case .object(let fields)?: arguments = JSONValue.object(fields).serialized()
                    case nil: arguments = "{}"
                    case let other?: throw function.typeError("arguments", other, expected: "a string")
                    }
                    return ToolCall(id: try call.string("id"), name: name, arguments: arguments)
                }
            }
            return message
        case "tool":
            var message = Message(role: .tool, content: try toolContent(object))
            message.toolCallID = try object.required(object.string("tool_call_id"), "tool_call_id")
            return message
        default:
            throw APIError.invalidBody(
                path: object.path("role"),
                problem: "unknown variant `\(role)`, expected one of `system`, `user`, `assistant`, `tool`")
        }
    }

    /// Text content: a string, or text parts joined by newlines; absent reads as empty.
    static func text(_ object: RequestObject, _ key: String) throws(APIError) -> String {
        guard let value = object.value(key) else { return "" }
        switch value {
        case .string(let text): return text
        case .array:
            return try parts(object, key).map { $0.text ?? "" }.joined(separator: "\n")
        default:
            throw object.typeError(key, value, expected: "a string or a sequence of content parts")
        }
    }

    /// A tool result's content: a string or a list of text parts, kept as parts for the chat format.
    static func toolContent(_ object: RequestObject) throws(APIError) -> Message.Content {
        guard let value = object.value("content") else { return .text("") }
        if case .string(let text) = value { return .text(text) }
        return .parts(try parts(object, "content"))
    }

    /// Content parts; only text parts are accepted.
    private static func parts(_ object: RequestObject, _ key: String) throws(APIError) -> [Message.ContentPart] {
        guard let parts = try object.objects(key) else { return [] }
        return try parts.map { part throws(APIError) in
            let type = try part.required(part.string("type"), "type")
            guard type == "text" else {
                throw APIError.invalidRequest(
                    param: part.path("type"), message: "Content parts of type '\(type)' are not supported; the model reads text only.")
            }
            return Message.ContentPart(type: "text", text: try part.required(part.string("text"), "text"))
        }
    }
}
