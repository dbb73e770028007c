// Conversation+JSON.swift
//
// Reading a conversation from the JSON the official encoder is driven with: the keyword arguments of
// `encode_messages(messages, thinking_mode, ...)` with OpenAI-style message dictionaries (the `input`
// objects of the chat golden files, and the lines `narwhal render` reads); writing a conversation back
// in that same shape (so a saved chat is valid `narwhal render` input and reads back equal); and writing
// a parsed completion in the official parser's output shape.
//
// Python reads these dictionaries loosely (`msg.get("key")`, truthiness for flags); we keep that where
// it decides an output: flags are truthy/falsy like Python, a missing or `null` role reads as the role
// `None` (an unknown role), and non-string roles, tasks, modes and efforts become values that fail the
// same checks the official encoder applies. Values of a type the encoder cannot use (a number as
// content, say) are rejected here with `TypeError`, where Python would sometimes render them.

extension Conversation {
    /// The accepted keyword arguments of the official `encode_messages`.
    static let encoderArgumentNames: Set<String> = [
        "messages", "thinking_mode", "context", "drop_thinking", "add_default_bos_token", "reasoning_effort",
    ]

    /// Reads the keyword arguments of the official `encode_messages(...)` as a JSON object:
    /// `messages` and `thinking_mode`, optionally `reasoning_effort`, `drop_thinking`,
    /// `add_default_bos_token` and `context`.
    public init(encoderArguments json: JSONValue) throws(ChatFormatError) {
        guard case .object(let arguments) = json else {
            throw ChatFormatError(.typeError, "encoder arguments must be a JSON object, not \(json.pythonTypeName)")
        }
        for (key, _) in arguments where !Conversation.encoderArgumentNames.contains(key) {
            throw ChatFormatError(.typeError, "unexpected encoder argument '\(key)'")
        }
        guard let messages = arguments["messages"], let thinkingMode = arguments["thinking_mode"] else {
            throw ChatFormatError(.typeError, "encoder arguments need 'messages' and 'thinking_mode'")
        }
        let effort = arguments["reasoning_effort"] ?? .null
        let reasoningEffort = effort == .null ? nil : ReasoningEffort(rawValue: effort.stringValue ?? effort.serialized())
        self.init(
            messages: try Message.list(from: messages, field: "messages"),
            thinkingMode: ThinkingMode(rawValue: thinkingMode.stringValue ?? thinkingMode.serialized()),
            reasoningEffort: reasoningEffort,
            dropThinking: arguments["drop_thinking"]?.isTruthy ?? true,
            addDefaultBOSToken: arguments["add_default_bos_token"]?.isTruthy ?? true,
            // The official encoder treats any falsy context as none.
            context: try (arguments["context"]).map { value throws(ChatFormatError) in
                value.isTruthy ? try Message.list(from: value, field: "context") : []
            } ?? [])
    }
}

extension Conversation {
    /// The keyword arguments of the official `encode_messages(...)` for this conversation, the inverse of
    /// ``init(encoderArguments:)``: arguments at their default values are left out, except `messages`
    /// and `thinking_mode`, which the encoder requires.
    public var encoderArguments: JSONValue {
        var arguments: JSONObject = [
            "messages": .array(messages.map(\.officialJSON)), "thinking_mode": .string(thinkingMode.rawValue),
        ]
        if let reasoningEffort { arguments["reasoning_effort"] = .string(reasoningEffort.rawValue) }
        if !dropThinking { arguments["drop_thinking"] = false }
        if !addDefaultBOSToken { arguments["add_default_bos_token"] = false }
        if !context.isEmpty { arguments["context"] = .array(context.map(\.officialJSON)) }
        return .object(arguments)
    }
}

extension Message {
    /// The message as an OpenAI-style dictionary, the inverse of ``init(officialJSON:)``: `role`, then
    /// only the fields that are set. Tool calls keep their ids; tools are written in the OpenAI tool
    /// format (`{"type": "function", "function": …}`).
    public var officialJSON: JSONValue {
        var object: JSONObject = ["role": .string(role.rawValue)]
        switch content {
        case nil: break
        case .text(let text): object["content"] = .string(text)
        case .parts(let parts):
            object["content"] = .array(
                parts.map { part in
                    var json: JSONObject = ["type": .string(part.type)]
                    if let text = part.text { json["text"] = .string(text) }
                    return .object(json)
                })
        }
        if let reasoningContent { object["reasoning_content"] = .string(reasoningContent) }
        if !toolCalls.isEmpty {
            object["tool_calls"] = .array(
                toolCalls.map { call in
                    guard case .object(var json) = call.openAIJSON else { return call.openAIJSON }
                    if let id = call.id { json["id"] = .string(id) }
                    return .object(json)
                })
        }
        if let toolCallID { object["tool_call_id"] = .string(toolCallID) }
        if !tools.isEmpty { object["tools"] = .array(tools.map { ["type": "function", "function": $0.function] }) }
        if let responseFormat { object["response_format"] = responseFormat }
        if let task { object["task"] = .string(task.rawValue) }
        if withoutEOS { object["wo_eos"] = true }
        return .object(object)
    }

