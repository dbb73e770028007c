// DeepSeekV4ChatFormat.swift
//
// Conversation → prompt text for DeepSeek V4, byte-identical to the official `encode_messages(...)` of
// `encoding/encoding_dsv4.py` (HF revision 60d8d707). There is no Jinja chat template for V4; this
// encoder is the reference. The pipeline follows the official one step by step, because its quirks
// are part of the format:
//
//   1. merge tool results into user turns (`<tool_result>…</tool_result>` blocks, consecutive user
//      messages joined by blank lines),
//   2. order each turn's tool results like the calls of the preceding assistant message,
//   3. in thinking mode with drop_thinking, strip reasoning from assistant turns before the last user
//      turn and remove developer (and unknown-role) messages before it,
//   4. render each new message and the transition to the next speaker.
//
// The fixed texts (tools block, Think-Max preamble, response-format header, DSML) are what the model
// was trained on; they are checked byte for byte against the golden prompts of the official encoder.
// Errors name the exception the official code raises (`AssertionError`, `NotImplementedError`, …) at
// the same point, with our own messages.
//
// Deliberate differences, all for inputs the official encoder mishandles: content given as a list of
// parts is only understood in tool results (elsewhere Python would either fail with TypeError or embed
// the list's Python repr; we always raise TypeError), and JSON `null` is treated like a missing field.

/// The DeepSeek V4 chat format: renders a ``Conversation`` into the prompt the model continues.
public enum DeepSeekV4ChatFormat {
    /// Special-token texts of the format (each is one token in the V4 vocabulary).
    public enum Token {
        public static let bos = "<｜begin▁of▁sentence｜>"
        public static let eos = "<｜end▁of▁sentence｜>"
        public static let user = "<｜User｜>"
        public static let assistant = "<｜Assistant｜>"
        public static let latestReminder = "<｜latest_reminder｜>"
        public static let thinkingStart = "<think>"
        public static let thinkingEnd = "</think>"
        /// The DSML marker that prefixes every tool-call tag.
        public static let dsml = "｜DSML｜"
    }

    /// The prompt text for `conversation`, as the official `encode_messages` returns it.
    public static func encode(_ conversation: Conversation) throws(ChatFormatError) -> String {
        // The official encoder orders the new tool results using the raw context (only its assistant
        // tool calls matter there), then merges the context on its own.
        var messages = mergeToolMessages(conversation.messages)
        sortToolResults(&messages, initialOrder: toolCallOrder(of: conversation.context))
        var context = mergeToolMessages(conversation.context)
        sortToolResults(&context, initialOrder: [:])

        var turns = context + messages
        var prompt = conversation.addDefaultBOSToken && context.isEmpty ? Token.bos : ""

        // As in the official encoder, tools anywhere switch dropping off: tool-use turns keep reasoning.
        let dropThinking = conversation.dropThinking && !turns.contains { !$0.message.tools.isEmpty }
        let renderCount: Int
        let firstRendered: Int
        if conversation.thinkingMode == .thinking && dropThinking {
            turns = dropEarlierThinking(turns)
            // As in the official code, the dropped context is re-derived on its own; when dropping
            // removes context messages that it keeps alone, fewer (or no) new messages are rendered.
            renderCount = turns.count - dropEarlierThinking(context).count
            firstRendered = turns.count - renderCount
        } else {
            renderCount = messages.count
            firstRendered = context.count
        }
        let options = RenderOptions(
            thinkingMode: conversation.thinkingMode, dropThinking: dropThinking,
            reasoningEffort: conversation.reasoningEffort, lastUserIndex: lastUserIndex(turns))
        for offset in 0..<max(0, renderCount) {
            prompt += try render(at: firstRendered + offset, of: turns, options: options)
        }
        return prompt
    }

    /// The prompt's token ids: the text of ``encode(_:)`` tokenized as one string, special tokens
    /// matched atomically (no BOS is added beyond the one in the text).
    public static func tokenIDs(for conversation: Conversation, tokenizer: BPETokenizer) throws(ChatFormatError)
        -> [Int]
    {
        tokenizer.encode(try encode(conversation))
    }

