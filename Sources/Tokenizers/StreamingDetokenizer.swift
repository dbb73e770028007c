// Incremental decoding for generation: ids arrive one at a time, text leaves as soon as it is certain.
//
// A token's bytes need not end on a character boundary (one emoji is often two or three byte tokens), so the
// detokenizer keeps back only a trailing incomplete UTF-8 sequence — at most three bytes — and emits everything
// before it. The invariant the tests check: the concatenation of everything `append` and `flush` return equals
// `decode` of all ids, including the U+FFFD repairs of invalid bytes. That holds because U+FFFD substitution of
// maximal subparts (what `decode` and Rust's `from_utf8_lossy` do) decides each replacement from the bytes up to the
// first byte that cannot continue the sequence; a sequence that is complete or already broken decodes the same
// whatever follows. Only a still-valid prefix, such as E4 B8 waiting for its third byte, has to wait.

/// Turns a stream of token ids into text pieces that never split a UTF-8 character.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: BPETokenizer
    /// Bytes decoded but not yet emitted; at most an incomplete sequence between calls.
    private var pending: [UInt8] = []

    public init(tokenizer: BPETokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds one id and returns the text it completes (often empty while a multi-byte character is still arriving).
    /// Unknown ids are skipped, as in `decode`.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendDecodedBytes(of: id, to: &pending)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is still held back (an incomplete character decodes to U+FFFD, as in `decode`) and resets.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the longest prefix of `bytes` whose lossy decoding cannot change when more bytes follow:
    /// everything except a trailing sequence that is a valid but incomplete UTF-8 character.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // The last byte that is not a continuation byte (10xxxxxx) starts the only sequence that may be open.
        var start = bytes.count - 1
        while start >= 0, start >= bytes.count - 3, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0, start >= bytes.count - 3 else { return bytes.count }
        guard let shape = Unicode.UTF8.sequenceShape(lead: bytes[start]) else {
            return bytes.count  // ASCII, or a byte that can never start a character
        }
        let have = bytes.count - start
        guard have < shape.length else { return bytes.count }
        // Still open only if the bytes so far are a valid prefix (the second byte is the only constrained one).
        if have >= 2, !shape.second.contains(bytes[start + 1]) { return bytes.count }
        return start
    }
}
