// MessagesRequest: an Anthropic Messages body, read into a `Conversation` and options — the fields
// DeepSeek's Anthropic endpoint supports.
//
//   model          any name (DeepSeek maps unknown names to Flash; one model is served here)
//   max_tokens     required, at least 1
//   system         a string or text blocks
//   messages       user / assistant turns; content a string or blocks: text, thinking (assistant),
//                  tool_use (assistant), tool_result (user; content a string or text blocks, is_error);
//                  redacted_thinking is skipped; image, document and other blocks are refused
//   thinking       {"type": "enabled" | "disabled"} (budget_tokens ignored); enabled by default, as
//                  DeepSeek's V4 endpoints are
//   output_config  {"effort": …}, mapped like reasoning_effort
//   tools          name, description, input_schema (cache_control ignored); server tools refused
//   tool_choice    auto / any / tool (name) / none (disable_parallel_tool_use ignored)
//   stop_sequences, temperature (0–2 per DeepSeek), top_p, metadata.user_id, stream
//   ignored        top_k, container, mcp_servers, service_tier, anthropic-version/-beta headers
//
// Tool results become `tool` messages (the chat format merges them into the user turn); a user turn's
// text follows its results.

import Generation
import Tokenizers

/// A validated Messages (or count_tokens) request.
struct MessagesRequest {
    var model: String
    var settings: ChatSettings
    var messages: [Message]
    var stream: Bool

    /// Reads a body; `count_tokens` bodies do not need `max_tokens`.
    init(_ body: RequestObject, requireMaxTokens: Bool = true) throws(APIError) {
        model = try body.required(body.string("model"), "model")
        var thinking = true
        if let object = try body.object("thinking"), let type = try object.string("type") {
            switch type {
            case "enabled", "adaptive": thinking = true
            case "disabled": thinking = false
            default:
                throw APIError.invalidParameter(
                    param: "thinking.type", message: "thinking.type: expected 'enabled' or 'disabled', got '\(type)'.")
            }
        }
        settings = ChatSettings(thinking: thinking)
        if let effort = try body.object("output_config")?.string("effort") {
            guard let mapped = ChatSettings.effort(named: effort) else {
                throw APIError.invalidParameter(
                    param: "output_config.effort", message: "output_config.effort: expected low, medium, high or max, got '\(effort)'.")
            }
            settings.effort = mapped
        }
        let maxTokens = try body.int("max_tokens")
        if requireMaxTokens { _ = try body.required(maxTokens, "max_tokens") }
        settings.maxTokens = maxTokens
        settings.temperature = try body.number("temperature")
        settings.topP = try body.number("top_p")
        settings.stop = try body.strings("stop_sequences") ?? []
        _ = try body.object("metadata")?.string("user_id")
        stream = try body.bool("stream") ?? false

        if let tools = try body.objects("tools") {
            settings.tools = try tools.map { tool throws(APIError) in
                if let type = try tool.string("type"), type != "custom" {
                    throw APIError.invalidParameter(
                        param: tool.path("type"), message: "Server tools ('\(type)') are not supported; define client tools.")
                }
                var function: JSONObject = ["name": .string(try tool.required(tool.string("name"), "name"))]
                if let description = try tool.string("description") { function["description"] = .string(description) }
                function["parameters"] = .object(try tool.required(tool.object("input_schema"), "input_schema").fields)
                return Tool(function: .object(function))
            }
        }
        if let choice = try body.object("tool_choice") {
            switch try choice.required(choice.string("type"), "type") {
            case "auto": settings.toolChoice = .auto
            case "any": settings.toolChoice = .required
            case "none": settings.toolChoice = .none
            case "tool": settings.toolChoice = .named(try choice.required(choice.string("name"), "name"))
            case let other:
                throw APIError.invalidParameter(
                    param: "tool_choice.type", message: "tool_choice.type: expected auto, any, tool or none, got '\(other)'.")
            }
        }
        try settings.validateTools(param: "tools")

        var messages: [Message] = []
        if let system = body.value("system") {
            messages.append(Message(role: .system, text: try Self.systemText(system, body)))
        }
        for object in try body.required(body.objects("messages"), "messages") {
            messages += try Self.messages(object)
        }
        guard messages.contains(where: { $0.role != .system }) else {
            throw APIError.invalidRequest(param: "messages", message: "messages: at least one message is required.")
        }
        // A final assistant message is a prefill: the model continues it.
        if messages.last?.role == .assistant { messages[messages.count - 1].withoutEOS = true }
        self.messages = messages
    }

