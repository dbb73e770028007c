// DeepSeekV4ChatFormatTests.swift
//
// The encoder against the official `encode_messages`: every case of `encode.jsonl` (prompt text and
// token ids), plus edge cases whose expected outcomes were produced by running the official encoder
// on the inputs below (they pin its lazy validation and the quirks of its drop/merge/sort steps).

import Testing
@testable import Tokenizers

/// Encoder arguments (as JSON) and what the official encoder returned, or the exception kind it raised.
struct EncoderQuirk: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable {
        case rendered(String)
        case rejected(ChatFormatError.Kind)
    }
    var name: String
    var input: String
    var outcome: Outcome
    var testDescription: String { name }

    init(_ name: String, _ input: String, _ outcome: Outcome) {
        self.name = name
        self.input = input
        self.outcome = outcome
    }

    static let all: [EncoderQuirk] = [
        EncoderQuirk(
            "context developer dropped renders nothing",
            #"{"messages": [{"role": "user", "content": "new"}], "thinking_mode": "thinking", "context": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning_content": "r"}, {"role": "developer", "content": "d"}]}"#,
            .rendered("")),
        EncoderQuirk(
            "invalid reasoning effort",
            #"{"messages": [{"role": "user", "content": "hi"}], "thinking_mode": "chat", "reasoning_effort": "low"}"#,
            .rejected(.assertionError)),
        EncoderQuirk(
            "invalid thinking mode with no messages",
            #"{"messages": [], "thinking_mode": "fast"}"#,
            .rendered("<｜begin▁of▁sentence｜>")),
        EncoderQuirk(
            "arguments that are a JSON list",
            #"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}]}], "thinking_mode": "chat"}"#,
            .rejected(.attributeError)),
        EncoderQuirk(
            "invalid task before an assistant turn",
            #"{"messages": [{"role": "user", "content": "a", "task": "bogus"}, {"role": "assistant", "content": "x"}, {"role": "user", "content": "b"}], "thinking_mode": "chat"}"#,
            .rejected(.assertionError)),
        EncoderQuirk(
            "invalid task before a user turn is never checked",
            #"{"messages": [{"role": "user", "content": "a", "task": "bogus"}, {"role": "user", "content": "b"}], "thinking_mode": "chat"}"#,
            .rendered("<｜begin▁of▁sentence｜><｜User｜>a<｜User｜>b<｜Assistant｜></think>")),
        EncoderQuirk(
            "invalid task at the end",
            #"{"messages": [{"role": "user", "content": "a", "task": "bogus"}], "thinking_mode": "chat"}"#,
            .rejected(.assertionError)),
        EncoderQuirk(
            "unknown role before the last user turn is dropped",
            #"{"messages": [{"role": "narrator", "content": "n"}, {"role": "user", "content": "q"}], "thinking_mode": "thinking"}"#,
            .rendered("<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜><think>")),
        EncoderQuirk(
            "unknown role in chat mode",
            #"{"messages": [{"role": "narrator", "content": "n"}, {"role": "user", "content": "q"}], "thinking_mode": "chat"}"#,
            .rejected(.notImplementedError)),
        EncoderQuirk(
            "latest reminder without content",
            #"{"messages": [{"role": "user", "content": "q"}, {"role": "latest_reminder"}], "thinking_mode": "chat"}"#,
            .rendered("<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜></think><｜latest_reminder｜>None")),
        EncoderQuirk(
            "missing role",
            #"{"messages": [{"content": "x"}], "thinking_mode": "chat"}"#,
            .rejected(.notImplementedError)),
        EncoderQuirk(
            "tool results ordered by calls in the context",
            #"{"messages": [{"role": "tool", "tool_call_id": "b", "content": "B"}, {"role": "tool", "tool_call_id": "a", "content": "A"}], "thinking_mode": "chat", "context": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}, {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}]}"#,
            .rendered("<｜User｜><tool_result>A</tool_result>\n\n<tool_result>B</tool_result><｜Assistant｜></think>")),
        EncoderQuirk(
            "argument values in Python formatting",
            #"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"n\": 1E2, \"big\": 123456789012345678901234567890, \"x\": NaN, \"d\": 1, \"d\": 2, \"s\": \"\\u00e9\\n\"}"}}]}], "thinking_mode": "chat"}"#,
            .rendered("<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜></think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"n\" string=\"false\">100.0</｜DSML｜parameter>\n<｜DSML｜parameter name=\"big\" string=\"false\">123456789012345678901234567890</｜DSML｜parameter>\n<｜DSML｜parameter name=\"x\" string=\"false\">NaN</｜DSML｜parameter>\n<｜DSML｜parameter name=\"d\" string=\"false\">2</｜DSML｜parameter>\n<｜DSML｜parameter name=\"s\" string=\"true\">é\n</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>")),
        EncoderQuirk(
            "user task answered without thinking",
            #"{"messages": [{"role": "user", "content": "title me", "task": "title"}, {"role": "assistant", "content": "A title"}, {"role": "user", "content": "next"}], "thinking_mode": "thinking", "drop_thinking": false}"#,
            .rendered("<｜begin▁of▁sentence｜><｜User｜>title me<｜title｜>A title<｜end▁of▁sentence｜><｜User｜>next<｜Assistant｜><think>")),
        EncoderQuirk(
            "empty developer parts",
            #"{"messages": [{"role": "developer", "content": []}], "thinking_mode": "chat"}"#,
            .rejected(.assertionError)),
        EncoderQuirk(
            "tool message first starts a user turn",
            #"{"messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}, {"role": "user", "content": "then"}], "thinking_mode": "thinking", "reasoning_effort": "max"}"#,
            .rendered("<｜begin▁of▁sentence｜>Reasoning Effort: Absolute maximum with no shortcuts permitted.\nYou MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\nExplicitly write out your entire deliberation process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n<｜User｜><tool_result>r</tool_result>\n\nthen<｜Assistant｜><think>")),
    ]
}

