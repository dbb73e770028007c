// Loading: the JSON reader, and typed errors for missing, malformed and unsupported tokenizer files. These tests
// write a tiny tokenizer (256 byte tokens, three merges, two added tokens) so they run in milliseconds.

import Foundation
import Testing

@testable import Tokenizers

@Suite("Tokenizer files")
struct TokenizerFilesTests {
    /// A minimal tokenizer.json with the DeepSeek V4 pipeline, as a JSON object that tests can alter.
    static func tinyTokenizer() -> [String: Any] {
        var vocab: [String: Int] = [:]
        for byte in 0..<256 { vocab[String(ByteLevel.scalarForByte[byte])] = byte }
        vocab["Ġt"] = 256
        vocab["he"] = 257
        vocab["Ġthe"] = 258
        let splits: [[String: Any]] = PreTokenizer.splitPatterns.map {
            ["type": "Split", "pattern": ["Regex": $0], "behavior": "Isolated", "invert": false]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                        "use_regex": false]
        return [
            "version": "1.0",
            "normalizer": ["type": "Sequence", "normalizers": [Any]()],
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": splits + [byteLevel]],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "added_tokens": [
                ["id": 259, "content": "<｜begin▁of▁sentence｜>", "single_word": false, "lstrip": false,
                 "rstrip": false, "normalized": false, "special": true],
                ["id": 260, "content": "<｜end▁of▁sentence｜>", "single_word": false, "lstrip": false,
                 "rstrip": false, "normalized": false, "special": true],
            ],
            "model": ["type": "BPE", "dropout": NSNull(), "vocab": vocab, "merges": ["Ġ t", "h e", "Ġt he"]],
        ]
    }

    /// A fresh directory holding `tokenizer.json` (and `tokenizer_config.json` when given).
    static func directory(tokenizer: [String: Any]?, rawTokenizer: String? = nil, config: [String: Any]? = nil) throws
        -> URL
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-tests-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let tokenizer {
            try JSONSerialization.data(withJSONObject: tokenizer).write(to: directory.appendingPathComponent("tokenizer.json"))
        }
        if let rawTokenizer { try Data(rawTokenizer.utf8).write(to: directory.appendingPathComponent("tokenizer.json")) }
        if let config {
            try JSONSerialization.data(withJSONObject: config).write(
                to: directory.appendingPathComponent("tokenizer_config.json"))
        }
        return directory
    }

    /// The error loading `directory` throws.
    static func loadError(_ directory: URL) -> TokenizerError? {
        do {
            _ = try BPETokenizer(directory: directory)
            return nil
        } catch {
            return error as? TokenizerError
        }
    }

    @Test("loads a tiny tokenizer and merges by rank")
    func tinyTokenizerWorks() throws {
        let tokenizer = try BPETokenizer(directory: Self.directory(tokenizer: Self.tinyTokenizer()))
        #expect(tokenizer.vocabularySize == 261)
        #expect(tokenizer.encode(" the") == [258])
        #expect(tokenizer.encode("<｜begin▁of▁sentence｜> then") == [259, 258, Int(Character("n").asciiValue!)])
        #expect(tokenizer.decode([259, 258]) == "<｜begin▁of▁sentence｜> the")
        // Without tokenizer_config.json the DeepSeek V4 names are assumed.
        #expect(tokenizer.bosTokenID == 259)
        #expect(tokenizer.eosTokenID == 260)
    }

    @Test("reads BOS and EOS from tokenizer_config.json, as strings or objects")
    func configTokens() throws {
        let config: [String: Any] = ["bos_token": "<｜end▁of▁sentence｜>", "eos_token": ["content": "<｜begin▁of▁sentence｜>"]]
        let tokenizer = try BPETokenizer(directory: Self.directory(tokenizer: Self.tinyTokenizer(), config: config))
        #expect(tokenizer.bosTokenID == 260)
        #expect(tokenizer.eosTokenID == 259)
    }

    @Test("names the missing file")
    func missingFile() throws {
        let error = Self.loadError(try Self.directory(tokenizer: nil))
        guard case .missingFile(let url) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(url.lastPathComponent == "tokenizer.json")
        #expect(error!.description.contains("hint:"))
    }

    @Test("reports the line and column of a JSON syntax error")
    func malformedJSON() throws {
        let error = Self.loadError(try Self.directory(tokenizer: nil, rawTokenizer: "{\n  \"model\": [1, 2,]\n}"))
        guard case .malformedJSON(_, let line, let column, _) = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(line == 2)
        #expect(column == 18)
    }

    @Test("refuses a pre-tokenizer it does not implement")
    func unsupportedPreTokenizer() throws {
        var tokenizer = Self.tinyTokenizer()
        var preTokenizer = tokenizer["pre_tokenizer"] as! [String: Any]
        var steps = preTokenizer["pretokenizers"] as! [[String: Any]]
        steps[0]["pattern"] = ["Regex": "\\p{N}{1,4}"]
        preTokenizer["pretokenizers"] = steps
        tokenizer["pre_tokenizer"] = preTokenizer
        let error = Self.loadError(try Self.directory(tokenizer: tokenizer))
        guard case .unsupported(_, let path, _, _) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(path == "pre_tokenizer.pretokenizers[0]")
    }

    @Test("refuses added tokens with lstrip, rstrip or single_word")
    func unsupportedAddedTokenFlags() throws {
        var tokenizer = Self.tinyTokenizer()
        var added = tokenizer["added_tokens"] as! [[String: Any]]
        added[1]["rstrip"] = true
        tokenizer["added_tokens"] = added
        let error = Self.loadError(try Self.directory(tokenizer: tokenizer))
        guard case .unsupported(_, let path, _, _) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(path == "added_tokens[1].rstrip")
    }

    @Test("refuses merges that use tokens missing from the vocabulary")
    func inconsistentMerges() throws {
        var tokenizer = Self.tinyTokenizer()
        var model = tokenizer["model"] as! [String: Any]
        model["merges"] = ["Ġ t", "x yz"]
        tokenizer["model"] = model
        let error = Self.loadError(try Self.directory(tokenizer: tokenizer))
        guard case .inconsistentVocabulary(_, let detail) = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(detail.contains("merge 1"))
    }

    @Test("accepts merges written as pairs, as newer tokenizers versions do")
    func pairMerges() throws {
        var tokenizer = Self.tinyTokenizer()
        var model = tokenizer["model"] as! [String: Any]
        model["merges"] = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"]]
        tokenizer["model"] = model
        #expect(try BPETokenizer(directory: Self.directory(tokenizer: tokenizer)).encode(" the") == [258])
    }
}

