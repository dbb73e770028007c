// JSONLines.swift
//
// Line-oriented JSON in and out for the golden-file commands (`render`, `parse`): one JSON object per
// input line, one JSON object per output line, in input order. A line that fails for any reason gives
// an `{"error": {"type": …, "message": …}}` object, never a crash, so a whole file can be compared
// against the official implementation's output line by line. Error types are the Python exception
// names the official code (or Python's `json.loads`) raises.

import Foundation
import Tokenizers

enum JSONLines {
    /// The non-empty lines of `path` (`-` for standard input), as text.
    static func read(_ path: String) throws -> [String] {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Parses each line and maps it with `transform`, printing one output object per line; malformed
    /// JSON and thrown ``ChatFormatError``s become error objects.
    static func process(_ path: String, _ transform: (JSONValue) throws(ChatFormatError) -> JSONValue) throws {
        var output = ""
        for line in try read(path) {
            let result: JSONValue
            do {
                result = try transform(try JSONValue(parsing: line))
            } catch let error as JSONParseError {
                result = errorObject(type: "JSONDecodeError", message: error.description)
            } catch let error as ChatFormatError {
                result = errorObject(type: error.pythonExceptionType, message: error.message)
            }
            output += result.serialized() + "\n"
            if output.utf8.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    static func errorObject(type: String, message: String) -> JSONValue {
        ["error": ["type": .string(type), "message": .string(message)]]
    }
}

// MARK: Plain-text helpers of `narwhal tokenize` (ids and strings without a JSON value in between)

extension JSONLines {
    /// The lines of a file (or standard input for "-"), without line terminators; blank lines are dropped.
    static func readLines(path: String) throws -> [String] {
        let data: Data
        do {
            data = path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIError.invalidInput("cannot read \(path): \(error.localizedDescription)")
        }
        var lines: [String] = []
        for var line in data.split(separator: 0x0A, omittingEmptySubsequences: true) {
            if line.last == 0x0D { line = line.dropLast() }
            guard let text = String(validating: line, as: UTF8.self) else {
                throw CLIError.invalidInput("\(path) is not valid UTF-8 (line \(lines.count + 1))")
            }
            if !text.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { lines.append(text) }
        }
        return lines
    }

    /// The object a line holds, or a description of why it is not a JSON object.
    static func parseObject(_ line: String) -> Result<[String: Any], CLIError> {
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return .failure(.invalidInput("the line is not a JSON object"))
            }
            return .success(object)
        } catch {
            return .failure(.invalidInput("the line is not valid JSON"))
        }
    }

    /// `text` as a JSON string literal; non-ASCII characters stay as UTF-8.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                result += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// `ids` as a JSON array.
    static func array(_ ids: [Int]) -> String {
        "[" + ids.map(String.init).joined(separator: ", ") + "]"
    }

    /// An error object `{"error": {"type": ..., "message": ...}}` for one failed line.
    static func errorLine(type: String, message: String) -> String {
        "{\"error\": {\"type\": \(quoted(type)), \"message\": \(quoted(message))}}"
    }
}

/// Buffers standard output and writes it in large chunks (one write per line is slow for big files).
struct OutputBuffer {
    private var buffer: [UInt8] = []

    mutating func writeLine(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
