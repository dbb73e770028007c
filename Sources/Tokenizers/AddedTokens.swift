// Added tokens (spec §5.1): the 1,283 entries of `added_tokens`, such as "<｜User｜>" or "<think>", matched as
// atomic tokens in the raw text before pre-tokenization, whether or not they are `special`.
//
// Semantics follow HF `tokenizers` `AddedVocabulary`:
//   1. tokens with `normalized: false` are found in the whole input, leftmost-longest;
//   2. in each remaining gap, tokens with `normalized: true` are found the same way (on the normalized gap; the
//      DeepSeek V4 normalizer is empty, so that is the gap itself);
//   3. only the gaps left after both passes go through the pre-tokenizer and BPE.
// The two passes matter only when a normalized token overlaps a non-normalized one; they are kept because that is
// the reference's order. `lstrip`, `rstrip` and `single_word` are all false in the DeepSeek V4 file; other values are
// rejected at load because they change where matches start and end.

import Foundation

/// One entry of `added_tokens` in tokenizer.json.
struct AddedToken: Sendable, Equatable {
    var id: Int
    var content: String
    /// Special tokens are the ones `skip_special_tokens` would drop; matching does not depend on it.
    var special: Bool
    /// Whether the token is matched in the second, normalized pass.
    var normalized: Bool

    init(id: Int, content: String, special: Bool, normalized: Bool) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
    }

    /// Reads one `added_tokens` element; `path` and `url` label errors.
    init(json: TokenizerJSON, path: String, url: URL) throws(TokenizerError) {
        guard let id = json["id"]?.intValue, id >= 0, id < Int(Int32.max) else {
            throw .invalidField(url, path: "\(path).id", expected: "a non-negative integer")
        }
        guard let content = json["content"]?.stringValue, !content.isEmpty else {
            throw .invalidField(url, path: "\(path).content", expected: "a non-empty string")
        }
        for flag in ["lstrip", "rstrip", "single_word"] where json[flag]?.boolValue == true {
            throw .unsupported(url, path: "\(path).\(flag)", found: "true", supported: "false")
        }
        self.init(id: id, content: content, special: json["special"]?.boolValue ?? false,
                  normalized: json["normalized"]?.boolValue ?? true)
    }
}

/// Finds added tokens in UTF-8 text, leftmost-longest, with a byte trie.
///
/// Scanning is one table lookup per input byte: a trie walk starts only at bytes that begin some token ("<" and
/// the first byte of "｜" for DeepSeek V4), and a walk usually stops after one or two bytes.
struct AddedTokenMatcher: Sendable {
    /// Children of the root, indexed by byte; -1 where no token starts with that byte.
    private var rootChildren = [Int32](repeating: -1, count: 256)
    /// Children of every other node as (byte, node) lists; node 0 is the root and uses `rootChildren`.
    private var children: [[(byte: UInt8, node: Int32)]] = [[]]
    /// The id of the token that ends at each node, or -1.
    private var tokenIDs: [Int32] = [-1]

    /// A matcher for `tokens`; an empty list matches nothing.
    init(tokens: [AddedToken]) {
        for token in tokens {
            var node: Int32 = 0
            for byte in token.content.utf8 {
                node = child(of: node, byte: byte) ?? addChild(to: node, byte: byte)
            }
            tokenIDs[Int(node)] = Int32(token.id)
        }
    }

    private func child(of node: Int32, byte: UInt8) -> Int32? {
        if node == 0 {
            let child = rootChildren[Int(byte)]
            return child >= 0 ? child : nil
        }
        for edge in children[Int(node)] where edge.byte == byte { return edge.node }
        return nil
    }

    private mutating func addChild(to node: Int32, byte: UInt8) -> Int32 {
        let child = Int32(tokenIDs.count)
        tokenIDs.append(-1)
        children.append([])
        if node == 0 {
            rootChildren[Int(byte)] = child
        } else {
            children[Int(node)].append((byte, child))
        }
        return child
    }

    /// The longest token that starts at `start` and ends by `end`, as (end offset, id).
    private func longestMatch(in bytes: UnsafeBufferPointer<UInt8>, at start: Int, end: Int) -> (end: Int, id: Int)? {
        var node = rootChildren[Int(bytes[start])]
        var position = start + 1
        var best: (end: Int, id: Int)?
        while node >= 0 {
            if tokenIDs[Int(node)] >= 0 { best = (position, Int(tokenIDs[Int(node)])) }
            guard position < end, let next = child(of: node, byte: bytes[position]) else { break }
            node = next
            position += 1
        }
        return best
    }

    /// Splits `bytes[range]` into text gaps and added tokens, in order.
    /// - Parameters:
    ///   - text: called with each non-empty gap between matches.
    ///   - token: called with the id of each match.
    func split(
        _ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, text: (Range<Int>) -> Void, token: (Int) -> Void
    ) {
        var gapStart = range.lowerBound
        var position = range.lowerBound
        while position < range.upperBound {
            if rootChildren[Int(bytes[position])] >= 0,
                let match = longestMatch(in: bytes, at: position, end: range.upperBound)
            {
                if gapStart < position { text(gapStart..<position) }
                token(match.id)
                position = match.end
                gapStart = position
            } else {
                position += 1
            }
        }
        if gapStart < range.upperBound { text(gapStart..<range.upperBound) }
    }
}
