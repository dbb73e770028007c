// Reply: one generation's events gathered into the assistant message they make up, with the usage and
// the timings front ends report. The chat appends `message` to its history (so the next turn's prompt
// repeats this turn and the session reuses its cache), `narwhal run --json` prints `json`, and both show
// `speed`.
//
// Timing: the prefill ends with the last `.prefill` event (or, when the whole prompt came from the cache
// and there is none, with the first token); decoding ends with `.finish`, or when the front end stops
// reading (`stop(at:)`). The first completion token is sampled from the prefill's logits, so decoding
// runs one forward pass fewer than it yields tokens; the decode speed counts forward passes, as
// llama.cpp does.
//
// Token counts while the generation runs come from `.logprobs` events (one per token) when the options
// asked for them, else from the text deltas (a lower bound); `.finish` brings the exact usage either way.

import Tokenizers

/// An assistant reply assembled from ``GenerationEvent``s.
public struct Reply: Sendable {
    /// Prefill and decode throughput of one reply.
    public struct Speed: Sendable, Equatable {
        /// Prompt tokens computed (not found in the cache; fewer when stopped during the prefill).
        public var prefillTokens: Int
        public var prefillSeconds: Double
        /// Forward passes while decoding (completion tokens − 1).
        public var decodeTokens: Int
        public var decodeSeconds: Double

        /// Prompt tokens computed per second; nil when none were computed.
        public var prefillTokensPerSecond: Double? {
            prefillTokens > 0 && prefillSeconds > 0 ? Double(prefillTokens) / prefillSeconds : nil
        }

        /// Completion tokens per second; nil with fewer than two tokens.
        public var decodeTokensPerSecond: Double? {
            decodeTokens > 0 && decodeSeconds > 0 ? Double(decodeTokens) / decodeSeconds : nil
        }
    }

    /// The mode the prompt was rendered in: in thinking mode the completion starts with reasoning.
    public let thinkingMode: ThinkingMode
    public private(set) var content = ""
    public private(set) var reasoning = ""
    public private(set) var toolCalls: [ToolCall] = []
    /// Set by `.finish`; nil while running and when the reply was stopped.
    public private(set) var finishReason: FinishReason?
    /// Set by `.finish`, or from what was seen when stopped early (see ``stop(at:)``).
    public private(set) var usage: Usage?
    /// Prompt tokens being computed (of the latest `.prefill` event): `total` and how many are `done`.
    public private(set) var prefill: (done: Int, total: Int)?
    /// Completion tokens so far: counted from `.logprobs` events when the options asked for them
    /// (``countsTokens``); otherwise the number of text deltas, a close lower bound (a token whose text
    /// is held back, such as `</think>`, brings none), until `.finish` brings the exact usage.
    public private(set) var tokenCount = 0
    /// Of those, the reasoning tokens (up to and including `</think>` when counted exactly).
    public private(set) var reasoningTokenCount = 0
    /// True once a `.logprobs` event arrived: the counts are exact while running.
    public private(set) var countsTokens = false

    /// Whether ``tokenCount`` is exact (per-token events, or the final usage) rather than a lower bound.
    public var isTokenCountExact: Bool { countsTokens || finishReason != nil }

    private var reasoningOpen: Bool
    private let start: ContinuousClock.Instant
    private var prefillEnd: ContinuousClock.Instant?
    private var end: ContinuousClock.Instant?

    /// The prompt's length when the front end knows it, to report the usage of a reply stopped early.
    public let promptTokens: Int?

    /// A reply to a prompt of `promptTokens` tokens (if known) rendered in `thinkingMode`, whose
    /// generation started at `start`.
    public init(thinkingMode: ThinkingMode, promptTokens: Int? = nil, start: ContinuousClock.Instant = .now) {
        self.thinkingMode = thinkingMode
        self.promptTokens = promptTokens
        self.start = start
        reasoningOpen = thinkingMode == .thinking
    }

    /// True once `.finish` arrived or `stop(at:)` was called.
    public var isComplete: Bool { end != nil }