    /// Reads an OpenAI-style message dictionary the way the official encoder reads it: `role`,
    /// `content` (a string, or for tool results a list of parts), `reasoning_content`, `tool_calls`
    /// (`id`, `function.name`, `function.arguments`), `tool_call_id`, `tools`, `response_format`,
    /// `task` and `wo_eos`. Other keys are ignored.
    public init(officialJSON json: JSONValue) throws(ChatFormatError) {
        guard case .object(let object) = json else {
            throw ChatFormatError(.attributeError, "a message must be a JSON object, not \(json.pythonTypeName)")
        }
        func string(_ key: String) throws(ChatFormatError) -> String? {
            switch object[key] {
            case nil, .null: return nil
            case .string(let s): return s
            case let other?:
                throw ChatFormatError(.typeError, "message '\(key)' must be a string, not \(other.pythonTypeName)")
            }
        }
        // What Python's `str()` would print for a non-string value is irrelevant: it only has to fail
        // the checks a string would pass, which the serialised text does.
        func looseString(_ key: String) -> String? {
            guard let value = object[key], value != .null else { return nil }
            return value.stringValue ?? value.serialized()
        }

        self.init(role: Role(rawValue: looseString("role") ?? "None"))
        content = try Message.content(from: object["content"] ?? .null)
        reasoningContent = try string("reasoning_content")
        toolCallID = try string("tool_call_id")
        task = looseString("task").map(Task.init(rawValue:))
        withoutEOS = object["wo_eos"]?.isTruthy ?? false
        if let format = object["response_format"], format != .null { responseFormat = format }

        if let calls = object["tool_calls"], calls.isTruthy {
            guard case .array(let list) = calls else {
                throw ChatFormatError(.typeError, "'tool_calls' must be a list, not \(calls.pythonTypeName)")
            }
            toolCalls = try list.map { value throws(ChatFormatError) in try ToolCall(openAIJSON: value) }
        }
        if let tools = object["tools"], tools.isTruthy {
            guard case .array(let list) = tools else {
                throw ChatFormatError(.typeError, "'tools' must be a list, not \(tools.pythonTypeName)")
            }
            self.tools = try list.map { value throws(ChatFormatError) in
                guard let function = value.objectValue?["function"] else {
                    throw ChatFormatError(.keyError, "every tool needs a 'function' object (OpenAI tool format)")
                }
                return Tool(function: function)
            }
        }
    }

    static func list(from json: JSONValue, field: String) throws(ChatFormatError) -> [Message] {
        guard case .array(let list) = json else {
            throw ChatFormatError(.typeError, "'\(field)' must be a list of messages, not \(json.pythonTypeName)")
        }
        return try list.map { value throws(ChatFormatError) in try Message(officialJSON: value) }
    }

    static func content(from json: JSONValue) throws(ChatFormatError) -> Content? {
        switch json {
        case .null: return nil
        case .string(let text): return .text(text)
        case .array(let list):
            return .parts(
                try list.map { value throws(ChatFormatError) in
                    guard case .object(let part) = value else {
                        throw ChatFormatError(
                            .attributeError, "a content part must be a JSON object, not \(value.pythonTypeName)")
                    }
                    let type = part["type"].flatMap { $0 == .null ? nil : ($0.stringValue ?? $0.serialized()) }
                    let text: String?
                    switch part["text"] {
                    case nil, .null: text = nil
                    case .string(let s): text = s
                    case let other?:
                        throw ChatFormatError(
                            .typeError, "a part's 'text' must be a string, not \(other.pythonTypeName)")
                    }
                    // Python prints a missing type as `None` in "[Unsupported None]".
                    return ContentPart(type: type ?? "None", text: text)
                })
        default:
            throw ChatFormatError(
                .typeError, "message content must be a string or a list of parts, not \(json.pythonTypeName)")
        }
    }
}

extension ToolCall {
    /// Reads an OpenAI tool call: `{"id": …, "type": "function", "function": {"name": …, "arguments": …}}`.
    /// As in the official encoder, an id may also sit inside `function`.
    public init(openAIJSON json: JSONValue) throws(ChatFormatError) {
        guard let function = json.objectValue?["function"]?.objectValue else {
            throw ChatFormatError(.keyError, "a tool call needs a 'function' object with 'name' and 'arguments'")
        }
        guard let name = function["name"]?.stringValue else {
            throw ChatFormatError(.keyError, "a tool call's function needs a string 'name'")
        }
        guard let arguments = function["arguments"]?.stringValue else {
            throw ChatFormatError(.keyError, "tool call '\(name)' needs 'arguments' as a JSON text string")
        }
        let id = [json.objectValue?["id"], function["id"]].lazy.compactMap { $0?.stringValue }.first { !$0.isEmpty }
        self.init(id: id, name: name, arguments: arguments)
    }

    /// The call in OpenAI shape without an id, as the official parser returns it:
    /// `{"type": "function", "function": {"name": …, "arguments": …}}`.
    public var openAIJSON: JSONValue {
        ["type": "function", "function": ["name": .string(name), "arguments": .string(arguments)]]
    }
}

extension ParsedCompletion {
    /// The official parser's result shape: `{"role", "content", "reasoning_content", "tool_calls"}`.
    public var officialJSON: JSONValue {
        [
            "role": .string(role.rawValue), "content": .string(content),
            "reasoning_content": .string(reasoningContent), "tool_calls": .array(toolCalls.map(\.openAIJSON)),
        ]
    }
}
