// JSONValue.swift
//
// An order-preserving JSON value and a serializer that reproduces Python's
// `json.dumps(value, ensure_ascii=False)` byte for byte.
//
// Why our own type: the DeepSeek V4 prompt embeds tool schemas, `response_format` and non-string tool
// arguments exactly as the official encoder serialises them with Python's `json` module. Key order
// (as given), separators (`", "` and `": "`), number formatting (`1e-05`, `1.0`, unbounded integers)
// and string escaping are all part of the tokens the model was trained on. Foundation's
// JSONSerialization neither keeps key order nor formats numbers like Python.
//
// The parser lives in `JSONValue+Parsing.swift`. Objects follow Python `dict` semantics: keys are
// unique, compared by Unicode scalars (not by Swift's canonical equivalence), and a repeated key keeps
// its first position but takes the last value.

/// A JSON value whose objects keep their key order, with Python `json` semantics for numbers.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// An integer, kept as its canonical decimal text (optional `-`, no leading zeros) because Python
    /// integers are unbounded: `12345678901234567890` must come out exactly as it went in.
    case integer(String)
    /// A floating-point number (Python `float`); may be NaN or infinite, as Python allows.
    case float(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Python truthiness (`if value:`): `null`, `false`, zero, and empty strings, arrays and objects
    /// are false. The official encoder tests optional fields this way.
    public var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .integer(let digits): digits != "0"
        case .float(let x): x != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
        }
    }

    /// The string payload, or `nil` for any other kind of value.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The object payload, or `nil` for any other kind of value.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array payload, or `nil` for any other kind of value.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Python's name for the type this value decodes to (`dict`, `list`, `str`, `int`, `float`,
    /// `bool`, `NoneType`), used in error messages that mirror Python's.
    public var pythonTypeName: String {
        switch self {
        case .null: "NoneType"
        case .bool: "bool"
        case .integer: "int"
        case .float: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .integer(String(value)) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}

// MARK: - Ordered object

/// A JSON object that keeps its keys in insertion order, with Python `dict` semantics: assigning an
/// existing key replaces its value in place. Keys compare by Unicode scalars, as in Python, so
/// `"é"` (U+00E9) and `"e\u{301}"` are two different keys.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: JSONValue)

    private var keys: [String] = []
    private var values: [JSONValue] = []
    /// Position of each key, by its UTF-8 bytes (byte equality is scalar equality).
    private var positions: [[UInt8]: Int] = [:]

    /// An empty object.
    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// Number of keys.
    public var count: Int { keys.count }
    /// Whether the object has no keys.
    public var isEmpty: Bool { keys.isEmpty }

    /// The value for `key`, or `nil`; setting a new key appends it, setting an existing key replaces the
    /// value where the key already is, and setting `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get { positions[Array(key.utf8)].map { values[$0] } }
        set {
            let bytes = Array(key.utf8)
            if let position = positions[bytes] {
                if let newValue {
                    values[position] = newValue
                } else {
                    keys.remove(at: position)
                    values.remove(at: position)
                    positions[bytes] = nil
                    for index in position..<keys.count { positions[Array(keys[index].utf8)] = index }
                }
            } else if let newValue {
                positions[bytes] = keys.count
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// Whether `key` is present (even with a `null` value).
    public func contains(key: String) -> Bool { positions[Array(key.utf8)] != nil }

    public func makeIterator() -> AnyIterator<Element> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            return (keys[index], values[index])
        }
    }

    /// Equal when both have the same keys (by scalars) with equal values in the same order; order
    /// matters here because it matters in the serialised text.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.keys.count == rhs.keys.count
            && zip(lhs.keys, rhs.keys).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
            && lhs.values == rhs.values
    }

    public func hash(into hasher: inout Hasher) {
        for key in keys { hasher.combine(Array(key.utf8)) }
        hasher.combine(values)
    }
}

// MARK: - Python json.dumps

extension JSONValue {
    /// The text of Python's `json.dumps(value, ensure_ascii=False)`: separators `", "` and `": "`, keys
    /// in order, integers as given, floats as Python's `repr` (`1e-05`, `1.0`, `NaN`, `Infinity`),
    /// non-ASCII characters unescaped.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let digits): out += digits
        case .float(let x): out += JSONValue.pythonRepr(x)
        case .string(let s): JSONValue.writeQuoted(s, to: &out)
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += ", " }
                element.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (index, (key, value)) in object.enumerated() {
                if index > 0 { out += ", " }
                JSONValue.writeQuoted(key, to: &out)
                out += ": "
                value.write(to: &out)
            }
            out += "}"
        }
    }

    /// `s` as a JSON string literal the way Python writes it with `ensure_ascii=False`: only `"`, `\`
    /// and the C0 controls are escaped (short forms where JSON has them, else `\u00xx` in lowercase).
    static func writeQuoted(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Python's `repr(float)` as used by `json.dumps`: the shortest digits that round-trip, in
    /// positional notation when the decimal exponent is in (-4, 16], otherwise as `d.ddde±XX`.
    ///
    /// Swift's `description` already produces the shortest round-trip digits (both languages pick the
    /// digit string closest to the exact value), only its layout rules differ; so we take its digits and
    /// exponent and lay them out like Python.
    static func pythonRepr(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x < 0 ? "-Infinity" : "Infinity" }
        let sign = x.sign == .minus ? "-" : ""
        // Swift writes "[-]digits[.digits][e±dd]".
        var text = Substring(x.magnitude.description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let integerPart = text.prefix { $0 != "." }
        let fractionPart = text.drop { $0 != "." }.dropFirst()
        var digits = Array(integerPart + fractionPart)
        // Value = 0.d1d2d3... × 10^pointPosition.
        var pointPosition = integerPart.count + exponent
        while let first = digits.first, first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while let last = digits.last, last == "0" { digits.removeLast() }
        if digits.isEmpty { return sign + "0.0" }

        let digitText = String(digits)
        if pointPosition > -4 && pointPosition <= 16 {
            if pointPosition <= 0 {
                return sign + "0." + String(repeating: "0", count: -pointPosition) + digitText
            }
            if pointPosition < digits.count {
                return sign + String(digits[..<pointPosition]) + "." + String(digits[pointPosition...])
            }
            return sign + digitText + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        }
        let decimalExponent = pointPosition - 1
        let mantissa = digits.count == 1 ? digitText : String(digits[0]) + "." + String(digits[1...])
        let exponentDigits = String(abs(decimalExponent))
        return sign + mantissa + "e" + (decimalExponent < 0 ? "-" : "+")
            + (exponentDigits.count < 2 ? "0" : "") + exponentDigits
    }
}
