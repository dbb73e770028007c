// RequestObject: reading a request body as typed fields, with the path of each field for error messages.
//
// Bodies are parsed into the order-preserving `JSONValue` rather than decoded with Codable: tool schemas
// and `response_format` are rendered into the prompt with their keys in the order the client sent them
// (the model was trained on `json.dumps` output), and a Codable round trip would lose that order. It also
// lets every type error name its exact place, as DeepSeek's messages do ("messages[1].content: invalid
// type: integer `5`, expected a string").
//
// A JSON `null` reads as an absent field, as optional fields do in DeepSeek's API (and in the OpenAI SDK,
// which sends `null` for unset values in some code paths).

import Hummingbird
import NIOCore
import Tokenizers

/// A JSON object from a request, and where it sits in the body.
struct RequestObject {
    let fields: JSONObject
    /// Path of this object in the body (`""` for the body itself, `messages[0]`, `tools[1].function`).
    let path: String

    /// Reads `value` as an object; `path` names it in errors.
    init(_ value: JSONValue, path: String) throws(APIError) {
        guard case .object(let fields) = value else {
            throw APIError.invalidBody(path: path, problem: "invalid type: \(value.kindDescription), expected a map")
        }
        self.fields = fields
        self.path = path
    }

    /// Collects a request body (refusing one over `limit` bytes) and parses it as a JSON object.
    static func body(of request: Request, limit: Int) async throws -> RequestObject {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        }
        let text = String(buffer: buffer)
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text)
        } catch {
            throw APIError.invalidJSON(error.description)
        }
        return try RequestObject(value, path: "")
    }

    /// The path of the field `key`.
    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value of `key`; nil when it is absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    /// Throws the "missing field" error for `key` when `value` is nil.
    func required<T>(_ value: T?, _ key: String) throws(APIError) -> T {
        guard let value else { throw APIError.invalidBody(path: path, problem: "missing field `\(key)`") }
        return value
    }

    func typeError(_ key: String, _ value: JSONValue, expected: String) -> APIError {
        .invalidBody(path: path(key), problem: "invalid type: \(value.kindDescription), expected \(expected)")
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let s) = value else { throw typeError(key, value, expected: "a string") }
        return s
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let b) = value else { throw typeError(key, value, expected: "a boolean") }
        return b
    }

    /// An integer; a float with an integral value (`100.0`) is accepted too.
    func int(_ key: String) throws(APIError) -> Int? {
        guard let value = value(key) else { return nil }
        switch value {
        case .integer(let digits):
            guard let n = Int(digits) else { throw typeError(key, value, expected: "an integer in 64 bits") }
            return n
        case .float(let x) where x.isFinite && x.rounded() == x && abs(x) < 9e18:
            return Int(x)
        default:
            throw typeError(key, value, expected: "an integer")
        }
    }

    /// A finite number.
    func number(_ key: String) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        switch value {
        case .integer(let digits): return Double(digits) ?? .infinity
        case .float(let x) where x.isFinite: return x
        default: throw typeError(key, value, expected: "a number")
        }
    }

    func object(_ key: String) throws(APIError) -> RequestObject? {
        guard let value = value(key) else { return nil }
        return try RequestObject(value, path: path(key))
    }

    func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let elements) = value else { throw typeError(key, value, expected: "a sequence") }
        return elements
    }

    /// An array of objects, each with its indexed path (`messages[3]`).
    func objects(_ key: String) throws(APIError) -> [RequestObject]? {
        guard let elements = try array(key) else { return nil }
        var objects: [RequestObject] = []
        for (index, element) in elements.enumerated() {
            objects.append(try RequestObject(element, path: "\(path(key))[\(index)]"))
        }
        return objects
    }

    /// A string or an array of strings (`stop`).
    func strings(_ key: String) throws(APIError) -> [String]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string(let s): return [s]
        case .array(let elements):
            var strings: [String] = []
            for (index, element) in elements.enumerated() {
                guard case .string(let s) = element else {
                    throw APIError.invalidBody(
                        path: "\(path(key))[\(index)]", problem: "invalid type: \(element.kindDescription), expected a string")
                }
                strings.append(s)
            }
            return strings
        default:
            throw typeError(key, value, expected: "a string or a sequence of strings")
        }
    }
}

extension JSONValue {
    /// How a type error names the value it found, in serde's words (`integer `5``, `sequence`, `map`).
    var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool(let b): "boolean `\(b)`"
        case .integer(let digits): "integer `\(digits)`"
        case .float(let x): "floating point `\(x)`"
        case .string(let s): "string \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .array: "sequence"
        case .object: "map"
        }
    }
}