@Suite("TokenizerJSON")
struct TokenizerJSONTests {
    func parse(_ text: String) throws(TokenizerJSON.SyntaxError) -> TokenizerJSON {
        try TokenizerJSON.parse(Array(text.utf8))
    }

    @Test("reads escapes, surrogate pairs and non-ASCII text")
    func strings() throws {
        #expect(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#).stringValue == "a\"b\\c/d\n\té😀")
        #expect(try parse("\"中文 ｜\"").stringValue == "中文 ｜")
        #expect(try parse(#"{"k": [1, -2, 3.5e2, true, null]}"#)["k"]?.arrayValue?.count == 5)
        #expect(try parse("-12").intValue == -12)
        #expect(try parse("3.5e2").intValue == 350)
        #expect(try parse("0.5").intValue == nil)
    }

    @Test("rejects what strict JSON readers reject", arguments: [
        "[1, 2,]", "{\"a\": 1,}", "\"\\ud800\"", "\"\\udc00x\"", "\"a\nb\"", "01", "1.", "-", "[1] x", "{\"a\" 1}",
        "\"\\x\"", "tru", "\"unterminated", "",
    ])
    func rejects(_ text: String) {
        #expect(throws: TokenizerJSON.SyntaxError.self) { try parse(text) }
    }

    @Test("rejects invalid UTF-8 inside strings")
    func invalidUTF8() {
        #expect(throws: TokenizerJSON.SyntaxError.self) { try TokenizerJSON.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: TokenizerJSON.SyntaxError.self) { try TokenizerJSON.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }
}
