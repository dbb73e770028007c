// JSONValue+Parsing.swift
//
// A strict JSON parser with the accept/reject decisions of Python's `json.loads` (the C scanner,
// `strict=True`), producing order-preserving `JSONValue`s.
//
// The decisions matter beyond reading requests: the official encoder calls `json.loads` on every tool
// call's `arguments` and renders the raw string instead when that fails, so what we accept changes
// the prompt. Python specifics reproduced here:
//   - whitespace is only space, tab, LF and CR; a leading U+FEFF is an error;
//   - numbers follow `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`; without fraction or exponent
//     they are unbounded integers, otherwise floats (overflow gives ±infinity, as `float()` does);
//   - the literals `NaN`, `Infinity` and `-Infinity` are accepted;
//   - raw control characters (U+0000–U+001F) inside strings are errors;
//   - a repeated object key keeps its first position and takes the last value (dict semantics).
// Differences, deliberately: a lone UTF-16 surrogate escape (`"\ud800"`) becomes U+FFFD because a Swift
// String cannot hold one, and nesting deeper than `maximumDepth` is an error (Python's limit is its
// recursion limit, about 1000).

/// Why a text is not JSON, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, in Python's wording where one exists ("Expecting value", "Extra data", …).
    public var reason: String
    /// UTF-8 byte offset into the text.
    public var offset: Int

    public var description: String { "\(reason) (at byte \(offset))" }
}

extension JSONValue {
    /// Deepest nesting of arrays and objects the parser accepts.
    public static let maximumDepth = 512

    /// Parses `text` as one JSON document, like Python's `json.loads(text)`.
    public init(parsing text: String) throws(JSONParseError) {
        var parser = JSONParser(bytes: Array(text.utf8))
        self = try parser.parseDocument()
    }
}

/// Recursive-descent parser over UTF-8 bytes. Bytes, not Characters: Swift's grapheme clustering would
/// merge "\r\n" and combining marks, while JSON (and Python) work on code points.
private struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw error("Unexpected UTF-8 BOM") }
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if index != bytes.count { throw error("Extra data") }
        return value
    }

    private func error(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(reason: reason, offset: offset ?? index)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private func peek(_ literal: String) -> Bool {
        let literalBytes = Array(literal.utf8)
        return bytes.count - index >= literalBytes.count
            && bytes[index..<(index + literalBytes.count)].elementsEqual(literalBytes)
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error("Expecting value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "n") where peek("null"):
            index += 4
            return .null
        case UInt8(ascii: "t") where peek("true"):
            index += 4
            return .bool(true)
        case UInt8(ascii: "f") where peek("false"):
            index += 5
            return .bool(false)
        case UInt8(ascii: "N") where peek("NaN"):
            index += 3
            return .float(.nan)
        case UInt8(ascii: "I") where peek("Infinity"):
            index += 8
            return .float(.infinity)
        case UInt8(ascii: "-") where peek("-Infinity"):
            index += 9
            return .float(-.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw error("Expecting value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > JSONValue.maximumDepth { throw error("Nesting deeper than \(JSONValue.maximumDepth) levels") }
        index += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("Expecting property name enclosed in double quotes")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("Expecting ':' delimiter") }
            index += 1
            skipWhitespace()
            object[key] = try parseValue(depth: depth)
            skipWhitespace()
            guard index < bytes.count else { throw error("Expecting ',' delimiter") }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            }
            guard bytes[index] == UInt8(ascii: ",") else { throw error("Expecting ',' delimiter") }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > JSONValue.maximumDepth { throw error("Nesting deeper than \(JSONValue.maximumDepth) levels") }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("Expecting ',' delimiter") }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            guard bytes[index] == UInt8(ascii: ",") else { throw error("Expecting ',' delimiter") }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        func isDigit(_ i: Int) -> Bool { i < bytes.count && (0x30...0x39).contains(bytes[i]) }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(index) else { throw error("Expecting value", at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while isDigit(index) { index += 1 }
        }
        var isFloat = false
        // A fraction or exponent only counts when digits follow; otherwise Python stops the number before
        // it and the leftover "." or "e" becomes "Extra data".
        if index < bytes.count, bytes[index] == UInt8(ascii: "."), isDigit(index + 1) {
            index += 1
            while isDigit(index) { index += 1 }
            isFloat = true
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            var probe = index + 1
            if probe < bytes.count, bytes[probe] == UInt8(ascii: "+") || bytes[probe] == UInt8(ascii: "-") {
                probe += 1
            }
            if isDigit(probe) {
                index = probe
                while isDigit(index) { index += 1 }
                isFloat = true
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isFloat {
            // The text matched the JSON grammar, which Double's parser accepts, rounding correctly and
            // overflowing to infinity like Python's float().
            return .float(Double(text) ?? .nan)
        }
        return .integer(text == "-0" ? "0" : text)
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        index += 1  // opening quote
        var result = ""
        var runStart = index
        while true {
            guard index < bytes.count else { throw error("Unterminated string starting at", at: start) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                result += String(decoding: bytes[runStart..<index], as: UTF8.self)
                index += 1
                return result
            }
            if byte < 0x20 { throw error("Invalid control character at") }
            if byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            result += String(decoding: bytes[runStart..<index], as: UTF8.self)
            index += 1
            guard index < bytes.count else { throw error("Unterminated string starting at", at: start) }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): result += "\""
            case UInt8(ascii: "\\"): result += "\\"
            case UInt8(ascii: "/"): result += "/"
            case UInt8(ascii: "b"): result += "\u{08}"
            case UInt8(ascii: "f"): result += "\u{0C}"
            case UInt8(ascii: "n"): result += "\n"
            case UInt8(ascii: "r"): result += "\r"
            case UInt8(ascii: "t"): result += "\t"
            case UInt8(ascii: "u"):
                result.unicodeScalars.append(try parseUnicodeEscape())
            default:
                throw error("Invalid \\escape", at: index - 2)
            }
            runStart = index
        }
    }

    /// The scalar of a `\uXXXX` escape whose `\u` was just read, combining a surrogate pair when a low
    /// surrogate escape follows a high one.
    private mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
        let high = try parseHex4()
        if (0xD800..<0xDC00).contains(high), peek("\\u") {
            let save = index
            index += 2
            let low = try parseHex4()
            if (0xDC00..<0xE000).contains(low) {
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            index = save  // not a pair: the second escape is read on its own
        }
        return Unicode.Scalar(high) ?? "\u{FFFD}"
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("Invalid \\uXXXX escape", at: index - 1) }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw error("Invalid \\uXXXX escape", at: index - 1)
            }
            value = value * 16 + digit
        }
        index += 4
        return value
    }
}
