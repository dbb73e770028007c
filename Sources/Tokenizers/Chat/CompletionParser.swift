// CompletionParser.swift
//
// Completion text → assistant message, with the accept/reject decisions of the official
// `parse_message_from_completion_text` (encoding/encoding_dsv4.py). The official parser is strict on
// purpose: a completion that does not follow the trained format exactly (missing `</think>` or EOS,
// text after EOS, special tokens inside the answer, malformed DSML) is an error rather than a guess.
//
// The format of a completion (what follows the prompt):
//   thinking mode:  reasoning </think> content [\n\n<｜DSML｜tool_calls> … </｜DSML｜tool_calls>] <EOS>
//   chat mode:      content [tool-call block] <EOS>
// The EOS may be missing after a tool-call block. Some quirks of the official parser are part of its
// behaviour and reproduced (a completion that stops right after an `invoke` header or a parameter is
// accepted, for instance); ``IncrementalCompletionParser`` reaches the same decisions on streamed text.
//
// The control flow mirrors the official one step for step — a sequence of "read until the first of
// these markers" — so that the same input fails at the same check, with the same exception type.
// Text is handled as UTF-8 bytes: markers are ASCII-delimited, so byte search finds exactly the
// code-point matches Python finds.

/// One-shot parser for DeepSeek V4 completions.
public enum CompletionParser {
    /// Parses a complete completion (normally ending with `<｜end▁of▁sentence｜>`).
    ///
    /// - Parameter thinkingMode: `.thinking` when the prompt ended with `<think>`; any other mode reads
    ///   the text as a direct answer, as the official parser does.
    /// - Throws: ``ChatFormatError`` with kind `assertionError` or `valueError`, where the official
    ///   parser raises `AssertionError` or `ValueError`.
    public static func parse(text: String, thinkingMode: ThinkingMode) throws(ChatFormatError) -> ParsedCompletion {
        var reader = MarkerReader(bytes: Array(text.utf8))
        var reasoning: ArraySlice<UInt8> = []
        if thinkingMode == .thinking {
            let (read, stop) = reader.read(until: [Marker.thinkingEnd, Marker.toolCallsStart])
            guard stop == Marker.thinkingEnd else { throw Failure.missingThinkingEnd }
            reasoning = read
        }
        let (content, stop) = reader.read(until: [Marker.eos, Marker.toolCallsStart])
        var toolCalls: [ToolCall] = []
        if stop == Marker.toolCallsStart {
            toolCalls = try parseToolCalls(&reader)
            let (trailing, _) = reader.read(until: [Marker.eos])
            guard trailing.isEmpty else { throw Failure.contentAfterToolCalls }
        } else if stop != Marker.eos {
            throw Failure.missingEOS
        }
        guard reader.isAtEnd else { throw Failure.contentAfterEnd }
        if let token = Marker.forbiddenInText.first(where: { content.contains($0) || reasoning.contains($0) }) {
            throw Failure.specialToken(token)
        }
        return ParsedCompletion(
            content: String(decoding: content, as: UTF8.self),
            reasoningContent: String(decoding: reasoning, as: UTF8.self), toolCalls: toolCalls)
    }

    /// The official `parse_tool_calls`, starting right after `\n\n<｜DSML｜tool_calls`.
    private static func parseToolCalls(_ reader: inout MarkerReader) throws(ChatFormatError) -> [ToolCall] {
        var calls: [ToolCall] = []
        while !reader.isAtEnd {
            let (opening, stop) = reader.read(until: [Marker.invokeOpen, Marker.toolCallsEnd])
            guard opening.elementsEqual(Marker.headerEnd) else { throw Failure.blockSyntax(opening) }
            if stop == Marker.toolCallsEnd { break }
            guard stop != nil else { throw Failure.unterminatedBlock }

            let (header, afterHeader) = reader.read(until: [Marker.parameterOpen, Marker.invokeClose])
            var next = afterHeader
            guard let name = DSML.invokeName(in: header) else { throw Failure.invokeSyntax(header) }
            var parameters = ParameterList()
            while next == Marker.parameterOpen {
                let (body, _) = reader.read(until: [Marker.parameterClose])
                try parameters.append(body)
                let (closing, stop) = reader.read(until: [Marker.parameterOpen, Marker.invokeClose])
                guard closing.elementsEqual(Marker.headerEnd) else { throw Failure.parameterEnd(closing) }
                next = stop
            }
            calls.append(ToolCall(name: name, arguments: DSML.argumentsJSON(parameters.items)))
        }
        return calls
    }
}

/// A completion parsed into an assistant message (the official `parse_message_from_completion_text`).
public struct ParsedCompletion: Sendable, Hashable {
    /// The answer text (empty when the model only called tools).
    public var content: String
    /// The reasoning before `</think>` (empty in chat mode).
    public var reasoningContent: String
    /// The tool calls, in order; their `arguments` are JSON object texts built from the DSML parameters.
    public var toolCalls: [ToolCall]

    public init(content: String, reasoningContent: String, toolCalls: [ToolCall]) {
        self.content = content
        self.reasoningContent = reasoningContent
        self.toolCalls = toolCalls
    }

    /// The role of a parsed completion, always `assistant`.
    public var role: Message.Role { .assistant }

    /// The completion as an assistant message, ready to append to the conversation.
    public var message: Message {
        Message(
            role: .assistant, content: .text(content), reasoningContent: reasoningContent, toolCalls: toolCalls)
    }
}

// MARK: - Pieces shared with the incremental parser

