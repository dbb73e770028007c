// A cache from pre-token bytes to their BPE ids, for the duration of one `encode` call.
//
// Natural text repeats its words: in a long prompt most pre-tokens ("Ġthe", "Ġ=", "ĊĠĠĠ") have been seen before,
// and looking them up is far cheaper than merging again. The cache lives only as long as one call, so
// `BPETokenizer` stays immutable and freely shareable between threads, and memory is bounded by the input.

/// Map from pre-token bytes to the ids BPE gave them.
struct WordCache {
    /// Words longer than this are rare and seldom repeat (long identifiers, base64); they are not cached.
    static let maximumWordLength = 128

    /// Word → index into `ranges`.
    private var words = ByteStringTable(capacity: 4096)
    /// Where each word's ids are in `ids`.
    private var ranges: [Range<Int>] = []
    /// The cached ids of all words, back to back.
    private var ids: [Int] = []

    /// Appends the cached encoding of `word` to `output` and returns true, or returns false when `word` is not
    /// cached; `hash` is `ByteStringTable.hash(word)`.
    @inline(__always)
    func appendIDs(of word: UnsafeBufferPointer<UInt8>, hash: UInt64, to output: inout [Int]) -> Bool {
        guard let index = words.value(for: word, hash: hash) else { return false }
        let range = ranges[Int(index)]
        ids.withUnsafeBufferPointer { output.append(contentsOf: UnsafeBufferPointer(rebasing: $0[range])) }
        return true
    }

    /// Stores the encoding of `word`, which is not cached yet.
    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids wordIDs: [Int]) {
        words.insert(word, hash: hash, value: Int32(ranges.count))
        ranges.append(ids.count..<(ids.count + wordIDs.count))
        ids.append(contentsOf: wordIDs)
    }
}
