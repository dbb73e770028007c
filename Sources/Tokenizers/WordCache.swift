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
    private(set) var ids: [Int] = []

    /// The range in `ids` of the cached encoding of `word`, if any; `hash` is `ByteStringTable.hash(word)`.
    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Range<Int>? {
        words.value(for: word, hash: hash).map { ranges[Int($0)] }
    }

    /// Stores the encoding of `word`, which is not cached yet.
    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids wordIDs: [Int]) {
        words.insert(word, hash: hash, value: Int32(ranges.count))
        ranges.append(ids.count..<(ids.count + wordIDs.count))
        ids.append(contentsOf: wordIDs)
    }
}