    var conversation: Conversation { settings.conversation(messages) }

    /// The parse mode: a final assistant message is continued as answer text (Anthropic's prefill).
    var parseMode: ThinkingMode { settings.thinking && messages.last?.role != .assistant ? .thinking : .chat }

    private static func systemText(_ value: JSONValue, _ body: RequestObject) throws(APIError) -> String {
        if case .string(let text) = value { return text }
        guard let blocks = try body.objects("system") else { return "" }
        return try blocks.map { block throws(APIError) in
            try block.required(block.string("text"), "text")
        }.joined(separator: "\n")
    }

    /// One Anthropic message as chat messages: a user turn's tool results become `tool` messages before
    /// its text; an assistant turn's blocks become one assistant message.
    static func messages(_ object: RequestObject) throws(APIError) -> [Message] {
        let role = try object.required(object.string("role"), "role")
        guard role == "user" || role == "assistant" else {
            throw APIError.invalidBody(
                path: object.path("role"), problem: "unknown variant `\(role)`, expected `user` or `assistant`")
        }
        let blocks: [RequestObject]
        switch object.value("content") {
        case .string(let text)?:
            return [Message(role: Message.Role(rawValue: role), text: text)]
        case .array?: blocks = try object.objects("content") ?? []
        case let other?: throw object.typeError("content", other, expected: "a string or a sequence of content blocks")
        case nil: throw APIError.invalidBody(path: object.path, problem: "missing field `content`")
        }

        var texts: [String] = []
        var reasoning: String?
        var calls: [ToolCall] = []
        var results: [Message] = []
        for block in blocks {
            let type = try block.required(block.string("type"), "type")
            switch (type, role) {
            case ("text", _): texts.append(try block.required(block.string("text"), "text"))
            case ("thinking", "assistant"): reasoning = (reasoning ?? "") + (try block.string("thinking") ?? "")
            case ("redacted_thinking", "assistant"): break
            case ("tool_use", "assistant"):
                let input = block.value("input") ?? .object([:])
                calls.append(
                    ToolCall(
                        id: try block.string("id"), name: try block.required(block.string("name"), "name"),
                        arguments: input.serialized()))
            case ("tool_result", "user"):
                var result = Message(role: .tool, content: try toolResultContent(block))
                result.toolCallID = try block.required(block.string("tool_use_id"), "tool_use_id")
                results.append(result)
            default:
                throw APIError.invalidRequest(
                    param: block.path("type"), message: "Content blocks of type '\(type)' are not supported in \(role) messages.")
            }
        }
        if role == "assistant" {
            var message = Message(role: .assistant, content: .text(texts.joined(separator: "\n")), toolCalls: calls)
            message.reasoningContent = reasoning
            return [message]
        }
        if !texts.isEmpty || results.isEmpty { results.append(Message(role: .user, text: texts.joined(separator: "\n"))) }
        return results
    }

    /// A tool result's content: a string, or text blocks (kept as parts for the chat format); an error
    /// result says so in front, since the format has no field for it.
    private static func toolResultContent(_ block: RequestObject) throws(APIError) -> Message.Content {
        let isError = try block.bool("is_error") ?? false
        let prefix = isError ? "Error: " : ""
        switch block.value("content") {
        case nil: return .text(prefix)
        case .string(let text)?: return .text(prefix + text)
        case .array?:
            var parts: [Message.ContentPart] = []
            for part in try block.objects("content") ?? [] {
                let type = try part.required(part.string("type"), "type")
                guard type == "text" else {
                    throw APIError.invalidRequest(
                        param: part.path("type"), message: "Tool results with '\(type)' blocks are not supported; send text.")
                }
                parts.append(Message.ContentPart(type: "text", text: try part.required(part.string("text"), "text")))
            }
            if isError, !parts.isEmpty { parts[0].text = prefix + (parts[0].text ?? "") }
            return .parts(parts)
        case let other?: throw block.typeError("content", other, expected: "a string or a sequence of content blocks")
        }
    }
}
