// ChatFixtures.swift
//
// Loads the chat golden files made with the official `encoding/encoding_dsv4.py` (see the fixtures
// README, §3): `encode.jsonl` (encoder arguments → prompt and ids, or the exception raised) and
// `parse.jsonl` (completion text → parsed message, or the exception raised). Lines are read with our
// own order-preserving JSON parser, which the JSON tests check separately.

import Foundation
import Testing
import Tokenizers

enum ChatFixtures {
    static func lines(_ file: String) throws -> [JSONObject] {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONValue(parsing: String(line)).objectValue)
        }
    }

    /// One line of `encode.jsonl`.
    struct EncodeCase: Sendable, CustomTestStringConvertible {
        var name: String
        var input: JSONValue
        var prompt: String?
        var ids: [Int]?
        var errorType: String?
        var testDescription: String { name }
    }

    /// One line of `parse.jsonl`.
    struct ParseCase: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var thinkingMode: ThinkingMode
        var result: JSONValue?
        var errorType: String?
        var testDescription: String { name }
    }

    static func encodeCases() throws -> [EncodeCase] {
        try lines("encode.jsonl").map { line in
            EncodeCase(
                name: line["name"]?.stringValue ?? "?", input: line["input"] ?? .null,
                prompt: line["prompt"]?.stringValue,
                ids: line["ids"]?.arrayValue?.compactMap { value in
                    if case .integer(let digits) = value { Int(digits) } else { nil }
                },
                errorType: line["error"]?.objectValue?["type"]?.stringValue)
        }
    }

    static func parseCases() throws -> [ParseCase] {
        try lines("parse.jsonl").map { line in
            ParseCase(
                name: line["name"]?.stringValue ?? "?", text: line["text"]?.stringValue ?? "",
                thinkingMode: ThinkingMode(rawValue: line["thinking_mode"]?.stringValue ?? ""),
                result: line["result"], errorType: line["error"]?.objectValue?["type"]?.stringValue)
        }
    }
}
