// ChatSettings: the parts of a chat request both APIs share once their fields are read — reasoning
// mode and effort, sampling, tools and tool choice, response format — turned into a `Conversation` and
// `GenerationOptions`.
//
// DeepSeek's documented behaviour, which both endpoints follow:
//   - thinking is enabled by default; `reasoning_effort` (OpenAI) / `output_config.effort` (Anthropic)
//     map minimal, low, medium, high and xhigh to High and max, ultra to Max (V4 has only these two
//     levels; the prompt differs only for Max);
//   - in thinking mode temperature, top_p and the penalties are accepted and ignored;
//   - tools go into the system message (one is added in front when the conversation has none), the
//     official encoder's place for them.
//
// `tool_choice` is honoured through the prompt, not by constraining decoding: `none` offers no tools,
// a named tool is offered alone, and `required` / named add a sentence asking for a tool call. A model
// may still answer in text; that is reported as it is (finish_reason `stop`).

import Generation
import Tokenizers

/// How the model may use the offered tools.
enum ToolChoice: Equatable {
    case none
    case auto
    /// At least one call (OpenAI `required`, Anthropic `any`).
    case required
    /// A call of this function (OpenAI `{"type": "function", …}`, Anthropic `{"type": "tool", …}`).
    case named(String)
}

/// Request settings shared by the chat APIs, read and validated.
struct ChatSettings {
    var thinking: Bool
    var effort: ReasoningEffort?
    var temperature: Double?
    var topP: Double?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var seed: Int?
    /// Alternatives per token when log-probabilities are asked for (0 = only the chosen token's).
    var logprobs: Int?
    var maxTokens: Int?
    var stop: [String] = []
    var tools: [Tool] = []
    var toolChoice: ToolChoice = .auto
    /// Rendered into the system message (`json_object` / `json_schema` requests).
    var responseFormat: JSONValue?

    /// Completion tokens when a request sets no `max_tokens`: DeepSeek's documented defaults for
    /// non-thinking (`deepseek-chat`) and thinking (`deepseek-reasoner`) requests. Without one, a model
    /// that never emits EOS (the random-weight default model, say) would generate until the context is
    /// full.
    static let defaultMaxTokens = (chat: 4096, thinking: 32768)

    /// DeepSeek's effort names → V4's two levels; nil for a name that is not one of them.
    static func effort(named name: String) -> ReasoningEffort? {
        switch name {
        case "minimal", "low", "medium", "high", "xhigh": .high
        case "max", "ultra": .max
        default: nil
        }
    }

    /// The sampling parameters: validated ranges, and the sampling knobs ignored in thinking mode.
    func sampling(temperatureRange: ClosedRange<Double>) throws(APIError) -> SamplingParameters {
        func check(_ value: Double?, _ name: String, _ range: ClosedRange<Double>) throws(APIError) {
            guard let value, !range.contains(value) else { return }
            throw APIError.invalidParameter(
                param: name, message: "Invalid \(name) \(value): expected a number from \(range.lowerBound) to \(range.upperBound).")
        }
        try check(temperature, "temperature", temperatureRange)
        try check(topP, "top_p", 0...1)
        try check(presencePenalty, "presence_penalty", -2...2)
        try check(frequencyPenalty, "frequency_penalty", -2...2)
        var parameters = SamplingParameters()
        if !thinking {
            parameters.temperature = Float(temperature ?? 1)
            // top_p 0 keeps only the most likely token: greedy.
            if let topP { topP == 0 ? (parameters.temperature = 0) : (parameters.topP = Float(topP)) }
            parameters.presencePenalty = Float(presencePenalty ?? 0)
            parameters.frequencyPenalty = Float(frequencyPenalty ?? 0)
        }
        parameters.seed = seed.map { UInt64(bitPattern: Int64($0)) }
        parameters.logprobs = logprobs
        return parameters
    }

    /// The generation options; `maxTokens` must be at least 1 when given, and `defaultMaxTokens` (else
    /// DeepSeek's default for the mode) applies when it is not.
    func options(temperatureRange: ClosedRange<Double>, maxTokensField: String, defaultMaxTokens: Int? = nil) throws(APIError)
        -> GenerationOptions
    {
        if let maxTokens, maxTokens < 1 {
            throw APIError.invalidParameter(
                param: maxTokensField, message: "Invalid \(maxTokensField) \(maxTokens): expected at least 1.")
        }
        let limit = maxTokens ?? defaultMaxTokens ?? (thinking ? Self.defaultMaxTokens.thinking : Self.defaultMaxTokens.chat)
        return GenerationOptions(sampling: try sampling(temperatureRange: temperatureRange), maxTokens: limit, stop: stop)
    }

    /// Checks the tools and the choice among them (`param` names the request field in errors).
    func validateTools(param: String) throws(APIError) {
        if tools.count > 128 {
            throw APIError.invalidParameter(param: param, message: "Too many tools: \(tools.count); at most 128 are supported.")
        }
        var names: Set<String> = []
        for tool in tools {
            guard let name = tool.name, !name.isEmpty else {
                throw APIError.invalidParameter(param: param, message: "Every tool needs a non-empty name.")
            }
            guard names.insert(name).inserted else {
                throw APIError.invalidParameter(param: param, message: "Tool names must be unique; '\(name)' repeats.")
            }
        }
        switch toolChoice {
        case .required where tools.isEmpty:
            throw APIError.invalidRequest(param: "tool_choice", message: "tool_choice requires tools to choose from.")
        case .named(let name) where !names.contains(name):
            throw APIError.invalidRequest(
                param: "tool_choice", message: "tool_choice names '\(name)', which is not among the tools offered.")
        default: break
        }
    }

    /// The conversation to render: `messages` with the tools, the tool choice and the response format
    /// placed in the (first) system message.
    func conversation(_ messages: [Message]) -> Conversation {
        var messages = messages
        var offered = tools
        var instruction = ""
        switch toolChoice {
        case .none: offered = []
        case .auto: break
        case .required: instruction = "You must answer with at least one tool call."
        case .named(let name):
            offered = tools.filter { $0.name == name }
            instruction = "You must answer with a call of the tool `\(name)`."
        }
        if !offered.isEmpty || responseFormat != nil {
            if messages.first?.role != .system { messages.insert(Message(role: .system, text: ""), at: 0) }
            messages[0].tools = offered
            messages[0].responseFormat = responseFormat
            if !instruction.isEmpty, !offered.isEmpty {
                let text: String
                if case .text(let existing)? = messages[0].content, !existing.isEmpty {
                    text = existing + "\n\n" + instruction
                } else {
                    text = instruction
                }
                messages[0].content = .text(text)
            }
        }
        return Conversation(
            messages: messages, thinkingMode: thinking ? .thinking : .chat, reasoningEffort: thinking ? effort : nil)
    }
}
