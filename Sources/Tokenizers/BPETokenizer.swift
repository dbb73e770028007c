// The DeepSeek V4 tokenizer (spec §5.1): byte-level BPE with 1,283 atomic added tokens, byte-exact with HF
// `tokenizers` on the official tokenizer.json.
//
// Encoding (see BPETokenizer+Encoding.swift): added tokens are cut out first (AddedTokens.swift), each remaining
// stretch is split into pre-tokens (PreTokenizer.swift), and each pre-token is BPE-encoded on its raw UTF-8 bytes
// (BPEModel.swift). Decoding maps each id to its bytes (ByteLevel.swift) and repairs invalid UTF-8 with U+FFFD the
// way the reference does. No BOS or EOS is ever added: that is the chat format's job.
//
// The tokenizer is immutable after loading, so one instance can serve any number of threads.

import Foundation

/// Byte-level BPE tokenizer loaded from a Hugging Face tokenizer.json.
public final class BPETokenizer: Sendable {
    let model: BPEModel
    /// Added tokens with `normalized: false` (all special tokens), matched first.
    let nonNormalizedAddedTokens: AddedTokenMatcher
    /// Added tokens with `normalized: true`, matched in what the first pass left.
    let normalizedAddedTokens: AddedTokenMatcher
    /// id → token as spelled in tokenizer.json; nil where no token has that id.
    private let tokens: [String?]
    /// Token spelling (UTF-8 bytes) → id, for vocabulary and added tokens alike.
    private let idsByToken: ByteStringTable
    private let specialTokenIDs: Set<Int>
    /// The decoded bytes of all ids back to back; id `i` owns `decodedBytes[decodedOffsets[i]..<decodedOffsets[i+1]]`.
    private let decodedBytes: [UInt8]
    private let decodedOffsets: [Int32]

    /// The id of `bos_token` from tokenizer_config.json (`<｜begin▁of▁sentence｜>`, 0, for DeepSeek V4).
    public let bosTokenID: Int
    /// The id of `eos_token` from tokenizer_config.json (`<｜end▁of▁sentence｜>`, 1, for DeepSeek V4).
    public let eosTokenID: Int

    /// The number of ids, one more than the largest (129,280 for DeepSeek V4).
    public var vocabularySize: Int { tokens.count }

    /// The BOS and EOS names assumed when there is no tokenizer_config.json (those of DeepSeek V4).
    static let defaultBOSToken = "<｜begin▁of▁sentence｜>"
    static let defaultEOSToken = "<｜end▁of▁sentence｜>"

    /// Loads tokenizer.json (+ tokenizer_config.json if present) from a directory (a checkpoint directory works too).
    /// - Throws: `TokenizerError` naming the file and what to check.
    public convenience init(directory: URL) throws {
        try self.init(files: TokenizerFiles(directory: directory),
                      source: directory.appendingPathComponent(TokenizerFiles.tokenizerFileName))
    }

