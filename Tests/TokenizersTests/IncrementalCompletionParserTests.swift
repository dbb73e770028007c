// IncrementalCompletionParserTests.swift
//
// The streaming parser must reach the one-shot parser's decision on every text, whatever the chunk
// boundaries: same reasoning, content and tool calls when accepted, an error of the same kind when
// rejected, and never a special token or DSML markup inside a delta.

import Testing
@testable import Tokenizers

/// What a chunked run of the incremental parser produced.
private struct StreamOutcome: Equatable, CustomStringConvertible {
    var reasoning = ""
    var content = ""
    var toolCalls: [ToolCall] = []
    var ended = false
    var error: ChatFormatError.Kind?
    var deltas: [String] = []

    var description: String {
        error.map { "error \($0)" } ?? "reasoning \(reasoning.debugDescription) content \(content.debugDescription) "
            + "calls \(toolCalls) ended \(ended)"
    }

    /// Runs the parser over `chunks`, stopping at the first error.
    init(chunks: [String], thinkingMode: ThinkingMode) {
        var parser = IncrementalCompletionParser(thinkingMode: thinkingMode)
        do {
            for chunk in chunks { record(try parser.feed(chunk)) }
            record(try parser.finish())
        } catch {
            self.error = error.kind
        }
    }

    /// The outcome the one-shot parser implies for `text`.
    init(oneShot text: String, thinkingMode: ThinkingMode) {
        do {
            let parsed = try CompletionParser.parse(text: text, thinkingMode: thinkingMode)
            (reasoning, content, toolCalls, ended) = (parsed.reasoningContent, parsed.content, parsed.toolCalls, true)
        } catch {
            self.error = error.kind
        }
    }

    private mutating func record(_ events: [IncrementalCompletionParser.Event]) {
        for event in events {
            switch event {
            case .reasoning(let text):
                reasoning += text
                deltas.append(text)
            case .content(let text):
                content += text
                deltas.append(text)
            case .toolCall(let call): toolCalls.append(call)
            case .end: ended = true
            }
        }
    }

    /// Equal results, ignoring how the text was split into deltas (text compared by bytes); for a
    /// rejected text only the error kind counts, since deltas may have been emitted before the error.
    func matches(_ other: StreamOutcome) -> Bool {
        if error != nil || other.error != nil { return error == other.error }
        return ended == other.ended && toolCalls == other.toolCalls
            && Array(reasoning.utf8) == Array(other.reasoning.utf8) && Array(content.utf8) == Array(other.content.utf8)
    }
}

/// A test text with its thinking mode, from the golden file or the edge cases.
struct StreamCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var thinkingMode: ThinkingMode
    var testDescription: String { name }

    static func all() throws -> [StreamCase] {
        try ChatFixtures.parseCases().map { StreamCase(name: $0.name, text: $0.text, thinkingMode: $0.thinkingMode) }
            + ParseQuirk.all.map { StreamCase(name: $0.name, text: $0.text, thinkingMode: $0.thinkingMode) }
    }
}

/// `text` cut at the given Unicode-scalar offsets.
private func chunks(of text: String, cuttingAt cuts: [Int]) -> [String] {
    let scalars = Array(text.unicodeScalars)
    var pieces: [String] = []
    var start = 0
    for cut in cuts.sorted() + [scalars.count] where cut >= start {
        var piece = String.UnicodeScalarView()
        piece.append(contentsOf: scalars[start..<cut])
        pieces.append(String(piece))
        start = cut
    }
    return pieces
}

@Suite("IncrementalCompletionParser")
struct IncrementalCompletionParserTests {
    private let forbidden = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<think>", "</think>", "｜DSML｜"]
        .map { Array($0.utf8) }

    private func expectSameOutcome(_ text: String, _ mode: ThinkingMode, chunkings: [[String]]) {
        let expected = StreamOutcome(oneShot: text, thinkingMode: mode)
        for pieces in chunkings {
            let streamed = StreamOutcome(chunks: pieces, thinkingMode: mode)
            #expect(streamed.matches(expected), "chunks \(pieces.map(\.debugDescription)): \(streamed) vs \(expected)")
            // A special token never straddles two deltas (text that could begin one is held back), so
            // checking the concatenation covers every delta.
            let emitted = Array(streamed.deltas.joined().utf8)
            #expect(!forbidden.contains { emitted.contains($0) }, "markup leaked in \(streamed.deltas)")
        }
    }

