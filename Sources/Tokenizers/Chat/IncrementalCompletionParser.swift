// IncrementalCompletionParser.swift
//
// Streaming form of ``CompletionParser``: fed the completion in arbitrary pieces (text chunks, token
// pieces), it emits reasoning and content deltas as soon as they are certain, each tool call once its
// invoke is complete, and `end` at `finish()`. Guarantees, whatever the chunk boundaries:
//   - For a completion the one-shot parser accepts, the reasoning deltas concatenate to its
//     `reasoningContent`, the content deltas to its `content`, and the tool calls equal its calls.
//   - For a completion it rejects, an error with the same exception kind is thrown, at the latest by
//     `finish()`; from the moment rejection is certain, nothing more is emitted.
//   - No markup leaks into deltas: text that could still turn out to be the start of `</think>`, an
//     EOS, the `\n\n<｜DSML｜tool_calls` opener or a forbidden special token is held back until the
//     next piece decides it. The DSML block itself is never emitted as text.
//
// Structure: the same phases as the one-shot parser (reasoning, content, tool-call block, after the
// block, after EOS). Inside the tool-call block each step of the official parser ("read until one of
// these markers") waits until its marker has arrived, so every decision is the one the one-shot parser
// makes on the whole text. Separators that must be exactly ">\n" fail as soon as no continuation could
// make them valid, so a malformed block is reported without waiting for the end of the stream.
//
// Error precedence follows the official parser: a special token inside reasoning or content is only
// reported at `finish()` (structural errors found later take precedence), but from then on deltas and
// tool calls are suppressed, since the completion can no longer be accepted.

/// Incremental DeepSeek V4 completion parser; see ``CompletionParser`` for the format.
public struct IncrementalCompletionParser: Sendable {
    /// What the stream has established so far.
    public enum Event: Sendable, Hashable {
        /// More reasoning text (thinking mode, before `</think>`).
        case reasoning(String)
        /// More answer text.
        case content(String)
        /// A complete tool call (`arguments` is the JSON object text the one-shot parser builds).
        case toolCall(ToolCall)
        /// The completion was accepted (emitted by `finish()`).
        case end
    }

    private enum Phase: Sendable {
        case reasoning
        case content
        case toolCalls(BlockStep)
        case afterToolCalls
        case afterEOS
        case finished
    }

    /// Where the official `parse_tool_calls` loop stands.
    private enum BlockStep: Sendable {
        /// Expecting ">\n", then an invoke or the end of the block (start of a loop iteration).
        case tagSeparator
        /// Reading `name="…">\n` up to the first parameter or the end of the invoke.
        case invokeHeader
        /// Reading a parameter up to `/｜DSML｜parameter`.
        case parameter(name: String, ParameterList)
        /// Expecting ">\n", then another parameter or the end of the invoke.
        case parameterSeparator(name: String, ParameterList)
    }

    private static let reasoningStops = [Marker.thinkingEnd, Marker.toolCallsStart]
    private static let contentStops = [Marker.eos, Marker.toolCallsStart]

    private let isThinking: Bool
    private var phase: Phase
    /// Bytes received and not yet consumed by the current phase.
    private var buffer: [UInt8] = []
    /// Where the search for the current step's markers resumes (earlier starts were ruled out).
    private var searchStart = 0
    /// Positions in `Marker.forbiddenInText` of special tokens seen in reasoning or content.
    private var forbiddenFound: Set<Int> = []
    private var failure: ChatFormatError?
    private var events: [Event] = []

    /// A parser for a completion generated in `thinkingMode` (see ``CompletionParser/parse(text:thinkingMode:)``).
    public init(thinkingMode: ThinkingMode) {
        isThinking = thinkingMode == .thinking
        phase = isThinking ? .reasoning : .content
    }

    /// Adds the next piece of the completion and returns the events it settles.
    public mutating func feed(_ text: String) throws(ChatFormatError) -> [Event] {
        if let failure { throw failure }
        if case .finished = phase {
            guard text.isEmpty else { throw record(Failure.contentAfterEnd) }
            return []
        }
        buffer.append(contentsOf: text.utf8)
        return try run(isFinal: false)
    }

    /// Ends the stream: returns the last events, ending with `.end`, or throws if the completion is
    /// rejected.
    public mutating func finish() throws(ChatFormatError) -> [Event] {
        if let failure { throw failure }
        if case .finished = phase { return [] }
        var result = try run(isFinal: true)
        if let first = forbiddenFound.min() {
            throw record(Failure.specialToken(Marker.forbiddenInText[first]))
        }
        phase = .finished
        result.append(.end)
        return result
    }

