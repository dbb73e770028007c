// Shared test data: the official DeepSeek V4 tokenizer files and the reference goldens in Fixtures/ (see the
// fixtures README, §2: ids from HF `tokenizers` 0.23.3, `add_special_tokens=False`).

import Foundation
import Testing

@testable import Tokenizers

enum Fixture {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    /// The official tokenizer, loaded once for the whole suite.
    static let tokenizer: BPETokenizer = {
        do {
            return try BPETokenizer(directory: directory)
        } catch {
            preconditionFailure("cannot load the fixture tokenizer: \(error)")
        }
    }()

    /// One line of golden.jsonl.
    struct GoldenCase: Decodable, Sendable, CustomTestStringConvertible {
        var category: String
        var text: String
        var ids: [Int]
        var decoded: String
        var line: Int?

        var testDescription: String {
            let preview = text.unicodeScalars.prefix(40).map { $0.escaped(asASCII: true) }.joined()
            return "line \(line ?? 0) [\(category)] \"\(preview)\""
        }
    }

    /// All 433 cases of golden.jsonl, in file order.
    static let goldenCases: [GoldenCase] = {
        let url = directory.appendingPathComponent("golden.jsonl")
        let text = try! String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").enumerated().map { index, line in
            var golden = try! JSONDecoder().decode(GoldenCase.self, from: Data(line.utf8))
            golden.line = index + 1
            return golden
        }
    }()
}

/// A small deterministic generator (SplitMix64) so that property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
