// ReasoningMode: the three ways DeepSeek V4 can answer, as the model card names them — Non-think (answer
// at once), Think High (reason inside <think>…</think> first) and Think Max (the same with a fixed
// preamble that asks for maximal effort) — as one value for front ends, mapped onto the chat format's two
// knobs (`thinking_mode` and `reasoning_effort`).
//
// Think Max writes very long reasoning; the model card recommends a context of at least 384K tokens for
// it, so front ends ask `contextWarning(contextLimit:)` and show what it says.

import Tokenizers

/// Non-think, Think High or Think Max.
public enum ReasoningMode: String, CaseIterable, Sendable, Equatable {
    /// Answer directly (`thinking_mode` "chat").
    case nonThink = "non-think"
    /// Reason first (`thinking_mode` "thinking"); the default of DeepSeek's API.
    case think = "think"
    /// Reason first, with maximal effort (`thinking_mode` "thinking", `reasoning_effort` "max").
    case thinkMax = "think-max"

    /// The smallest context the model card recommends for Think Max: 384K tokens.
    public static let thinkMaxRecommendedContext = 384 * 1024

    /// Reads a mode by name. Besides the canonical names it accepts the spellings people use for the
    /// same thing: `chat`, `none`, `off`, `nothink`, `no-think` for non-think; `thinking`, `high`, `on`
    /// for think; `max` for think-max. Case and `_`/`-` do not matter.
    public init(parsing text: String) throws(GenerationError) {
        let key = text.lowercased().replacingOccurrences(of: "_", with: "-")
        switch key {
        case "non-think", "nonthink", "nothink", "no-think", "chat", "none", "off": self = .nonThink
        case "think", "thinking", "high", "think-high", "on": self = .think
        case "think-max", "thinkmax", "max": self = .thinkMax
        default:
            throw .invalidParameter(
                name: "reasoning mode '\(text)'", expected: Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// The mode a conversation's options amount to. `reasoning_effort` changes the prompt only in
    /// thinking mode, so any effort in chat mode is plain non-think.
    public init(thinkingMode: ThinkingMode, reasoningEffort: ReasoningEffort?) {
        if thinkingMode == .chat {
            self = .nonThink
        } else {
            self = reasoningEffort == .max ? .thinkMax : .think
        }
    }

    /// The chat format's `thinking_mode`.
    public var thinkingMode: ThinkingMode { self == .nonThink ? .chat : .thinking }

    /// The chat format's `reasoning_effort`: `max` for Think Max, otherwise the default (none).
    public var reasoningEffort: ReasoningEffort? { self == .thinkMax ? .max : nil }

    /// How people call it: "non-think", "think (high)", "think max".
    public var displayName: String {
        switch self {
        case .nonThink: "non-think"
        case .think: "think (high)"
        case .thinkMax: "think max"
        }
    }

    /// A warning when this mode needs a larger context than `contextLimit` (nil when all is well),
    /// saying how to get one.
    public func contextWarning(contextLimit: Int) -> String? {
        guard self == .thinkMax, contextLimit < Self.thinkMaxRecommendedContext else { return nil }
        return "Think Max writes very long reasoning and the model card recommends a context of at least "
            + "384K tokens, but the context is \(contextLimit) tokens; answers may be cut off. "
            + "To enable it, start with --ctx \(Self.thinkMaxRecommendedContext)."
    }
}

extension Conversation {
    /// The reasoning mode of this conversation's options.
    public var reasoningMode: ReasoningMode {
        get { ReasoningMode(thinkingMode: thinkingMode, reasoningEffort: reasoningEffort) }
        set {
            thinkingMode = newValue.thinkingMode
            reasoningEffort = newValue.reasoningEffort
        }
    }
}
