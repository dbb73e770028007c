// Reply: events in, the assistant message, counts, speed and the `run --json` object out; and a chat
// driven the way `narwhal chat` drives it (transcript → engine → reply → transcript) reusing its cache.

import Foundation
import Testing
import Tokenizers

@testable import Generation

@Suite("Reply")
struct ReplyTests {
    let tokenizer = TestFiles.tokenizer

    func logprobs(_ text: String) -> GenerationEvent {
        .logprobs(TokenLogprobs(chosen: .init(id: 0, token: text, bytes: Array(text.utf8), logprob: 0), top: []))
    }

    @Test("events become the assistant message with reasoning, content and tool calls")
    func message() {
        var reply = Reply(thinkingMode: .thinking)
        let call = ToolCall(name: "lookup", arguments: "{\"q\": \"x\"}")
        for e: GenerationEvent in [.reasoning("Hm"), .reasoning("m."), .content("Sure"), .content("."), .toolCall(call)] {
            reply.record(e)
        }
        #expect(!reply.isComplete)
        reply.record(.finish(.toolCalls, Usage(promptTokens: 10, cachedPromptTokens: 4, completionTokens: 7, reasoningTokens: 3)))
        #expect(reply.isComplete)
        #expect(reply.message == Message(role: .assistant, content: .text("Sure."), reasoningContent: "Hmm.", toolCalls: [call]))
        #expect(Reply(thinkingMode: .chat).message.reasoningContent == nil)
    }

    @Test("per-token events count tokens and reasoning tokens up to </think> while running")
    func liveCounts() {
        var reply = Reply(thinkingMode: .thinking)
        for piece in ["Let", " me", " see", "</think>", "Yes", "."] { reply.record(logprobs(piece)) }
        #expect(reply.tokenCount == 6)
        #expect(reply.reasoningTokenCount == 4)
        var chat = Reply(thinkingMode: .chat)
        chat.record(logprobs("</think>"))
        #expect(chat.reasoningTokenCount == 0)
    }

    @Test("speed: prefill until the last prefill event, decode counts forward passes until the finish")
    func speed() {
        let t0 = ContinuousClock.now
        var reply = Reply(thinkingMode: .chat, start: t0)
        reply.record(.prefill(done: 50, total: 100), at: t0 + .milliseconds(250))
        reply.record(.prefill(done: 100, total: 100), at: t0 + .milliseconds(500))
        for i in 0..<11 { reply.record(logprobs("a"), at: t0 + .milliseconds(500 + 100 * i)) }
        reply.record(.finish(.length, Usage(promptTokens: 120, cachedPromptTokens: 20, completionTokens: 11)), at: t0 + .milliseconds(1500))
        let s = reply.speed()
        #expect(s.prefillTokens == 100 && abs(s.prefillTokensPerSecond! - 200) < 1e-6)
        #expect(s.decodeTokens == 10 && abs(s.decodeTokensPerSecond! - 10) < 1e-6)
    }

    @Test("a reply stopped early keeps what it has and reports no finish reason")
    func stopped() throws {
        var reply = Reply(thinkingMode: .thinking)
        reply.record(logprobs("Hm"))
        reply.record(.reasoning("Hm"))
        reply.stop()
        #expect(reply.isComplete && reply.finishReason == nil)
        let json = try #require(reply.json.objectValue)
        #expect(json["finish_reason"] == .null)
        #expect(json["reasoning_content"] == "Hm")
        #expect(json["usage"]?.objectValue?["completion_tokens"] == 1)
    }

    @Test("a stopped reply with a known prompt length reports its usage from what was seen")
    func stoppedUsage() {
        var reply = Reply(thinkingMode: .chat, promptTokens: 30)
        reply.record(.prefill(done: 12, total: 12))
        for _ in 0..<3 { reply.record(logprobs("x")) }
        reply.stop()
        #expect(reply.usage == Usage(promptTokens: 30, cachedPromptTokens: 18, completionTokens: 3))
        // Stopped before the first prefill chunk finished: nothing to tell cached from computed.
        var early = Reply(thinkingMode: .chat, promptTokens: 30)
        early.stop()
        #expect(early.usage == nil)
        // Without per-token events the completion is not counted, so there is no usage to report.
        var uncounted = Reply(thinkingMode: .chat, promptTokens: 30)
        uncounted.record(.prefill(done: 30, total: 30))
        uncounted.record(.content("Hel"))
        uncounted.stop()
        #expect(uncounted.usage == nil && !uncounted.countsTokens)
        #expect(uncounted.tokenCount == 1 && !uncounted.isTokenCountExact)
    }

