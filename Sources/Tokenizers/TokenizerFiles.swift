// Reading tokenizer.json and tokenizer_config.json (Hugging Face `tokenizers` format 1.0), spec §5.1.
//
// The tokenizer hand-implements one pipeline, DeepSeek V4's, so loading checks that the file asks for exactly that
// pipeline: an empty normalizer, the three Split pre-tokenizers with their exact patterns, a non-regex ByteLevel
// step, a plain byte-level BPE model and a ByteLevel decoder. Anything else throws `TokenizerError.unsupported`
// rather than producing ids that silently differ from the reference. The post-processor is not checked: `encode`
// is the reference's `encode(text, add_special_tokens=False)`, for which a post-processor adds nothing.

import Foundation

/// The validated content of a tokenizer directory.
struct TokenizerFiles: Sendable {
    static let tokenizerFileName = "tokenizer.json"
    static let configFileName = "tokenizer_config.json"

    /// `model.vocab`: the byte-level BPE vocabulary, token (in the `ByteLevel` alphabet) → id.
    var vocabulary: [(token: String, id: Int)]
    /// `model.merges` in rank order (rank = index).
    var merges: [(left: String, right: String)]
    /// `added_tokens`, matched atomically before pre-tokenization.
    var addedTokens: [AddedToken]
    /// `bos_token` / `eos_token` of tokenizer_config.json, when that file is present and names them.
    var bosToken: String?
    var eosToken: String?

    /// Reads `tokenizer.json` and, if present, `tokenizer_config.json` from `directory`.
    init(directory: URL) throws(TokenizerError) {
        let tokenizerURL = directory.appendingPathComponent(Self.tokenizerFileName)
        let configURL = directory.appendingPathComponent(Self.configFileName)
        let tokenizerJSON = try Self.readJSON(tokenizerURL)
        let configJSON = FileManager.default.fileExists(atPath: configURL.path) ? try Self.readJSON(configURL) : nil
        try self.init(tokenizerJSON: tokenizerJSON, tokenizerURL: tokenizerURL, configJSON: configJSON,
                      configURL: configURL)
    }

    /// Interprets already-parsed documents; the URLs only label errors.
    init(tokenizerJSON root: TokenizerJSON, tokenizerURL url: URL, configJSON: TokenizerJSON?, configURL: URL)
        throws(TokenizerError)
    {
        try Self.checkPipeline(root, url: url)
        guard let model = root["model"] else { throw .missingField(url, path: "model") }
        guard let vocab = model["vocab"] else { throw .missingField(url, path: "model.vocab") }
        guard let vocabMembers = vocab.objectValue else {
            throw .invalidField(url, path: "model.vocab", expected: "an object of token → id")
        }
        var vocabulary: [(token: String, id: Int)] = []
        vocabulary.reserveCapacity(vocabMembers.count)
        for member in vocabMembers {
            guard let id = member.value.intValue, id >= 0, id < Int(Int32.max) else {
                throw .invalidField(url, path: "model.vocab[\"\(member.key)\"]", expected: "a non-negative integer id")
            }
            vocabulary.append((member.key, id))
        }
        self.vocabulary = vocabulary

        guard let mergeValues = model["merges"]?.arrayValue else {
            throw .missingField(url, path: "model.merges")
        }
        var merges: [(left: String, right: String)] = []
        merges.reserveCapacity(mergeValues.count)
        for (rank, value) in mergeValues.enumerated() {
            guard let pair = Self.mergePair(value) else {
                throw .invalidField(url, path: "model.merges[\(rank)]", expected: "\"left right\" or [\"left\", \"right\"]")
            }
            merges.append(pair)
        }
        self.merges = merges

        guard let addedValues = root["added_tokens"]?.arrayValue else {
            throw .missingField(url, path: "added_tokens")
        }
        var addedTokens: [AddedToken] = []
        for (index, value) in addedValues.enumerated() {
            addedTokens.append(try AddedToken(json: value, path: "added_tokens[\(index)]", url: url))
        }
        self.addedTokens = addedTokens

        bosToken = try configJSON.flatMap { json throws(TokenizerError) in
            try Self.specialTokenName(json, key: "bos_token", url: configURL)
        }
        eosToken = try configJSON.flatMap { json throws(TokenizerError) in
            try Self.specialTokenName(json, key: "eos_token", url: configURL)
        }
    }