    private mutating func record(_ error: ChatFormatError) -> ChatFormatError {
        failure = error
        return error
    }

    private mutating func run(isFinal: Bool) throws(ChatFormatError) -> [Event] {
        do {
            try advance(isFinal: isFinal)
        } catch {
            throw record(error)
        }
        defer { events = [] }
        return events
    }

    // MARK: - Phases

    private mutating func advance(isFinal: Bool) throws(ChatFormatError) {
        while true {
            switch phase {
            case .reasoning:
                guard let stop = scanText(until: Self.reasoningStops, as: Event.reasoning) else {
                    if isFinal { throw Failure.missingThinkingEnd }
                    return
                }
                guard stop == Marker.thinkingEnd else { throw Failure.missingThinkingEnd }
                phase = .content
            case .content:
                guard let stop = scanText(until: Self.contentStops, as: Event.content) else {
                    if isFinal { throw Failure.missingEOS }
                    return
                }
                phase = stop == Marker.eos ? .afterEOS : .toolCalls(.tagSeparator)
            case .toolCalls(let step):
                guard try advance(step, isFinal: isFinal) else { return }
            case .afterToolCalls:
                if buffer.starts(with: Marker.eos) {
                    consume(Marker.eos.count)
                    phase = .afterEOS
                } else if !buffer.isEmpty && (isFinal || !Marker.eos.starts(with: buffer)) {
                    throw Failure.contentAfterToolCalls
                } else if isFinal {
                    phase = .finished
                } else {
                    return
                }
            case .afterEOS:
                guard buffer.isEmpty else { throw Failure.contentAfterEnd }
                if isFinal { phase = .finished }
                return
            case .finished:
                return
            }
        }
    }

    /// One step of the tool-call block; returns false when it needs more text.
    private mutating func advance(_ step: BlockStep, isFinal: Bool) throws(ChatFormatError) -> Bool {
        switch step {
        case .tagSeparator:
            // The official loop runs while text remains; at the very end of the text it stops here.
            if buffer.isEmpty {
                if isFinal { phase = .afterToolCalls }
                return isFinal
            }
            let next = readSeparated(until: [Marker.invokeOpen, Marker.toolCallsEnd], isFinal)
            guard let (separator, stop) = next else {
                if isFinal {
                    throw buffer == Marker.headerEnd ? Failure.unterminatedBlock : Failure.blockSyntax(buffer[...])
                }
                return false
            }
            guard separator.elementsEqual(Marker.headerEnd) else { throw Failure.blockSyntax(separator) }
            phase = stop == Marker.toolCallsEnd ? .afterToolCalls : .toolCalls(.invokeHeader)
        case .invokeHeader:
            let (header, stop) = read(until: [Marker.parameterOpen, Marker.invokeClose], isFinal)
            guard let header else { return false }
            guard let name = DSML.invokeName(in: header) else { throw Failure.invokeSyntax(header) }
            if stop == Marker.parameterOpen {
                phase = .toolCalls(.parameter(name: name, ParameterList()))
            } else {
                emitToolCall(name: name, ParameterList())
            }
        case .parameter(let name, var parameters):
            let (body, _) = read(until: [Marker.parameterClose], isFinal)
            guard let body else { return false }
            try parameters.append(body)
            phase = .toolCalls(.parameterSeparator(name: name, parameters))
        case .parameterSeparator(let name, let parameters):
            let next = readSeparated(until: [Marker.parameterOpen, Marker.invokeClose], isFinal)
            guard let (separator, stop) = next else {
                guard isFinal else { return false }
                // The text ends after the separator: the official parser accepts the invoke as it is.
                guard buffer == Marker.headerEnd else { throw Failure.parameterEnd(buffer[...]) }
                consume(buffer.count)
                emitToolCall(name: name, parameters)
                return true
            }
            guard separator.elementsEqual(Marker.headerEnd) else { throw Failure.parameterEnd(separator) }
            if stop == Marker.parameterOpen {
                phase = .toolCalls(.parameter(name: name, parameters))
            } else {
                emitToolCall(name: name, parameters)
            }
        }
        return true
    }

    // MARK: - Reading

