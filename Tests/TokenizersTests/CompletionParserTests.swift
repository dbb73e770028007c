// CompletionParserTests.swift
//
// The one-shot parser against the official parser: every case of `parse.jsonl`, plus edge cases whose
// expected outcomes were produced by running the official `parse_message_from_completion_text` on
// the texts below (they pin quirks of its regular expressions and loop structure).

import Testing
@testable import Tokenizers

/// An edge case and what the official parser returned for it (its result serialised with
/// `json.dumps(…, ensure_ascii=False)`), or the kind of exception it raised.
struct ParseQuirk: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable {
        case accepted(String)
        case rejected(ChatFormatError.Kind)
    }
    var name: String
    var text: String
    var thinkingMode: ThinkingMode
    var outcome: Outcome
    var testDescription: String { name }

    init(_ name: String, _ text: String, _ thinkingMode: String, _ outcome: Outcome) {
        self.name = name
        self.text = text
        self.thinkingMode = ThinkingMode(rawValue: thinkingMode)
        self.outcome = outcome
    }

    static let all: [ParseQuirk] = [
        ParseQuirk(
            "block opener only", "hello\n\n<｜DSML｜tool_calls", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"hello\", \"reasoning_content\": \"\", \"tool_calls\": []}")),
        ParseQuirk(
            "stops after invoke header", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"now\">\n", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"now\", \"arguments\": \"{}\"}}]}")),
        ParseQuirk(
            "stops after invoke close", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"now\">\n</｜DSML｜invoke", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"now\", \"arguments\": \"{}\"}}]}")),
        ParseQuirk(
            "stops after parameter", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">v</｜DSML｜parameter>\n", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"a\\\": \\\"v\\\"}\"}}]}")),
        ParseQuirk(
            "stops inside parameter", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">v<", "chat",
            .rejected(.valueError)),
        ParseQuirk(
            "name with extra newline", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}")),
        ParseQuirk(
            "name after unicode space", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke\u{3000}\u{2028}name=\"f\">\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}")),
        ParseQuirk(
            "value ends lt newline", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"false\">[1, 2]<\n/｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"a\\\": [1, 2]}\"}}]}")),
        ParseQuirk(
            "name contains string attr", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">x\" string=\"false\">y</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"a\\\": \\\"x\\\\\\\" string=\\\\\\\"false\\\\\\\">y\\\"}\"}}]}")),
        ParseQuirk(
            "nfc nfd names differ", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"\u{e9}\" string=\"true\">1</｜DSML｜parameter>\n<｜DSML｜parameter name=\"e\u{301}\" string=\"true\">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"\u{e9}\\\": \\\"1\\\", \\\"e\u{301}\\\": \\\"2\\\"}\"}}]}")),
        ParseQuirk(
            "duplicate parameter", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">1</｜DSML｜parameter>\n<｜DSML｜parameter name=\"a\" string=\"true\">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .rejected(.valueError)),
        ParseQuirk(
            "escaped value", "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"q\\\"k\" string=\"true\">tab\there\u{1} \"x\" \\ \u{e9}</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"q\\\\\\\\\\\\\\\"k\\\": \\\"tab\\\\there\\\\u0001 \\\\\\\"x\\\\\\\" \\\\\\\\ \u{e9}\\\"}\"}}]}")),
        ParseQuirk(
            "reasoning hits tool block", "thinking\n\n<｜DSML｜tool_calls>\n", "thinking",
            .rejected(.assertionError)),
        ParseQuirk(
            "eos inside reasoning", "a<｜end▁of▁sentence｜>b</think>c<｜end▁of▁sentence｜>", "thinking",
            .rejected(.assertionError)),
        ParseQuirk(
            "think start in content then bad dsml", "r</think><think>x\n\n<｜DSML｜tool_calls>oops<｜end▁of▁sentence｜>", "thinking",
            .rejected(.valueError)),
        ParseQuirk(
            "unknown mode reads as chat", "r</think>c<｜end▁of▁sentence｜>", "fast",
            .rejected(.assertionError)),
        ParseQuirk(
            "crlf before block", "a\r\n\r\n<｜DSML｜tool_calls>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .rejected(.assertionError)),
        ParseQuirk(
            "empty block", "a\n\n<｜DSML｜tool_calls>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>", "chat",
            .accepted(
                "{\"role\": \"assistant\", \"content\": \"a\", \"reasoning_content\": \"\", \"tool_calls\": []}")),
        ParseQuirk(
            "partial eos after block", "\n\n<｜DSML｜tool_calls>\n</｜DSML｜tool_calls><｜end▁of", "chat",
            .rejected(.assertionError)),
        ParseQuirk(
            "text after eos after block", "\n\n<｜DSML｜tool_calls>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>x", "chat",
            .rejected(.assertionError)),
    ]
}

@Suite("CompletionParser")
struct CompletionParserTests {
    @Test("parses every golden completion like the official parser", arguments: try ChatFixtures.parseCases())
    func parsesGoldenCompletion(_ golden: ChatFixtures.ParseCase) throws {
        let result = Result { () throws(ChatFormatError) in
            try CompletionParser.parse(text: golden.text, thinkingMode: golden.thinkingMode)
        }
        switch result {
        case .success(let parsed):
            let expected = try #require(golden.result, "official parser raised \(golden.errorType ?? "?")")
            #expect(Array(parsed.officialJSON.serialized().utf8) == Array(expected.serialized().utf8))
        case .failure(let error):
            #expect(error.pythonExceptionType == golden.errorType, "\(error)")
        }
    }

    @Test("reproduces the official parser's edge cases", arguments: ParseQuirk.all)
    func reproducesEdgeCase(_ quirk: ParseQuirk) {
        let result = Result { () throws(ChatFormatError) in
            try CompletionParser.parse(text: quirk.text, thinkingMode: quirk.thinkingMode)
        }
        switch (result, quirk.outcome) {
        case (.success(let parsed), .accepted(let expected)):
            #expect(Array(parsed.officialJSON.serialized().utf8) == Array(expected.utf8))
        case (.failure(let error), .rejected(let kind)):
            #expect(error.kind == kind, "\(error)")
        default:
            Issue.record("expected \(quirk.outcome), got \(result)")
        }
    }

    @Test("round-trips an encoded assistant turn")
    func roundTripsEncodedTurn() throws {
        let call = ToolCall(name: "get_weather", arguments: #"{"location": "Paris", "days": 3, "units": null}"#)
        let message = Message(
            role: .assistant, content: .text("Checking."), reasoningContent: "Need data.", toolCalls: [call])
        let prompt = try DeepSeekV4ChatFormat.encode(
            Conversation(messages: [Message(role: .user, text: "Weather?"), message], thinkingMode: .thinking))
        let completion = try #require(prompt.split(separator: "<think>", maxSplits: 1).last)
        let parsed = try CompletionParser.parse(text: String(completion), thinkingMode: .thinking)
        #expect(parsed == ParsedCompletion(content: "Checking.", reasoningContent: "Need data.", toolCalls: [call]))
    }
}