    /// Reads and parses one JSON file.
    static func readJSON(_ url: URL) throws(TokenizerError) -> TokenizerJSON {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(url) }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url))
        } catch {
            throw .unreadableFile(url, reason: error.localizedDescription)
        }
        do {
            return try TokenizerJSON.parse(bytes)
        } catch {
            throw TokenizerError.malformedJSON(url, bytes: bytes, error: error)
        }
    }

    /// A merge as written by `tokenizers` before 0.20 ("left right") or after (["left", "right"]).
    private static func mergePair(_ value: TokenizerJSON) -> (left: String, right: String)? {
        if let text = value.stringValue {
            let parts = text.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2, let left = String(parts[0]), let right = String(parts[1]) else { return nil }
            return (left, right)
        }
        if let parts = value.arrayValue, parts.count == 2, let left = parts[0].stringValue,
            let right = parts[1].stringValue
        {
            return (left, right)
        }
        return nil
    }

    /// A special token in tokenizer_config.json is either a string or an AddedToken object with `content`.
    private static func specialTokenName(_ config: TokenizerJSON, key: String, url: URL) throws(TokenizerError) -> String? {
        guard let value = config[key], !value.isNull else { return nil }
        if let name = value.stringValue ?? value["content"]?.stringValue { return name }
        throw .invalidField(url, path: key, expected: "a string or an object with \"content\"")
    }

    // MARK: - Pipeline checks

    /// Throws unless normalizer, pre-tokenizer, model options and decoder are the ones implemented here.
    private static func checkPipeline(_ root: TokenizerJSON, url: URL) throws(TokenizerError) {
        if let normalizer = root["normalizer"], !normalizer.isNull {
            let isEmptySequence =
                normalizer["type"]?.stringValue == "Sequence" && normalizer["normalizers"]?.arrayValue?.isEmpty == true
            guard isEmptySequence else {
                throw .unsupported(url, path: "normalizer", found: describe(normalizer),
                                   supported: "no normalizer (null or an empty Sequence)")
            }
        }

        let supportedPreTokenizer = "a Sequence of the three DeepSeek V4 Split steps and ByteLevel(use_regex: false)"
        guard let preTokenizer = root["pre_tokenizer"] else { throw .missingField(url, path: "pre_tokenizer") }
        guard preTokenizer["type"]?.stringValue == "Sequence", let steps = preTokenizer["pretokenizers"]?.arrayValue,
            steps.count == PreTokenizer.splitPatterns.count + 1
        else {
            throw .unsupported(url, path: "pre_tokenizer", found: describe(preTokenizer), supported: supportedPreTokenizer)
        }
        for (index, pattern) in PreTokenizer.splitPatterns.enumerated() {
            let step = steps[index]
            guard step["type"]?.stringValue == "Split", step["pattern"]?["Regex"]?.stringValue == pattern,
                step["behavior"]?.stringValue == "Isolated", step["invert"]?.boolValue != true
            else {
                throw .unsupported(url, path: "pre_tokenizer.pretokenizers[\(index)]", found: describe(step),
                                   supported: "Split(\(pattern), Isolated)")
            }
        }
        let byteLevel = steps[PreTokenizer.splitPatterns.count]
        guard byteLevel["type"]?.stringValue == "ByteLevel", byteLevel["use_regex"]?.boolValue == false,
            byteLevel["add_prefix_space"]?.boolValue != true
        else {
            throw .unsupported(url, path: "pre_tokenizer.pretokenizers[\(PreTokenizer.splitPatterns.count)]",
                               found: describe(byteLevel), supported: "ByteLevel(add_prefix_space: false, use_regex: false)")
        }

        guard let model = root["model"] else { throw .missingField(url, path: "model") }
        if let type = model["type"], type.stringValue != "BPE" {
            throw .unsupported(url, path: "model.type", found: describe(type), supported: "\"BPE\"")
        }
        let emptyOptions = ["dropout", "continuing_subword_prefix", "end_of_word_suffix"]
        for key in emptyOptions {
            if let value = model[key], !value.isNull, value.stringValue != "" {
                throw .unsupported(url, path: "model.\(key)", found: describe(value), supported: "null")
            }
        }
        if let ignoreMerges = model["ignore_merges"], ignoreMerges.boolValue != false {
            throw .unsupported(url, path: "model.ignore_merges", found: describe(ignoreMerges), supported: "false")
        }

        guard let decoder = root["decoder"], decoder["type"]?.stringValue == "ByteLevel" else {
            throw .unsupported(url, path: "decoder", found: describe(root["decoder"] ?? .null),
                               supported: "ByteLevel")
        }
    }

    /// A short rendering of a JSON value for error messages.
    static func describe(_ value: TokenizerJSON) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .number(let number): number == number.rounded() ? "\(Int(number))" : "\(number)"
        case .string(let text): "\"\(text)\""
        case .array(let elements): "an array of \(elements.count)"
        case .object:
            if let pattern = value["pattern"]?["Regex"]?.stringValue ?? value["pattern"]?["String"]?.stringValue {
                "\(value["type"]?.stringValue ?? "an object") with pattern \"\(pattern)\""
            } else {
                value["type"]?.stringValue.map { "type \"\($0)\"" } ?? "an object"
            }
        }
    }
}