    /// Reads up to the first of `stops` and past it. Without one: at the end of the stream the rest is
    /// read (stop `nil`), otherwise the text read is `nil` (wait for more).
    private mutating func read(until stops: [[UInt8]], _ isFinal: Bool) -> (ArraySlice<UInt8>?, [UInt8]?) {
        if let (position, stop) = buffer.firstMarker(of: stops, from: searchStart) {
            let text = buffer[..<position]
            consume(position + stop.count)
            return (text, stop)
        }
        guard isFinal else {
            waitForMore(stops)
            return (nil, nil)
        }
        let text = buffer[...]
        consume(buffer.count)
        return (text, nil)
    }

    /// `read(until:)` for a step whose text must be exactly ">\n": returns `nil` while waiting (or,
    /// at the end, when no stop follows, leaving the buffer for the caller to judge), and gives up
    /// waiting as soon as the text can no longer be ">\n" followed by a stop, returning the bad text.
    private mutating func readSeparated(until stops: [[UInt8]], _ isFinal: Bool)
        -> (ArraySlice<UInt8>, [UInt8]?)?
    {
        if let (position, stop) = buffer.firstMarker(of: stops, from: searchStart) {
            let text = buffer[..<position]
            consume(position + stop.count)
            return (text, stop)
        }
        if isFinal { return nil }
        if !stops.contains(where: { (Marker.headerEnd + $0).starts(with: buffer) }) {
            return (buffer[...], nil)
        }
        waitForMore(stops)
        return nil
    }

    /// In reasoning or content: emits the text before the first stop and reads past the stop; without
    /// a stop, emits all but a tail that could begin a marker and returns `nil`.
    private mutating func scanText(until stops: [[UInt8]], as kind: (String) -> Event) -> [UInt8]? {
        if let (position, stop) = buffer.firstMarker(of: stops, from: 0) {
            emitText(buffer[..<position], as: kind)
            consume(position + stop.count)
            return stop
        }
        // A special token complete at the end of the buffer may be cut by the held tail (its last
        // character could begin another special token), so look for special tokens in everything but a
        // tail that could still begin a stop: that part is certainly text. (No special token ends inside
        // a stop's prefix, so what this skips is scanned again once the stop is decided.)
        let stopTail = heldTailLength(markers: stops)
        recordForbiddenTokens(in: buffer[..<(buffer.count - stopTail)])
        let safe = buffer.count - max(stopTail, heldTailLength(markers: Marker.forbiddenInText))
        emitText(buffer[..<safe], as: kind)
        consume(safe)
        return nil
    }

    /// Length of the longest tail of the buffer that is a proper prefix of one of `markers`. Called on
    /// every piece, so it only tries tails that start with a marker's first byte.
    private func heldTailLength(markers: [[UInt8]]) -> Int {
        var start = max(0, buffer.count - Marker.longest + 1)
        while start < buffer.count {
            let first = buffer[start]
            let tail = buffer[start...]
            if markers.contains(where: { $0.first == first && $0.count > tail.count && $0.starts(with: tail) }) {
                return tail.count
            }
            start += 1
        }
        return 0
    }

    /// Remembers that no stop starts before the last (longest stop − 1) bytes, so that a long
    /// parameter arriving in small pieces is scanned once.
    private mutating func waitForMore(_ stops: [[UInt8]]) {
        let longest = stops.map(\.count).max() ?? 1
        searchStart = max(0, buffer.count - longest + 1)
    }

    private mutating func consume(_ count: Int) {
        buffer.removeFirst(count)
        searchStart = 0
    }

    // MARK: - Emitting

    private mutating func recordForbiddenTokens(in bytes: ArraySlice<UInt8>) {
        for (position, token) in Marker.forbiddenInText.enumerated() where bytes.contains(token) {
            forbiddenFound.insert(position)
        }
    }

    private mutating func emitText(_ bytes: ArraySlice<UInt8>, as kind: (String) -> Event) {
        recordForbiddenTokens(in: bytes)
        guard forbiddenFound.isEmpty, !bytes.isEmpty else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        switch (events.last, kind(text)) {
        case (.reasoning(let previous)?, .reasoning(let more)):
            events[events.count - 1] = .reasoning(previous + more)
        case (.content(let previous)?, .content(let more)):
            events[events.count - 1] = .content(previous + more)
        case (_, let event):
            events.append(event)
        }
    }

    private mutating func emitToolCall(name: String, _ parameters: ParameterList) {
        phase = .toolCalls(.tagSeparator)
        guard forbiddenFound.isEmpty else { return }
        events.append(.toolCall(ToolCall(name: name, arguments: DSML.argumentsJSON(parameters.items))))
    }
}
