// A small strict JSON reader (RFC 8259) for the tokenizer files.
//
// Why not Foundation: on Linux, JSONSerialization takes about 0.4 s (release) for the 6.3 MB tokenizer.json,
// most of it bridging the 128,000-entry vocabulary through NSDictionary; JSONDecoder is slower still. This reader
// builds plain Swift values in a fraction of that. Objects keep their members in file order as an array of pairs:
// the vocabulary is walked once, never hashed by the parser. Numbers are kept as Double (ids are far below 2^53).
// It rejects what serde_json (the reference's reader) rejects: trailing commas, control characters in strings,
// lone surrogates, leading zeros, trailing garbage.

/// A parsed JSON document.
enum TokenizerJSON: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TokenizerJSON])
    case object([Member])

    /// One `"key": value` pair of an object.
    struct Member: Sendable {
        var key: String
        var value: TokenizerJSON
    }

    /// The first member named `key` of an object; nil for other values or a missing key.
    subscript(key: String) -> TokenizerJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The value as an integer, when it is a number with no fractional part.
    var intValue: Int? {
        guard case .number(let value) = self, value == value.rounded(), abs(value) < 0x1p53 else { return nil }
        return Int(value)
    }

    var arrayValue: [TokenizerJSON]? {
        if case .array(let value) = self { value } else { nil }
    }

    var objectValue: [Member]? {
        if case .object(let value) = self { value } else { nil }
    }

    var isNull: Bool {
        if case .null = self { true } else { false }
    }

    /// Parses a complete document.
    /// - Throws: `TokenizerJSON.SyntaxError` with the byte offset of the first problem.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> TokenizerJSON {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.readValue(depth: 0)
        reader.skipWhitespace()
        guard reader.position == bytes.count else { throw reader.error("unexpected data after the document") }
        return value
    }

    /// Parses a complete document held in an array.
    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> TokenizerJSON {
        try bytes.withUnsafeBufferPointer { buffer throws(SyntaxError) in try parse(buffer) }
    }

    /// Where and why a document failed to parse.
    struct SyntaxError: Error, Sendable {
        var offset: Int
        var reason: String
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        /// Deeper nesting than any tokenizer file needs; the limit keeps hostile input from overflowing the stack.
        static let maximumDepth = 256

        func error(_ reason: String) -> SyntaxError {
            SyntaxError(offset: position, reason: reason)
        }

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        mutating func readValue(depth: Int) throws(SyntaxError) -> TokenizerJSON {
            guard position < bytes.count else { throw error("unexpected end of data") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try readObject(depth: depth + 1)
            case UInt8(ascii: "["): return try readArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try readString())
            case UInt8(ascii: "t"): try readLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try readLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try readLiteral("null"); return .null
            default: return .number(try readNumber())
            }
        }

        mutating func readLiteral(_ literal: StaticString) throws(SyntaxError) {
            let count = literal.utf8CodeUnitCount
            guard position + count <= bytes.count,
                memcmpEqual(bytes.baseAddress! + position, literal.utf8Start, count)
            else { throw error("invalid literal") }
            position += count
        }

        mutating func readObject(depth: Int) throws(SyntaxError) -> TokenizerJSON {
            guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth)") }
            position += 1  // "{"
            var members: [Member] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw error("expected a member name")
                }
                let key = try readString()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                skipWhitespace()
                members.append(Member(key: key, value: try readValue(depth: depth)))
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated object") }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(members)
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        }

        mutating func readArray(depth: Int) throws(SyntaxError) -> TokenizerJSON {
            guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth)") }
            position += 1  // "["
            var elements: [TokenizerJSON] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try readValue(depth: depth))
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated array") }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(elements)
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        }

        /// Reads a string starting at its opening quote. Strings without escapes (nearly all vocabulary entries)
        /// are validated and copied in one step.
        mutating func readString() throws(SyntaxError) -> String {
            position += 1  // opening quote
            let start = position
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<position])
                    position += 1
                    return try makeString(slice, start: start)
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw error("control character in string") }
                position += 1
            }
            guard position < bytes.count else { throw error("unterminated string") }
            var utf8 = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return try utf8.withUnsafeBufferPointer { buffer throws(SyntaxError) in
                        try makeString(buffer, start: start)
                    }
                case UInt8(ascii: "\\"):
                    try readEscape(into: &utf8)
                case 0..<0x20:
                    position -= 1
                    throw error("control character in string")
                default:
                    utf8.append(byte)
                }
            }
            throw error("unterminated string")
        }

        /// A String from UTF-8 that must be well-formed. (The concrete `String(decoding:)` after a hand-written
        /// check is several times faster than the generic `String(validating:)` on 400k short strings.)
        func makeString(_ utf8: UnsafeBufferPointer<UInt8>, start: Int) throws(SyntaxError) -> String {
            guard Unicode.UTF8.isWellFormed(utf8) else {
                throw SyntaxError(offset: start, reason: "string is not valid UTF-8")
            }
            return String(decoding: utf8, as: UTF8.self)
        }

        /// Reads the escape after a backslash and appends its UTF-8.
        mutating func readEscape(into utf8: inout [UInt8]) throws(SyntaxError) {
            guard position < bytes.count else { throw error("unterminated escape") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var value = try readHex4()
                if (0xD800..<0xDC00).contains(value) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                        bytes[position + 1] == UInt8(ascii: "u")
                    else { throw error("lone surrogate in \\u escape") }
                    position += 2
                    let low = try readHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate in \\u escape") }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(value) {
                    throw error("lone surrogate in \\u escape")
                }
                utf8.append(contentsOf: String(Unicode.Scalar(value)!).utf8)
            default:
                position -= 1
                throw error("invalid escape")
            }
        }

        mutating func readHex4() throws(SyntaxError) -> UInt32 {
            guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("invalid hex digit in \\u escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }

        /// Reads a number. Plain integers (every id in a tokenizer file) take a fast path; anything with a
        /// fraction or exponent is handed to `Double.init` after the grammar has been checked here.
        mutating func readNumber() throws(SyntaxError) -> Double {
            let start = position
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let integerStart = position
            var integer: Int64 = 0
            while position < bytes.count, let digit = asciiDigit(bytes[position]) {
                if position - integerStart < 18 { integer = integer * 10 + Int64(digit) }
                position += 1
            }
            let integerDigits = position - integerStart
            guard integerDigits > 0 else {
                position = start
                throw error("unexpected character")
            }
            guard integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else {
                throw SyntaxError(offset: integerStart, reason: "leading zero in number")
            }
            var isInteger = integerDigits < 18
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                isInteger = false
                position += 1
                guard skipDigits() > 0 else { throw error("expected digits after '.'") }
            }
            if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
                isInteger = false
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard skipDigits() > 0 else { throw error("expected digits in exponent") }
            }
            if isInteger {
                return Double(bytes[start] == UInt8(ascii: "-") ? -integer : integer)
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let value = Double(text) else { throw SyntaxError(offset: start, reason: "invalid number") }
            return value
        }

        mutating func skipDigits() -> Int {
            let start = position
            while position < bytes.count, asciiDigit(bytes[position]) != nil { position += 1 }
            return position - start
        }

        func asciiDigit(_ byte: UInt8) -> UInt8? {
            byte &- UInt8(ascii: "0") < 10 ? byte &- UInt8(ascii: "0") : nil
        }

        func memcmpEqual(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
            for index in 0..<count where lhs[index] != rhs[index] { return false }
            return true
        }
    }
}