    /// Takes in the next event, received at `time`.
    public mutating func record(_ event: GenerationEvent, at time: ContinuousClock.Instant = .now) {
        if case .prefill(let done, let total) = event {
            prefill = (done, total)
            prefillEnd = time
            return
        }
        if prefillEnd == nil { prefillEnd = time }
        switch event {
        case .prefill: break
        case .reasoning(let text):
            reasoning += text
            if !countsTokens {
                tokenCount += 1
                reasoningTokenCount += 1
            }
        case .content(let text):
            content += text
            if !countsTokens { tokenCount += 1 }
        case .toolCall(let call): toolCalls.append(call)
        case .stopSequence: break
        case .logprobs(let lp):
            countsTokens = true
            tokenCount += 1
            if reasoningOpen {
                reasoningTokenCount += 1
                if lp.chosen.token == DeepSeekV4ChatFormat.Token.thinkingEnd { reasoningOpen = false }
            }
        case .finish(let reason, let usage):
            finishReason = reason
            self.usage = usage
            tokenCount = usage.completionTokens
            reasoningTokenCount = usage.reasoningTokens
            end = time
        }
    }

    /// Marks the reply as stopped early by the reader (e.g. Ctrl-C) at `time`. When the tokens were
    /// counted, the prompt's length is known and the prefill got far enough to tell, the usage is filled
    /// in from what was seen: the prompt tokens not computed came from the cache (a prompt held entirely
    /// needs no prefill events).
    public mutating func stop(at time: ContinuousClock.Instant = .now) {
        guard end == nil else { return }
        end = time
        if usage == nil, countsTokens, let promptTokens, prefill != nil || tokenCount > 0 {
            usage = Usage(
                promptTokens: promptTokens, cachedPromptTokens: promptTokens - (prefill?.total ?? 0),
                completionTokens: tokenCount, reasoningTokens: reasoningTokenCount)
        }
    }

    /// Whether the model is still reasoning (thinking mode, `</think>` not produced yet, no answer yet).
    public var isReasoning: Bool { reasoningOpen && content.isEmpty && toolCalls.isEmpty }

    /// The reply as an assistant message for the conversation history: content, reasoning (when there
    /// is any) and tool calls.
    public var message: Message {
        Message(
            role: .assistant, content: .text(content), reasoningContent: reasoning.isEmpty ? nil : reasoning,
            toolCalls: toolCalls)
    }

    /// Throughput so far (up to the end once complete).
    public func speed(now: ContinuousClock.Instant = .now) -> Speed {
        let prefillEnd = prefillEnd ?? end ?? now
        let end = end ?? now
        return Speed(
            prefillTokens: prefill?.done ?? 0, prefillSeconds: seconds(prefillEnd - start),
            decodeTokens: max(0, tokenCount - 1), decodeSeconds: seconds(end - prefillEnd))
    }

    /// The final message in the shape of DeepSeek's chat completion API: `role`, `content`,
    /// `reasoning_content` (null in non-think mode), `tool_calls` when there are any, `finish_reason`
    /// (null when stopped early) and `usage`.
    public var json: JSONValue {
        var object: JSONObject = [
            "role": "assistant", "content": .string(content),
            "reasoning_content": thinkingMode == .thinking ? .string(reasoning) : .null,
        ]
        if !toolCalls.isEmpty {
            object["tool_calls"] = .array(
                toolCalls.enumerated().map { index, call in
                    guard case .object(var json) = call.openAIJSON else { return call.openAIJSON }
                    json["id"] = .string(call.id ?? "call_\(index)")
                    return .object(json)
                })
        }
        object["finish_reason"] = finishReason.map { .string($0.rawValue) } ?? .null
        let u = usage ?? Usage(completionTokens: tokenCount, reasoningTokens: reasoningTokenCount)
        object["usage"] = [
            "prompt_tokens": .integer(String(u.promptTokens)),
            "completion_tokens": .integer(String(u.completionTokens)),
            "total_tokens": .integer(String(u.promptTokens + u.completionTokens)),
            "prompt_cache_hit_tokens": .integer(String(u.cachedPromptTokens)),
            "prompt_cache_miss_tokens": .integer(String(u.promptTokens - u.cachedPromptTokens)),
            "reasoning_tokens": .integer(String(u.reasoningTokens)),
            // Where OpenAI-style clients look for it.
            "completion_tokens_details": ["reasoning_tokens": .integer(String(u.reasoningTokens))],
        ]
        return .object(object)
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