    // MARK: - Fixed texts

    /// Inserted right after BOS in thinking mode with reasoning effort `max` (official
    /// `REASONING_EFFORT_MAX`).
    static let reasoningEffortMaxPreamble =
        "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
        + "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the "
        + "root cause, rigorously stress-testing your logic against all potential paths, edge cases, and "
        + "adversarial scenarios.\n"
        + "Explicitly write out your entire deliberation process, documenting every intermediate step, "
        + "considered alternative, and rejected hypothesis to ensure absolutely no assumption is left "
        + "unchecked.\n\n"

    /// Precedes the serialised `response_format` (official `response_format_template`).
    static let responseFormatHeader =
        "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n"

    /// The tools section of a system or developer message (official `TOOLS_TEMPLATE`): how to call
    /// tools in DSML, then one `json.dumps` line per function schema.
    static func toolsBlock(_ tools: [Tool]) -> String {
        let dsml = Token.dsml
        let schemas = tools.map { $0.function.serialized() }.joined(separator: "\n")
        return """
            ## Tools

            You have access to a set of tools to help answer the user's question. You can invoke tools by \
            writing a "<\(dsml)tool_calls>" block like the following:

            <\(dsml)tool_calls>
            <\(dsml)invoke name="$TOOL_NAME">
            <\(dsml)parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</\(dsml)parameter>
            ...
            </\(dsml)invoke>
            <\(dsml)invoke name="$TOOL_NAME2">
            ...
            </\(dsml)invoke>
            </\(dsml)tool_calls>

            String parameters should be specified as is and set `string="true"`. For all other types \
            (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

            If thinking_mode is enabled (triggered by \(Token.thinkingStart)), you MUST output your \
            complete reasoning inside \(Token.thinkingStart)...\(Token.thinkingEnd) BEFORE any tool calls \
            or final response.

            Otherwise, output directly after \(Token.thinkingEnd) with tool calls or final response.

            ### Available Tool Schemas

            \(schemas)

            You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.

            """
    }

    /// Task name → the special token that asks for it.
    static let taskTokens: [Message.Task: String] = [
        .action: "<｜action｜>", .query: "<｜query｜>", .authority: "<｜authority｜>", .domain: "<｜domain｜>",
        .title: "<｜title｜>", .readURL: "<｜read_url｜>",
    ]

    // MARK: - Preprocessing

    /// A message after tool results were merged into user turns.
    struct Turn {
        /// The message; for user turns only `content`, `task` and `withoutEOS` survive the merge.
        var message: Message
        /// For user turns: the texts and tool results, rendered joined by blank lines.
        var blocks: [Block] = []

        enum Block {
            case text(Message.Content?)
            case toolResult(id: String, content: Message.Content?)
        }
    }

    /// The official `merge_tool_messages`: each tool result joins the preceding user turn (or starts
    /// one), and a user message joins a preceding user turn unless that turn carries a task.
    static func mergeToolMessages(_ messages: [Message]) -> [Turn] {
        var turns: [Turn] = []
        for message in messages {
            let lastIsUser = turns.last?.message.role == .user
            switch message.role {
            case .tool:
                let block = Turn.Block.toolResult(id: message.toolCallID ?? "", content: message.content)
                if lastIsUser {
                    turns[turns.count - 1].blocks.append(block)
                } else {
                    turns.append(Turn(message: Message(role: .user), blocks: [block]))
                }
            case .user:
                if lastIsUser, turns[turns.count - 1].message.task == nil {
                    turns[turns.count - 1].blocks.append(.text(message.content))
                } else {
                    let kept = Message(
                        role: .user, content: message.content, task: message.task, withoutEOS: message.withoutEOS)
                    turns.append(Turn(message: kept, blocks: [.text(message.content)]))
                }
            default:
                turns.append(Turn(message: message))
            }
        }
        return turns
    }

    /// Call id → position among the calls of the last assistant message that made tool calls.
    typealias ToolCallOrder = [[UInt8]: Int]

