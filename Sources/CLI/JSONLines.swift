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
