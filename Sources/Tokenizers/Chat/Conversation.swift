// Conversation.swift
//
// API-neutral chat types: what the OpenAI and Anthropic front ends map their requests into, and what
// the DeepSeek V4 chat format renders. The fields mirror the message dictionaries of the official
// encoder (`encoding/encoding_dsv4.py`): role, content, reasoning_content, tool_calls, tool_call_id,
// tools, response_format, task and wo_eos.
//
// Roles, tasks, thinking modes and reasoning efforts are open string-backed values rather than closed
// enums. The official encoder takes plain strings and validates them lazily, at the point where it
// renders a message (an unknown role inside an already-encoded `context` is never an error, an invalid
// thinking mode with no message to render is not either); keeping the values open lets the Swift
// encoder raise the same errors at the same points. The well-known values are static constants.

/// A chat to render: messages plus the options of the official `encode_messages(...)`.
public struct Conversation: Sendable, Hashable {
    /// The messages to render.
    public var messages: [Message]
    /// `chat` (answer directly) or `thinking` (reason inside `<think>…</think>` first).
    public var thinkingMode: ThinkingMode
    /// `nil` (the official `None`), `.high` or `.max`; only `.max` in thinking mode changes the prompt.
    public var reasoningEffort: ReasoningEffort?
    /// Drop the reasoning of turns before the last user message (forced off when any message has tools).
    public var dropThinking: Bool
    /// Start the prompt with the BOS token (only when `context` is empty).
    public var addDefaultBOSToken: Bool
    /// Messages encoded earlier, whose text already precedes this prompt: they shape how the new
    /// messages render (last user turn, tool-call order) but are not rendered again.
    public var context: [Message]

    /// A conversation with the official encoder's defaults.
    public init(
        messages: [Message], thinkingMode: ThinkingMode = .chat, reasoningEffort: ReasoningEffort? = nil,
        dropThinking: Bool = true, addDefaultBOSToken: Bool = true, context: [Message] = []
    ) {
        self.messages = messages
        self.thinkingMode = thinkingMode
        self.reasoningEffort = reasoningEffort
        self.dropThinking = dropThinking
        self.addDefaultBOSToken = addDefaultBOSToken
        self.context = context
    }
}

/// Whether the model answers directly or reasons first (the official `thinking_mode` string).
public struct ThinkingMode: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Non-think mode: the prompt ends with `<｜Assistant｜></think>`.
    public static let chat: ThinkingMode = "chat"
    /// Think mode: the prompt ends with `<｜Assistant｜><think>` and the completion is
    /// `reasoning</think>answer`.
    public static let thinking: ThinkingMode = "thinking"
}

/// How hard the model should think (the official `reasoning_effort`); `nil` means the default.
public struct ReasoningEffort: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// "Think High": the same prompt as the default.
    public static let high: ReasoningEffort = "high"
    /// "Think Max": in thinking mode, a fixed preamble is inserted right after BOS.
    public static let max: ReasoningEffort = "max"
}

/// One chat message, with the fields of the official message dictionaries.
public struct Message: Sendable, Hashable {
    /// Who speaks.
    public var role: Role
    /// The text, or content parts (only tool results may carry parts; see ``Content``). `nil` when absent.
    public var content: Content?
    /// The assistant's reasoning (`reasoning_content`).
    public var reasoningContent: String?
    /// The assistant's tool calls.
    public var toolCalls: [ToolCall]
    /// For `tool` messages: the id of the call this result answers; used to order results like the calls.
    public var toolCallID: String?
    /// Tools offered to the model (rendered for `system` and `developer` messages).
    public var tools: [Tool]
    /// A schema the reply must follow (rendered for `system` and `developer` messages when truthy).
    public var responseFormat: JSONValue?
    /// A quick-instruction task token to append (internal classification tasks).
    public var task: Task?
    /// For a final `assistant` message: leave the EOS off so the model continues it (`wo_eos`).
    public var withoutEOS: Bool

    /// A message; every field but the role is optional.
    public init(
        role: Role, content: Content? = nil, reasoningContent: String? = nil, toolCalls: [ToolCall] = [],
        toolCallID: String? = nil, tools: [Tool] = [], responseFormat: JSONValue? = nil, task: Task? = nil,
        withoutEOS: Bool = false
    ) {
        self.role = role
        self.content = content
        self.reasoningContent = reasoningContent
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.tools = tools
        self.responseFormat = responseFormat
        self.task = task
        self.withoutEOS = withoutEOS
    }

    /// A message with plain text content.
    public init(role: Role, text: String) {
        self.init(role: role, content: .text(text))
    }

    /// A message role (`system`, `user`, `assistant`, `tool`, `developer`, `latest_reminder`).
    public struct Role: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }

        public static let system: Role = "system"
        public static let user: Role = "user"
        public static let assistant: Role = "assistant"
        /// A tool result; merged into a user turn as `<tool_result>…</tool_result>`.
        public static let tool: Role = "tool"
        /// Rendered like a user turn (internal search agent); dropped before the last user turn.
        public static let developer: Role = "developer"
        /// Rendered after `<｜latest_reminder｜>`.
        public static let latestReminder: Role = "latest_reminder"
    }

    /// Message content: text, or a list of parts as OpenAI allows.
    public enum Content: Sendable, Hashable {
        case text(String)
        /// Parts; the official encoder understands them only in tool results, where text parts are
        /// joined by blank lines and other parts become `[Unsupported TYPE]`.
        case parts([ContentPart])
    }

    /// One part of a list-valued content (`{"type": "text", "text": "…"}`, `{"type": "image", …}`).
    public struct ContentPart: Sendable, Hashable {
        /// The part's `type`.
        public var type: String
        /// The part's `text`, for text parts.
        public var text: String?

        public init(type: String, text: String? = nil) {
            self.type = type
            self.text = text
        }
    }

    /// A quick-instruction task: an internal classification request answered after a special token.
    public struct Task: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }

        /// Appends `<｜Assistant｜>`, the thinking token and `<｜action｜>`.
        public static let action: Task = "action"
        public static let query: Task = "query"
        public static let authority: Task = "authority"
        public static let domain: Task = "domain"
        /// Appended after the assistant's EOS.
        public static let title: Task = "title"
        public static let readURL: Task = "read_url"
    }
}

/// A tool call made by the assistant (OpenAI shape: `id`, `function.name`, `function.arguments`).
public struct ToolCall: Sendable, Hashable {
    /// The call id that tool results refer to; `nil` for calls parsed from model output.
    public var id: String?
    /// The function name.
    public var name: String
    /// The arguments as a JSON object text (as OpenAI sends them).
    public var arguments: String

    public init(id: String? = nil, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A tool offered to the model: an OpenAI function schema (`name`, `description`, `parameters`), kept
/// as ordered JSON because the prompt shows it serialised with its keys in the given order.
public struct Tool: Sendable, Hashable {
    /// The `function` object of an OpenAI tool, rendered verbatim into the tools block.
    public var function: JSONValue

    public init(function: JSONValue) { self.function = function }

    /// The function's `name`, if it has one.
    public var name: String? { function.objectValue?["name"]?.stringValue }
}