    @Test("agrees with the one-shot parser for every two-chunk split", arguments: try StreamCase.all())
    func agreesForEveryTwoChunkSplit(_ streamCase: StreamCase) {
        let length = streamCase.text.unicodeScalars.count
        expectSameOutcome(
            streamCase.text, streamCase.thinkingMode,
            chunkings: [[streamCase.text]] + (0...length).map { chunks(of: streamCase.text, cuttingAt: [$0]) })
    }

    @Test("agrees with the one-shot parser when fed one scalar at a time", arguments: try StreamCase.all())
    func agreesScalarByScalar(_ streamCase: StreamCase) {
        let length = streamCase.text.unicodeScalars.count
        expectSameOutcome(
            streamCase.text, streamCase.thinkingMode,
            chunkings: [chunks(of: streamCase.text, cuttingAt: Array(0..<length))])
    }

    @Test("agrees with the one-shot parser on random chunkings", arguments: try StreamCase.all())
    func agreesOnRandomChunkings(_ streamCase: StreamCase) {
        var generator = SeededGenerator(seed: 0x5EED)
        let length = streamCase.text.unicodeScalars.count
        let chunkings = (0..<25).map { _ in
            let cutCount = Int.random(in: 0...max(1, length / 3), using: &generator)
            return chunks(
                of: streamCase.text, cuttingAt: (0..<cutCount).map { _ in Int.random(in: 0...length, using: &generator) })
        }
        expectSameOutcome(streamCase.text, streamCase.thinkingMode, chunkings: chunkings)
    }

    /// Random texts assembled from format fragments, most of them malformed in some way: the two
    /// parsers must agree on each, including which kind of error.
    @Test("agrees with the one-shot parser on random fragment soups")
    func agreesOnFragmentSoups() {
        let fragments = [
            "a", "é", "\n", "\n\n", ">", ">\n", "<", "\"", " ", "x y", "</think>", "<think>", "<｜end▁of▁sentence｜>",
            "<｜begin▁of▁sentence｜>", "｜DSML｜", "\n\n<｜DSML｜tool_calls", "\n\n<｜DSML｜tool_calls>\n",
            "<｜DSML｜invoke", " name=\"f\">\n", "<｜DSML｜invoke name=\"g\">\n", "<｜DSML｜parameter",
            " name=\"k\" string=\"true\">v<", " name=\"n\" string=\"false\">1<", "/｜DSML｜parameter", "/｜DSML｜parameter>\n",
            "</｜DSML｜invoke", "</｜DSML｜invoke>\n", "</｜DSML｜tool_calls>", "<｜end▁of",
        ]
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<300 {
            let text = (0..<Int.random(in: 1...14, using: &generator)).map { _ in
                fragments.randomElement(using: &generator)!
            }.joined()
            let length = text.unicodeScalars.count
            let mode: ThinkingMode = Bool.random(using: &generator) ? .thinking : .chat
            let random = (0..<3).map { _ in
                chunks(of: text, cuttingAt: (0..<(length / 2)).map { _ in Int.random(in: 0...length, using: &generator) })
            }
            expectSameOutcome(text, mode, chunkings: [[text], chunks(of: text, cuttingAt: Array(0..<length))] + random)
        }
    }

    @Test("holds back a possible marker until the next chunk decides it")
    func holdsBackPossibleMarker() throws {
        var parser = IncrementalCompletionParser(thinkingMode: .thinking)
        #expect(try parser.feed("Let me think</th") == [.reasoning("Let me think")])
        #expect(try parser.feed("ink>Answer\n") == [.content("Answer")])
        #expect(try parser.feed("\nmore<｜end▁of") == [.content("\n\nmore")])
        #expect(try parser.feed("▁sentence｜>") == [])
        #expect(try parser.finish() == [.end])
    }

    @Test("emits each tool call when its invoke closes and reports a malformed block early")
    func emitsToolCallsAndFailsEarly() throws {
        var parser = IncrementalCompletionParser(thinkingMode: .chat)
        #expect(try parser.feed("Looking.\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"search\">\n") == [.content("Looking.")])
        let call = ToolCall(name: "search", arguments: #"{"q": "cats"}"#)
        #expect(
            try parser.feed("<｜DSML｜parameter name=\"q\" string=\"true\">cats</｜DSML｜parameter>\n</｜DSML｜invoke>")
                == [.toolCall(call)])
        #expect(throws: ChatFormatError.self) { try parser.feed(">oops") }
        #expect(throws: ChatFormatError.self) { try parser.finish() }
    }
}