    static func toolCallOrder(of message: Message) -> ToolCallOrder? {
        guard message.role == .assistant, !message.toolCalls.isEmpty else { return nil }
        var order: ToolCallOrder = [:]
        for (position, call) in message.toolCalls.enumerated() {
            if let id = call.id, !id.isEmpty { order[Array(id.utf8)] = position }
        }
        return order
    }

    static func toolCallOrder(of messages: [Message]) -> ToolCallOrder {
        messages.reduce(into: [:]) { order, message in
            if let newOrder = toolCallOrder(of: message) { order = newOrder }
        }
    }

    /// The official `sort_tool_results_by_call_order`: within each user turn with several tool results,
    /// the results take the order of the calls (a stable sort; unknown ids count as position 0), while
    /// text blocks keep their places.
    static func sortToolResults(_ turns: inout [Turn], initialOrder: ToolCallOrder) {
        var order = initialOrder
        for index in turns.indices {
            if let newOrder = toolCallOrder(of: turns[index].message) {
                order = newOrder
                continue
            }
            guard turns[index].message.role == .user else { continue }
            let resultSlots = turns[index].blocks.indices.filter {
                if case .toolResult = turns[index].blocks[$0] { true } else { false }
            }
            guard resultSlots.count > 1, !order.isEmpty else { continue }
            func rank(_ slot: Int) -> Int {
                guard case .toolResult(let id, _) = turns[index].blocks[slot] else { return 0 }
                return order[Array(id.utf8)] ?? 0
            }
            let sorted = resultSlots.enumerated()
                .sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }
                .map { turns[index].blocks[$0.element] }
            for (slot, block) in zip(resultSlots, sorted) { turns[index].blocks[slot] = block }
        }
    }

    /// Index of the last user or developer turn, or -1.
    static func lastUserIndex(_ turns: [Turn]) -> Int {
        turns.lastIndex { $0.message.role == .user || $0.message.role == .developer } ?? -1
    }

    /// The official `_drop_thinking_messages`: before the last user turn, assistant turns lose their
    /// reasoning and turns of other roles than user, system, tool, latest_reminder and
    /// direct_search_results (i.e. developer and unknown roles) are removed.
    static func dropEarlierThinking(_ turns: [Turn]) -> [Turn] {
        let keptRoles: Set<Message.Role> = [.user, .system, .tool, .latestReminder, "direct_search_results"]
        let lastUser = lastUserIndex(turns)
        var kept: [Turn] = []
        for (index, turn) in turns.enumerated() {
            if keptRoles.contains(turn.message.role) || index >= lastUser {
                kept.append(turn)
            } else if turn.message.role == .assistant {
                var stripped = turn
                stripped.message.reasoningContent = nil
                kept.append(stripped)
            }
        }
        return kept
    }

    // MARK: - Rendering

    struct RenderOptions {
        var thinkingMode: ThinkingMode
        var dropThinking: Bool
        var reasoningEffort: ReasoningEffort?
        var lastUserIndex: Int
    }

    /// The official `render_message`: one turn's text plus the transition to the next speaker.
    static func render(at index: Int, of turns: [Turn], options: RenderOptions) throws(ChatFormatError) -> String {
        let isThinking = options.thinkingMode == .thinking
        guard isThinking || options.thinkingMode == .chat else {
            throw ChatFormatError(
                .assertionError, "thinking mode '\(options.thinkingMode.rawValue)' is neither 'chat' nor 'thinking'")
        }
        if let effort = options.reasoningEffort, effort != .high, effort != .max {
            throw ChatFormatError(
                .assertionError, "reasoning effort '\(effort.rawValue)' is not one of 'high', 'max' or none")
        }
        let turn = turns[index]
        let message = turn.message
        var prompt = ""
        if index == 0 && isThinking && options.reasoningEffort == .max {
            prompt += reasoningEffortMaxPreamble
        }

        switch message.role {
        case .system:
            prompt += try text(of: message, orIfAbsent: "")
            prompt += instructions(of: message)
        case .developer:
            let content = try text(of: message, orIfAbsent: "")
            guard !content.isEmpty else {
                throw ChatFormatError(.assertionError, "a developer message needs non-empty content")
            }
            prompt += Token.user + content + instructions(of: message)
        case .user:
            prompt += Token.user
            prompt += try turn.blocks.map { block throws(ChatFormatError) in try render(block) }
                .joined(separator: "\n\n")
        case .latestReminder:
            // The official template formats a missing content as Python's `None`.
            prompt += Token.latestReminder + (try text(of: message, orIfAbsent: "None"))
        case .assistant:
            let toolCalls = message.toolCalls.isEmpty ? "" : try DSML.render(toolCalls: message.toolCalls)
            // An answer to a quick-instruction task has no thinking part; otherwise reasoning is shown
            // for turns after the last user turn, or for all turns when thinking is kept.
            let previousHasTask = index > 0 && turns[index - 1].message.task != nil
            var reasoning = ""
            if isThinking && !previousHasTask && (!options.dropThinking || index > options.lastUserIndex) {
                reasoning = (message.reasoningContent ?? "") + Token.thinkingEnd
            }
            prompt += reasoning + (try text(of: message, orIfAbsent: "")) + toolCalls
            if !message.withoutEOS { prompt += Token.eos }
        default:
            // `tool` never gets here: merging turned every tool message into a user turn.
            throw ChatFormatError(
                .notImplementedError,
                "unknown role '\(message.role.rawValue)'; "
                    + "use system, user, assistant, tool, developer or latest_reminder")
        }

        // The transition is written only before an assistant or latest_reminder message, or at the end.
        if index + 1 < turns.count, turns[index + 1].message.role != .assistant,
            turns[index + 1].message.role != .latestReminder
        {
            return prompt
        }
        if let task = message.task {
            guard let taskToken = taskTokens[task] else {
                throw ChatFormatError(
                    .assertionError,
                    "unknown task '\(task.rawValue)'; "
                        + "valid tasks are action, query, authority, domain, title, read_url")
            }
            if task == .action {
                prompt += Token.assistant + (isThinking ? Token.thinkingStart : Token.thinkingEnd) + taskToken
            } else {
                prompt += taskToken
            }
        } else if message.role == .user || message.role == .developer {
            prompt += Token.assistant
            let opensThinking = isThinking && (!options.dropThinking || index >= options.lastUserIndex)
            prompt += opensThinking ? Token.thinkingStart : Token.thinkingEnd
        }
        return prompt
    }

    /// The tools block and response format that system and developer messages carry.
    private static func instructions(of message: Message) -> String {
        var text = ""
        if !message.tools.isEmpty { text += "\n\n" + toolsBlock(message.tools) }
        if let format = message.responseFormat, format.isTruthy {
            text += "\n\n" + responseFormatHeader + format.serialized()
        }
        return text
    }

    /// A message's text content. Parts are an error outside tool results (see the file header).
    private static func text(of message: Message, orIfAbsent absent: String) throws(ChatFormatError) -> String {
        switch message.content {
        case nil: return absent
        case .text(let text): return text
        case .parts(let parts):
            // An empty list is falsy in Python, so it reads as empty content (and fails the developer
            // check); the official latest_reminder template would print it as "[]" instead.
            if parts.isEmpty && message.role != .latestReminder { return "" }
            throw ChatFormatError(
                .typeError,
                "\(message.role.rawValue) content must be a string; content parts are only supported in tool results")
        }
    }

    /// A user-turn block: text as is, a tool result inside `<tool_result>` (text parts joined by blank
    /// lines, other parts as `[Unsupported TYPE]`).
    private static func render(_ block: Turn.Block) throws(ChatFormatError) -> String {
        switch block {
        case .text(nil): return ""
        case .text(.text(let text)): return text
        case .text(.parts):
            throw ChatFormatError(
                .typeError, "user content must be a string; content parts are only supported in tool results")
        case .toolResult(_, let content):
            let text: String
            switch content {
            case nil: text = ""
            case .text(let value): text = value
            case .parts(let parts):
                text = parts.map { $0.type == "text" ? $0.text ?? "" : "[Unsupported \($0.type)]" }
                    .joined(separator: "\n\n")
            }
            return "<tool_result>\(text)</tool_result>"
        }
    }
}
