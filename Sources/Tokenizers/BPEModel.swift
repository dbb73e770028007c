// Byte-level BPE on one pre-token (spec §5.1, `model.type = BPE`).
//
// A pre-token starts as one symbol per byte (the vocabulary holds all 256 single-byte tokens, so there is never an
// unknown symbol) and is merged by rank exactly as HF `tokenizers` `Word::merge_all` does: a min-queue of candidate
// pairs ordered by (merge rank, position); the best candidate is merged unless it went stale, and the pairs the new
// symbol forms with its neighbours are queued. Ties in rank go to the leftmost pair. A candidate is stale when one of
// its two symbols has changed since it was queued; as a pair's merge rank identifies the pair, comparing ranks
// detects that. (The queue order is total, (rank, position) pairs being unique, so any heap pops in the same order.)
//
// Merges are looked up in an open-addressing table keyed by the packed pair of ids, which is several times faster
// than a Dictionary with SipHash for this 128k-entry, read-only map. Words in one call are cached (WordCache), so
// merging runs once per distinct word; it dominates only on text with few repeats, such as long CJK runs.

/// Merge ranks keyed by pairs of token ids.
struct MergeTable: Sendable {
    /// Slot `i` is `slots[2i]` = `left << 32 | right` (or `emptyKey`) and `slots[2i + 1]` = `rank << 32 | merged`.
    /// Key and value share a cache line: the table (4 MiB for DeepSeek V4) does not fit in cache, and a lookup
    /// usually costs one miss.
    private var slots: [UInt64]
    private let shift: UInt64
    private let mask: Int
    private static let emptyKey = UInt64.max

    /// A table with room for `capacity` merges at a load factor of at most one half.
    init(capacity: Int) {
        var bits = 4
        while 1 << bits < 2 * capacity { bits += 1 }
        slots = [UInt64](repeating: Self.emptyKey, count: 2 << bits)
        shift = UInt64(64 - bits)
        mask = (1 << bits) - 1
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Records that `left right` merges into `merged` with `rank`; a later entry for the same pair replaces an
    /// earlier one, as when the reference collects merges into its map.
    mutating func insert(left: Int32, right: Int32, rank: Int, merged: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var index = slot(for: key)
        while slots[2 * index] != Self.emptyKey, slots[2 * index] != key { index = (index + 1) & mask }
        slots[2 * index] = key
        slots[2 * index + 1] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// `rank << 32 | mergedID` for the pair, or nil when the pair never merges.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return slots.withUnsafeBufferPointer { slots in
            var index = slot(for: key)
            while true {
                let found = slots[2 * index]
                if found == key { return slots[2 * index + 1] }
                if found == Self.emptyKey { return nil }
                index = (index + 1) & mask
            }
        }
    }
}

/// The BPE model: single-byte token ids and merge ranks.
struct BPEModel: Sendable {
    /// The id of the token spelling each single byte.
    let byteTokenIDs: [Int32]
    let merges: MergeTable

    /// Reusable buffers for `encode(_:into:scratch:)`, one set per encoding call. They only ever grow.
    struct Scratch {
        /// Token id per symbol position; -1 once the symbol has been merged into its left neighbour.
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        /// Binary min-heap of `rank << 32 | position`. Each merge queues at most two pairs, so a word of n bytes
        /// never holds more than 3n candidates.
        var queue: [UInt64] = []

        mutating func reserve(_ count: Int) {
            guard symbols.count < count else { return }
            symbols = [Int32](repeating: 0, count: count)
            previous = symbols
            next = symbols
            queue = [UInt64](repeating: 0, count: 3 * count)
        }
    }

    /// Appends the ids of the BPE encoding of one pre-token's bytes (at least two bytes).
    func encode(_ word: UnsafeBufferPointer<UInt8>, into ids: inout [Int], scratch: inout Scratch) {
        let count = word.count
        scratch.reserve(count)
        scratch.symbols.withUnsafeMutableBufferPointer { symbols in
            scratch.previous.withUnsafeMutableBufferPointer { previous in
                scratch.next.withUnsafeMutableBufferPointer { next in
                    scratch.queue.withUnsafeMutableBufferPointer { queue in
                        merge(word, symbols: symbols, previous: previous, next: next, queue: queue)
                    }
                }
            }
            // Position 0 is never merged away (merges absorb the right symbol), so the chain starts there.
            var position = 0
            while position < count {
                ids.append(Int(symbols[position]))
                position = Int(scratch.next[position])
            }
        }
    }

    /// Runs the merge loop; afterwards the surviving symbols, linked by `next` from position 0, are the ids.
    @inline(__always)
    private func merge(
        _ word: UnsafeBufferPointer<UInt8>, symbols: UnsafeMutableBufferPointer<Int32>,
        previous: UnsafeMutableBufferPointer<Int32>, next: UnsafeMutableBufferPointer<Int32>,
        queue: UnsafeMutableBufferPointer<UInt64>
    ) {
        let count = word.count
        for (position, byte) in word.enumerated() {
            symbols[position] = byteTokenIDs[Int(byte)]
            previous[position] = Int32(position - 1)
            next[position] = Int32(position + 1)
        }
        var queued = 0
        for position in 0..<(count - 1) {
            if let merge = merges.lookup(symbols[position], symbols[position + 1]) {
                Self.push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(position), onto: queue, count: &queued)
            }
        }
        while queued > 0 {
            let candidate = Self.popMinimum(queue, count: &queued)
            let position = Int(candidate & 0xFFFF_FFFF)
            let rank = candidate >> 32
            let left = symbols[position]
            guard left >= 0 else { continue }
            let rightPosition = Int(next[position])
            guard rightPosition < count else { continue }
            guard let merge = merges.lookup(left, symbols[rightPosition]), merge >> 32 == rank else {
                continue  // stale: the pair at `position` changed after this candidate was queued
            }
            let merged = Int32(truncatingIfNeeded: merge)
            symbols[position] = merged
            symbols[rightPosition] = -1
            let after = Int(next[rightPosition])
            next[position] = Int32(after)
            if after < count { previous[after] = Int32(position) }

            let before = Int(previous[position])
            if before >= 0, let merge = merges.lookup(symbols[before], merged) {
                Self.push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(before), onto: queue, count: &queued)
            }
            if after < count, let merge = merges.lookup(merged, symbols[after]) {
                Self.push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(position), onto: queue, count: &queued)
            }
        }
    }

    @inline(__always)
    private static func push(_ element: UInt64, onto heap: UnsafeMutableBufferPointer<UInt64>, count: inout Int) {
        var child = count
        count += 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[parent] > element else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = element
    }

    @inline(__always)
    private static func popMinimum(_ heap: UnsafeMutableBufferPointer<UInt64>, count: inout Int) -> UInt64 {
        let minimum = heap[0]
        count -= 1
        let last = heap[count]
        var parent = 0
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count, heap[child + 1] < heap[child] { child += 1 }
            guard heap[child] < last else { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
        return minimum
    }
}
