// A cache from pre-token bytes to their BPE ids, for the duration of one `encode` call.
//
// Natural text repeats its words: in a long prompt most pre-tokens ("Ġthe", "Ġ=", "ĊĠĠĠ") have been seen before,
// and looking them up is far cheaper than merging again. Keys are byte slices of the input, stored once in an
// arena; lookups hash the slice in place and allocate nothing. The cache lives only as long as one call, so
// `BPETokenizer` stays immutable and freely shareable between threads, and memory is bounded by the input.

import Foundation

/// Open-addressing map from byte strings to id sequences.
struct WordCache {
    /// Words longer than this are rare and seldom repeat (long identifiers, base64); they are not cached.
    static let maximumWordLength = 128

    private struct Entry {
        var hash: UInt64
        var keyStart: Int32
        var keyCount: Int32
        var idsStart: Int32
        var idsCount: Int32
    }

    /// Index into `entries` per slot, or -1.
    private var slots = [Int32](repeating: -1, count: 1024)
    private var entries: [Entry] = []
    private var keyBytes: [UInt8] = []
    /// The cached ids, one range per entry.
    private(set) var ids: [Int] = []

    /// A hash of the bytes, eight at a time (mixing from SplitMix64).
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        let raw = UnsafeRawBufferPointer(bytes)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 31
            offset += 8
        }
        var tail: UInt64 = 0
        while offset < bytes.count {
            tail = tail << 8 | UInt64(bytes[offset])
            offset += 1
        }
        hash = (hash ^ tail) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 29)
    }

    /// The range in `ids` of the cached encoding of `word`, if any.
    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Range<Int>? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { return nil }
            let entry = entries[index]
            if entry.hash == hash, Int(entry.keyCount) == word.count, keyMatches(entry, word) {
                return Int(entry.idsStart)..<Int(entry.idsStart + entry.idsCount)
            }
            slot = (slot + 1) & mask
        }
    }

    private func keyMatches(_ entry: Entry, _ word: UnsafeBufferPointer<UInt8>) -> Bool {
        keyBytes.withUnsafeBufferPointer { keys in
            memcmp(keys.baseAddress! + Int(entry.keyStart), word.baseAddress!, word.count) == 0
        }
    }

    /// Stores the encoding of `word` (not already present).
    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids wordIDs: ArraySlice<Int>) {
        if 2 * (entries.count + 1) > slots.count { grow() }
        let entry = Entry(
            hash: hash, keyStart: Int32(keyBytes.count), keyCount: Int32(word.count), idsStart: Int32(ids.count),
            idsCount: Int32(wordIDs.count))
        keyBytes.append(contentsOf: word)
        ids.append(contentsOf: wordIDs)
        place(Int32(entries.count), hash: hash)
        entries.append(entry)
    }

    private mutating func place(_ index: Int32, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = index
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        for (index, entry) in entries.enumerated() { place(Int32(index), hash: entry.hash) }
    }
}