/// The markers the parsers look for, as UTF-8 bytes.
enum Marker {
    static let eos = Array(DeepSeekV4ChatFormat.Token.eos.utf8)
    static let thinkingEnd = Array(DeepSeekV4ChatFormat.Token.thinkingEnd.utf8)
    static let toolCallsStart = Array(DSML.toolCallsStart.utf8)
    static let toolCallsEnd = Array(DSML.toolCallsEnd.utf8)
    static let invokeOpen = Array(DSML.invokeOpen.utf8)
    static let invokeClose = Array(DSML.invokeClose.utf8)
    static let parameterOpen = Array(DSML.parameterOpen.utf8)
    static let parameterClose = Array(DSML.parameterClose.utf8)
    /// What must separate DSML tags: the `>` closing the previous tag and a newline.
    static let headerEnd = Array(">\n".utf8)
    /// Special tokens that must not occur in reasoning or content, in the order the official parser
    /// checks them (the first one found is the one reported).
    static let forbiddenInText: [[UInt8]] = [
        DeepSeekV4ChatFormat.Token.bos, DeepSeekV4ChatFormat.Token.eos, DeepSeekV4ChatFormat.Token.thinkingStart,
        DeepSeekV4ChatFormat.Token.thinkingEnd, DeepSeekV4ChatFormat.Token.dsml,
    ].map { Array($0.utf8) }
    /// Length of the longest marker, which bounds how much text may be held back.
    static let longest = ([eos, thinkingEnd, toolCallsStart, toolCallsEnd, invokeOpen, invokeClose, parameterOpen]
        + forbiddenInText).map(\.count).max() ?? 0
}

/// The errors of the official parser, with its exception types.
enum Failure {
    static let missingThinkingEnd = ChatFormatError(
        .assertionError, "the reasoning does not end with </think> (thinking mode expects reasoning</think>answer)")
    static let missingEOS = ChatFormatError(
        .assertionError, "the answer does not end with <｜end▁of▁sentence｜> (the completion looks cut off)")
    static let contentAfterToolCalls = ChatFormatError(
        .assertionError, "text follows the </｜DSML｜tool_calls> block; only <｜end▁of▁sentence｜> may")
    static let contentAfterEnd = ChatFormatError(.assertionError, "text follows the end of the message")
    static let unterminatedBlock = ChatFormatError(
        .valueError, "the tool-call block ends without an invoke or </｜DSML｜tool_calls>")

    static func specialToken(_ token: [UInt8]) -> ChatFormatError {
        ChatFormatError(
            .assertionError, "special token '\(String(decoding: token, as: UTF8.self))' inside reasoning or content")
    }
    static func blockSyntax(_ found: ArraySlice<UInt8>) -> ChatFormatError {
        ChatFormatError(.valueError, "tool-call block: expected '>' and a newline between tags, found \(quoted(found))")
    }
    static func invokeSyntax(_ found: ArraySlice<UInt8>) -> ChatFormatError {
        ChatFormatError(
            .valueError, "tool-call invoke: expected ' name=\"…\">' and a newline, found \(quoted(found))")
    }
    static func parameterSyntax(_ found: ArraySlice<UInt8>) -> ChatFormatError {
        ChatFormatError(
            .valueError,
            "tool-call parameter: expected ' name=\"…\" string=\"true|false\">value<', found \(quoted(found))")
    }
    static func parameterEnd(_ found: ArraySlice<UInt8>) -> ChatFormatError {
        ChatFormatError(.valueError, "tool-call parameter: expected '>' and a newline after it, found \(quoted(found))")
    }
    static func duplicateParameter(_ name: String) -> ChatFormatError {
        ChatFormatError(.valueError, "tool-call parameter '\(name)' is given twice")
    }
    private static func quoted(_ bytes: ArraySlice<UInt8>) -> String {
        JSONValue.string(String(decoding: bytes, as: UTF8.self)).serialized()
    }
}

/// The parameters of one invoke, in order, rejecting a repeated name (compared by code points).
struct ParameterList {
    private(set) var items: [(name: String, isString: Bool, value: String)] = []
    private var names: Set<[UInt8]> = []

    mutating func append(_ body: ArraySlice<UInt8>) throws(ChatFormatError) {
        guard let parameter = DSML.parameter(in: body) else { throw Failure.parameterSyntax(body) }
        guard names.insert(Array(parameter.name.utf8)).inserted else {
            throw Failure.duplicateParameter(parameter.name)
        }
        items.append(parameter)
    }
}

/// The official `_read_until_stop` over UTF-8 bytes.
struct MarkerReader {
    let bytes: [UInt8]
    private(set) var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index >= bytes.count }

    /// Reads up to the earliest occurrence of any stop (ties go to the earlier stop in the list) and
    /// past it; without one, reads the rest. Returns the text read and the stop found.
    mutating func read(until stops: [[UInt8]]) -> (ArraySlice<UInt8>, [UInt8]?) {
        guard let (position, stop) = bytes.firstMarker(of: stops, from: index) else {
            defer { index = bytes.count }
            return (bytes[index...], nil)
        }
        defer { index = position + stop.count }
        return (bytes[index..<position], stop)
    }
}

extension Array where Element == UInt8 {
    /// The earliest position at or after `start` where one of `markers` begins, and that marker.
    func firstMarker(of markers: [[UInt8]], from start: Int) -> (Int, [UInt8])? {
        var position = start
        while position < count {
            let byte = self[position]
            for marker in markers where marker.first == byte && self[position...].starts(with: marker) {
                return (position, marker)
            }
            position += 1
        }
        return nil
    }
}

extension ArraySlice where Element == UInt8 {
    /// Whether `needle` occurs in these bytes.
    func contains(_ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        var position = startIndex
        while position < endIndex {
            if self[position] == first && self[position...].starts(with: needle) { return true }
            position += 1
        }
        return false
    }
}