    @Test("the JSON object has the API's message fields and usage")
    func json() throws {
        var reply = Reply(thinkingMode: .thinking)
        reply.record(.reasoning("Because."))
        reply.record(.content("Answer."))
        reply.record(.toolCall(ToolCall(name: "f", arguments: "{}")))
        reply.record(.finish(.toolCalls, Usage(promptTokens: 10, cachedPromptTokens: 4, completionTokens: 7, reasoningTokens: 3)))
        // The text is what `run --json` prints; it must parse back with the same fields.
        let json = try #require(try JSONValue(parsing: reply.json.serialized()).objectValue)
        #expect(json["content"] == "Answer." && json["reasoning_content"] == "Because.")
        #expect(json["finish_reason"] == "tool_calls")
        let call = try #require(json["tool_calls"]?.arrayValue?.first?.objectValue)
        #expect(call["id"] == "call_0" && call["type"] == "function")
        #expect(call["function"] == ["name": "f", "arguments": "{}"])
        let usage = try #require(json["usage"]?.objectValue)
        #expect(usage["prompt_tokens"] == 10 && usage["completion_tokens"] == 7 && usage["total_tokens"] == 17)
        #expect(usage["prompt_cache_hit_tokens"] == 4 && usage["prompt_cache_miss_tokens"] == 6)
        #expect(usage["reasoning_tokens"] == 3)

        var plain = Reply(thinkingMode: .chat)
        plain.record(.content("Hi"))
        plain.record(.finish(.stop, Usage(promptTokens: 3, completionTokens: 2)))
        let object = try #require(plain.json.objectValue)
        #expect(object["reasoning_content"] == .null && object["tool_calls"] == nil)
    }

    /// Drives two turns as `narwhal chat` does: render the transcript, read the events into a Reply,
    /// append the reply's message. The second turn must come from the cache up to where the prompts
    /// part (the first turn's `<think>`, dropped from the history), and the live counts must match the
    /// final usage.
    @Test("a chat driven through the transcript reuses the cache on the next turn")
    func chatTurns() async throws {
        var transcript = ChatTranscript(systemPrompt: "Be brief.", reasoningMode: .think)
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        let engine = Engine(model: model, tokenizer: tokenizer)
        let options = GenerationOptions(sampling: SamplingParameters(logprobs: 0))

        func turn(_ text: String, says answer: String) async throws -> (Reply, prompt: [Int]) {
            transcript.messages.append(Message(role: .user, text: text))
            let prompt = try engine.promptTokens(transcript.conversation)
            model.script = (prompt, tokenizer.encode(answer))
            var reply = Reply(thinkingMode: transcript.conversation.thinkingMode)
            for try await event in engine.generate(transcript.conversation, options: options, session: "chat") {
                reply.record(event)
            }
            transcript.messages.append(reply.message)
            return (reply, prompt)
        }

        let (first, prompt1) = try await turn("Why?", says: "Because.</think>It is so.<｜end▁of▁sentence｜>")
        #expect(first.reasoning == "Because." && first.content == "It is so.")
        #expect(first.reasoningTokenCount == first.usage?.reasoningTokens)
        #expect(first.tokenCount == first.usage?.completionTokens)

        let before = model.computed
        let (second, prompt2) = try await turn("Sure?", says: "Yes.</think>Quite.<｜end▁of▁sentence｜>")
        let usage = try #require(second.usage)
        #expect(second.content == "Quite.")
        #expect(prompt2.starts(with: prompt1.dropLast()))
        #expect(usage.cachedPromptTokens == prompt1.count - 1)
        #expect(model.computed - before == prompt2.count - usage.cachedPromptTokens + usage.completionTokens - 1)
        #expect(transcript.messages.map(\.role) == [.user, .assistant, .user, .assistant])
    }
}
