// DSML.swift
//
// DSML ("DeepSeek Markup Language"), the XML-like markup DeepSeek V4 uses for tool calls, shared by the
// encoder (tool calls → text) and both completion parsers (text → tool calls):
//
//   \n\n<｜DSML｜tool_calls>
//   <｜DSML｜invoke name="NAME">
//   <｜DSML｜parameter name="KEY" string="true">raw text</｜DSML｜parameter>
//   <｜DSML｜parameter name="KEY" string="false">JSON value</｜DSML｜parameter>
//   </｜DSML｜invoke>
//   </｜DSML｜tool_calls>
//
// The official parser checks the `invoke` and `parameter` headers with two anchored regular
// expressions. We match them by hand, reproducing two details of Python's `re` that decide what is
// accepted: `\s` is Python's Unicode whitespace, and `$` also matches just before a final "\n".
// Everything here works on UTF-8 bytes so that comparisons are by code point, as in Python, and never
// by Swift's canonical equivalence.

enum DSML {
    static let marker = "｜DSML｜"
    /// What ends the content and opens the tool-call block in a completion (the official parser's
    /// `tool_calls_start_token`; the block's header `>` and newline are checked afterwards).
    static let toolCallsStart = "\n\n<｜DSML｜tool_calls"
    static let toolCallsEnd = "</｜DSML｜tool_calls>"
    static let invokeOpen = "<｜DSML｜invoke"
    static let invokeClose = "</｜DSML｜invoke"
    static let parameterOpen = "<｜DSML｜parameter"
    /// The official parser reads a parameter up to this (without the `<`, which ends the value match).
    static let parameterClose = "/｜DSML｜parameter"

    // MARK: Encoding

    /// The tool-call block appended to an assistant message, starting with the blank line.
    static func render(toolCalls: [ToolCall]) throws(ChatFormatError) -> String {
        var invokes: [String] = []
        for call in toolCalls {
            let parameters = try renderParameters(of: call)
            invokes.append("<\(marker)invoke name=\"\(call.name)\">\n\(parameters)\n</\(marker)invoke>")
        }
        return "\n\n<\(marker)tool_calls>\n" + invokes.joined(separator: "\n") + "\n</\(marker)tool_calls>"
    }

    /// One `parameter` line per argument. Arguments that are not JSON are passed through as a single
    /// string parameter named `arguments`, as the official encoder does; JSON that is not an object is
    /// an error there (it calls `.items()` on it), so it is one here.
    private static func renderParameters(of call: ToolCall) throws(ChatFormatError) -> String {
        let arguments: [(key: String, value: JSONValue)]
        if let parsed = try? JSONValue(parsing: call.arguments) {
            guard case .object(let object) = parsed else {
                throw ChatFormatError(
                    .attributeError,
                    "arguments of tool call '\(call.name)' are a JSON \(parsed.pythonTypeName), not an object; "
                        + "send the arguments as a JSON object text")
            }
            arguments = Array(object)
        } else {
            arguments = [("arguments", .string(call.arguments))]
        }
        return arguments.map { key, value in
            let (isString, text) = value.stringValue.map { (true, $0) } ?? (false, value.serialized())
            return "<\(marker)parameter name=\"\(key)\" string=\"\(isString)\">\(text)</\(marker)parameter>"
        }.joined(separator: "\n")
    }

    // MARK: Decoding

    /// The tool name from what lies between `<｜DSML｜invoke` and the next parameter or invoke end,
    /// i.e. the official `^\s*name="(.*?)">\n$` (dot matches newlines); `nil` when it does not match.
    static func invokeName(in header: ArraySlice<UInt8>) -> String? {
        var rest = header
        // `\s*`: Python's Unicode whitespace, decoded scalar by scalar.
        while let (scalar, length) = firstScalar(of: rest), isPythonWhitespace(scalar) {
            rest = rest.dropFirst(length)
        }
        let prefix = Array("name=\"".utf8)
        guard rest.starts(with: prefix) else { return nil }
        rest = rest.dropFirst(prefix.count)
        // `">\n` then `$`, which matches at the end or before a final newline; the lazy group takes the
        // shortest name, so a trailing `">\n\n` wins over `">\n`.
        for suffix in ["\">\n\n", "\">\n"] {
            let suffixBytes = Array(suffix.utf8)
            if rest.count >= suffixBytes.count, rest.suffix(suffixBytes.count).elementsEqual(suffixBytes) {
                return String(decoding: rest.dropLast(suffixBytes.count), as: UTF8.self)
            }
        }
        return nil
    }

    /// A parameter from what lies between `<｜DSML｜parameter` and `/｜DSML｜parameter`, i.e. the
    /// official `^ name="(.*?)" string="(true|false)">(.*?)<$` (dot matches newlines).
    static func parameter(in text: ArraySlice<UInt8>) -> (name: String, isString: Bool, value: String)? {
        let prefix = Array(" name=\"".utf8)
        guard text.starts(with: prefix) else { return nil }
        let nameStart = text.startIndex + prefix.count
        // The lazy name ends at the first `" string="true">` or `" string="false">`; a later one could
        // only start the value later, which cannot help the end of the match.
        let flags: [(bytes: [UInt8], isString: Bool)] = [
            (Array("\" string=\"true\">".utf8), true), (Array("\" string=\"false\">".utf8), false),
        ]
        var nameEnd = nameStart
        var match: (bytes: [UInt8], isString: Bool)?
        while nameEnd < text.endIndex {
            match = flags.first { text[nameEnd...].starts(with: $0.bytes) }
            if match != nil { break }
            nameEnd += 1
        }
        guard let match else { return nil }
        let valueStart = nameEnd + match.bytes.count
        // `<$`: the `<` is the last byte, or the one before a final newline.
        let valueEnd: Int
        if text.last == UInt8(ascii: "<") {
            valueEnd = text.endIndex - 1
        } else if text.count >= 2, text.suffix(2).elementsEqual(Array("<\n".utf8)) {
            valueEnd = text.endIndex - 2
        } else {
            return nil
        }
        guard valueEnd >= valueStart else { return nil }
        return (
            String(decoding: text[nameStart..<nameEnd], as: UTF8.self), match.isString,
            String(decoding: text[valueStart..<valueEnd], as: UTF8.self)
        )
    }

    /// The arguments JSON text the official parser builds from the parameters: string parameters are
    /// quoted like Python `json.dumps`, the others are inserted verbatim (even when not valid JSON).
    static func argumentsJSON(_ parameters: [(name: String, isString: Bool, value: String)]) -> String {
        var out = "{"
        for (index, parameter) in parameters.enumerated() {
            if index > 0 { out += ", " }
            JSONValue.writeQuoted(parameter.name, to: &out)
            out += ": "
            if parameter.isString {
                JSONValue.writeQuoted(parameter.value, to: &out)
            } else {
                out += parameter.value
            }
        }
        return out + "}"
    }

    /// The first Unicode scalar of UTF-8 bytes and its length in bytes.
    private static func firstScalar(of bytes: ArraySlice<UInt8>) -> (Unicode.Scalar, Int)? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return nil }
        return (scalar, UTF8.width(scalar))
    }

    /// Python's `str.isspace()`, which is what `\s` matches in a `str` pattern.
    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000:
            true
        default: false
        }
    }
}
