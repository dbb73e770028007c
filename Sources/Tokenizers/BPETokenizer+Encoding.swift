// Text → ids: the encoding pipeline of `BPETokenizer`, equal to HF `tokenizers`
// `encode(text, add_special_tokens=False)`.
//
//   UTF-8 bytes ─ added tokens, non-normalized pass ─ normalized pass ─┬─ id of each added token
//                                                                      └─ each gap: classify scalars → pre-tokens
//                                                                                  → cache or BPE → ids
//
// Everything works on the string's UTF-8 bytes and per-scalar classes in reusable buffers; no Character or
// substring is ever created, which is what keeps a 1M-token prompt cheap.

extension BPETokenizer {
    /// The ids of `text`. No BOS is ever added automatically.
    ///
    /// Added tokens such as `<｜User｜>` anywhere in `text` become their own ids (the reference matches them in raw
    /// text too), so text from untrusted sources can contain control tokens; escape it upstream if that matters.
    public func encode(_ text: String) -> [Int] {
        var text = text
        return text.withUTF8 { bytes in
            var state = EncodingState()
            state.ids.reserveCapacity(bytes.count / 3)
            nonNormalizedAddedTokens.split(
                bytes, range: 0..<bytes.count,
                text: { gap in
                    normalizedAddedTokens.split(
                        bytes, range: gap,
                        text: { encodeOrdinaryText(bytes, range: $0, state: &state) },
                        token: { state.ids.append($0) })
                },
                token: { state.ids.append($0) })
            return state.ids
        }
    }

    /// Per-call buffers, reused across the stretches of one input.
    struct EncodingState {
        var ids: [Int] = []
        /// The class of each scalar of the current stretch (only the first `scalarCount` entries are meaningful).
        var classes: [CharacterClass] = []
        /// The byte offset of each scalar of the current stretch, plus its end.
        var offsets: [Int] = []
        var cache = WordCache()
        var scratch = BPEModel.Scratch()
        /// Ids of a word being encoded, before they go to `ids` and the cache.
        var wordIDs: [Int] = []
    }

    /// Encodes a stretch of text that holds no added token: pre-tokenize, then BPE each pre-token.
    private func encodeOrdinaryText(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, state: inout EncodingState) {
        // The buffers are moved out of `state` while the closure below mutates the rest of it.
        var classes = state.classes
        var offsets = state.offsets
        state.classes = []
        state.offsets = []
        if classes.count < range.count {
            classes = [CharacterClass](repeating: [], count: range.count)
            offsets = [Int](repeating: 0, count: range.count + 1)
        }
        classes.withUnsafeMutableBufferPointer { classes in
            offsets.withUnsafeMutableBufferPointer { offsets in
                let scalarCount = Self.classifyScalars(bytes, range: range, classes: classes, offsets: offsets)
                var start = 0
                PreTokenizer.split(UnsafeBufferPointer(rebasing: classes[..<scalarCount])) { end in
                    encodeWord(UnsafeBufferPointer(rebasing: bytes[offsets[start]..<offsets[end]]), state: &state)
                    start = end
                }
            }
        }
        state.classes = classes
        state.offsets = offsets
    }

    /// Decodes the (valid) UTF-8 of `bytes[range]` into one class and one byte offset per scalar, plus the end
    /// offset; returns the number of scalars. The buffers hold at least `range.count` (+ 1) entries.
    @inline(__always)
    private static func classifyScalars(
        _ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, classes: UnsafeMutableBufferPointer<CharacterClass>,
        offsets: UnsafeMutableBufferPointer<Int>
    ) -> Int {
        CharacterClass.basicMultilingualPlane.withUnsafeBufferPointer { planeClasses in
            var count = 0
            var position = range.lowerBound
            while position < range.upperBound {
                offsets[count] = position
                let lead = UInt32(bytes[position])
                if lead < 0x80 {
                    classes[count] = planeClasses[Int(lead)]
                    position += 1
                } else if lead < 0xE0 {
                    classes[count] = planeClasses[Int((lead & 0x1F) << 6 | UInt32(bytes[position + 1] & 0x3F))]
                    position += 2
                } else if lead < 0xF0 {
                    let value = (lead & 0x0F) << 12 | UInt32(bytes[position + 1] & 0x3F) << 6
                        | UInt32(bytes[position + 2] & 0x3F)
                    classes[count] = planeClasses[Int(value)]
                    position += 3
                } else {
                    let value = (lead & 0x07) << 18 | UInt32(bytes[position + 1] & 0x3F) << 12
                        | UInt32(bytes[position + 2] & 0x3F) << 6 | UInt32(bytes[position + 3] & 0x3F)
                    classes[count] = CharacterClass.computed(value)
                    position += 4
                }
                count += 1
            }
            offsets[count] = range.upperBound
            return count
        }
    }

    /// Appends the ids of one pre-token, from the cache when the word was seen before in this call.
    @inline(__always)
    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, state: inout EncodingState) {
        if word.count == 1 {
            state.ids.append(Int(model.byteTokenIDs[Int(word[0])]))
            return
        }
        guard word.count <= WordCache.maximumWordLength else {
            model.encode(word, into: &state.ids, scratch: &state.scratch)
            return
        }
        let hash = ByteStringTable.hash(word)
        if state.cache.appendIDs(of: word, hash: hash, to: &state.ids) { return }
        state.wordIDs.removeAll(keepingCapacity: true)
        model.encode(word, into: &state.wordIDs, scratch: &state.scratch)
        state.cache.insert(word, hash: hash, ids: state.wordIDs)
        state.ids.append(contentsOf: state.wordIDs)
    }
}