@Suite("DeepSeekV4ChatFormat")
struct DeepSeekV4ChatFormatTests {
    @Test("renders every golden conversation like the official encoder", arguments: try ChatFixtures.encodeCases())
    func rendersGoldenConversation(_ golden: ChatFixtures.EncodeCase) throws {
        let result = Result { () throws(ChatFormatError) in
            try DeepSeekV4ChatFormat.encode(try Conversation(encoderArguments: golden.input))
        }
        switch result {
        case .success(let prompt):
            let expected = try #require(golden.prompt, "official encoder raised \(golden.errorType ?? "?")")
            // Compare bytes: Swift's String == would accept canonically equivalent but different text.
            #expect(Array(prompt.utf8) == Array(expected.utf8))
        case .failure(let error):
            #expect(error.pythonExceptionType == golden.errorType, "\(error)")
        }
    }

    @Test("tokenizes every golden prompt to the official ids", arguments: try ChatFixtures.encodeCases())
    func tokenizesGoldenPrompt(_ golden: ChatFixtures.EncodeCase) throws {
        guard let expected = golden.ids else { return }
        let conversation = try Conversation(encoderArguments: golden.input)
        #expect(try DeepSeekV4ChatFormat.tokenIDs(for: conversation, tokenizer: Fixture.tokenizer) == expected)
    }

    @Test("reproduces the official encoder's edge cases", arguments: EncoderQuirk.all)
    func reproducesEdgeCase(_ quirk: EncoderQuirk) throws {
        let arguments = try JSONValue(parsing: quirk.input)
        let result = Result { () throws(ChatFormatError) in
            try DeepSeekV4ChatFormat.encode(try Conversation(encoderArguments: arguments))
        }
        switch (result, quirk.outcome) {
        case (.success(let prompt), .rendered(let expected)):
            #expect(Array(prompt.utf8) == Array(expected.utf8))
        case (.failure(let error), .rejected(let kind)):
            #expect(error.kind == kind, "\(error)")
        default:
            Issue.record("expected \(quirk.outcome), got \(result)")
        }
    }

    /// Saved chats are written with `encoderArguments` and read back with `init(encoderArguments:)`.
    @Test("every golden conversation reads back equal from the encoder arguments it writes",
          arguments: try ChatFixtures.encodeCases())
    func encoderArgumentsRoundTrip(_ golden: ChatFixtures.EncodeCase) throws {
        guard let conversation = try? Conversation(encoderArguments: golden.input) else { return }
        let written = conversation.encoderArguments
        #expect(try Conversation(encoderArguments: try JSONValue(parsing: written.serialized())) == conversation)
    }

    @Test("renders a conversation built in Swift like its JSON form")
    func rendersSwiftConversation() throws {
        let tool = Tool(function: ["name": "now", "description": "Current time", "parameters": ["type": "object"]])
        let conversation = Conversation(
            messages: [
                Message(role: .system, content: .text("Be brief."), tools: [tool]),
                Message(role: .user, text: "Time?"),
                Message(role: .assistant, toolCalls: [ToolCall(id: "c1", name: "now", arguments: "{}")]),
                Message(role: .tool, content: .text("12:00"), toolCallID: "c1"),
            ],
            thinkingMode: .thinking, reasoningEffort: .high)
        let json = try JSONValue(
            parsing: #"""
                {"messages": [{"role": "system", "content": "Be brief.", "tools": [{"type": "function",
                "function": {"name": "now", "description": "Current time", "parameters": {"type": "object"}}}]},
                {"role": "user", "content": "Time?"}, {"role": "assistant", "tool_calls": [{"id": "c1",
                "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "12:00"}],
                "thinking_mode": "thinking", "reasoning_effort": "high"}
                """#)
        let prompt = try DeepSeekV4ChatFormat.encode(conversation)
        #expect(prompt == (try DeepSeekV4ChatFormat.encode(try Conversation(encoderArguments: json))))
        #expect(prompt.hasSuffix("<｜User｜><tool_result>12:00</tool_result><｜Assistant｜><think>"))
    }
}
