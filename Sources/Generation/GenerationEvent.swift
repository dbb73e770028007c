// What a generation produces, in order: prefill progress, reasoning and content deltas, complete tool
// calls, per-token log-probabilities when asked for, and one finish with the usage.

import Tokenizers

public enum FinishReason: String, Sendable, Equatable, Codable {
    /// The model ended its message (EOS) or a stop string was produced.
    case stop
    /// The token limit (max tokens or the context) was reached.
    case length
    /// The model called tools.
    case toolCalls = "tool_calls"
}

public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    /// Prompt tokens whose state was reused rather than computed.
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    /// Completion tokens spent reasoning (up to and including `</think>`).
    public var reasoningTokens: Int

    public init(promptTokens: Int = 0, cachedPromptTokens: Int = 0, completionTokens: Int = 0, reasoningTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.completionTokens = completionTokens
        self.reasoningTokens = reasoningTokens
    }
}

/// Log-probability of one generated token and of the most likely alternatives.
public struct TokenLogprobs: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var id: Int
        public var token: String
        public var bytes: [UInt8]
        public var logprob: Float
    }
    public var chosen: Entry
    public var top: [Entry]
}

public enum GenerationEvent: Sendable, Equatable {
    /// Prompt tokens computed so far (of `total` not found in the cache).
    case prefill(done: Int, total: Int)
    case reasoning(String)
    case content(String)
    case toolCall(ToolCall)
    case logprobs(TokenLogprobs)
    /// The stop string that ended the generation (sent right before its `.finish(.stop, …)`), so an API
    /// can tell a stop sequence from the model's own end of message.
    case stopSequence(String)
    case finish(FinishReason, Usage)
}