    /// Builds the tokenizer from validated file contents; `source` labels errors.
    init(files: TokenizerFiles, source: URL) throws(TokenizerError) {
        var idsByToken = ByteStringTable(capacity: files.vocabulary.count + files.addedTokens.count)
        var tokens: [String?] = []
        /// Records `token` ↔ `id`, refusing two spellings for one id or two ids for one spelling.
        func record(_ token: String, id: Int) throws(TokenizerError) {
            if id >= tokens.count { tokens.append(contentsOf: repeatElement(nil, count: id + 1 - tokens.count)) }
            if let existing = tokens[id], !existing.utf8.elementsEqual(token.utf8) {
                throw .inconsistentVocabulary(source, detail: "id \(id) is both \"\(existing)\" and \"\(token)\"")
            }
            var utf8 = token
            let existingID = utf8.withUTF8 { bytes in
                let hash = ByteStringTable.hash(bytes)
                if let existing = idsByToken.value(for: bytes, hash: hash) { return Int(existing) }
                idsByToken.insert(bytes, hash: hash, value: Int32(id))
                return id
            }
            guard existingID == id else {
                throw .inconsistentVocabulary(source, detail: "\"\(token)\" has both id \(existingID) and id \(id)")
            }
            tokens[id] = token
        }
        for (token, id) in files.vocabulary { try record(token, id: id) }

        // Merges and byte tokens refer to `model.vocab` only, so they are resolved before added tokens join the
        // table. Every byte needs a token of its own, or BPE could not start on arbitrary input.
        var byteTokenIDs: [Int32] = []
        for byte in 0..<256 {
            let spelling = String(ByteLevel.scalarForByte[byte])
            guard let id = idsByToken.value(for: spelling) else {
                throw .inconsistentVocabulary(source, detail: "model.vocab has no token for byte \(byte) (\"\(spelling)\")")
            }
            byteTokenIDs.append(id)
        }
        var merges = MergeTable(capacity: files.merges.count)
        var joined: [UInt8] = []
        for (rank, merge) in files.merges.enumerated() {
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: merge.left.utf8)
            joined.append(contentsOf: merge.right.utf8)
            guard let left = idsByToken.value(for: merge.left), let right = idsByToken.value(for: merge.right),
                let merged = joined.withUnsafeBufferPointer({ idsByToken.value(for: $0) })
            else {
                throw .inconsistentVocabulary(
                    source,
                    detail: "merge \(rank) \"\(merge.left) \(merge.right)\" uses or makes a token missing from model.vocab")
            }
            merges.insert(left: left, right: right, rank: rank, merged: merged)
        }
        model = BPEModel(byteTokenIDs: byteTokenIDs, merges: merges)

        for token in files.addedTokens { try record(token.content, id: token.id) }
        nonNormalizedAddedTokens = AddedTokenMatcher(tokens: files.addedTokens.filter { !$0.normalized })
        normalizedAddedTokens = AddedTokenMatcher(tokens: files.addedTokens.filter { $0.normalized })
        specialTokenIDs = Set(files.addedTokens.filter(\.special).map(\.id))

        var decodedBytes: [UInt8] = []
        decodedBytes.reserveCapacity(8 * tokens.count)
        var decodedOffsets: [Int32] = [0]
        decodedOffsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            if let token { ByteLevel.appendDecodedBytes(ofToken: token, to: &decodedBytes) }
            decodedOffsets.append(Int32(decodedBytes.count))
        }
        self.decodedBytes = decodedBytes
        self.decodedOffsets = decodedOffsets
        self.tokens = tokens
        self.idsByToken = idsByToken

        let bosToken = files.bosToken ?? Self.defaultBOSToken
        let eosToken = files.eosToken ?? Self.defaultEOSToken
        guard let bosTokenID = idsByToken.value(for: bosToken), let eosTokenID = idsByToken.value(for: eosToken) else {
            throw .inconsistentVocabulary(source, detail: "bos_token \"\(bosToken)\" or eos_token \"\(eosToken)\" is not a token")
        }
        self.bosTokenID = Int(bosTokenID)
        self.eosTokenID = Int(eosTokenID)
    }

    /// The id of a token spelled as in tokenizer.json, e.g. `"<｜User｜>"` → 128803 or `"Ġthe"` → 270.
    public func tokenID(_ token: String) -> Int? {
        idsByToken.value(for: token).map(Int.init)
    }

    /// The token with this id, spelled as in tokenizer.json (vocabulary entries in the byte-level alphabet).
    public func token(_ id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    /// Whether `id` is an added token marked `special` (those `skip_special_tokens` would drop).
    public func isSpecialToken(_ id: Int) -> Bool {
        specialTokenIDs.contains(id)
    }

    /// The text of `ids`, special tokens included (`skip_special_tokens = false`).
    ///
    /// Ids out of range are skipped, as in the reference. Byte sequences that are not valid UTF-8 (a character cut
    /// between ids, or ids that never form one) become U+FFFD, one per maximal invalid subsequence, as Rust's
    /// `String::from_utf8_lossy` does.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendDecodedBytes(of: id, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes id `id` decodes to; nothing for an unknown id.
    func appendDecodedBytes(of id: Int, to bytes: inout [UInt8]) {
        guard id >= 0, id < tokens.count else { return }
        bytes.append(contentsOf: decodedBytes[Int(decodedOffsets[id])..<Int(decodedOffsets[id + 1])])
    }
}
