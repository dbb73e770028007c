// A hash map from byte strings to small integers, used for the vocabulary (token → id) and the per-call word cache.
//
// Why not `[String: Int]`: Swift String hashing and equality follow Unicode canonical equivalence, so every lookup
// of a non-ASCII key normalizes it first; that made vocabulary building the slowest part of loading, and it would
// also make two byte-different tokens that are canonically equivalent collide. Tokens are byte strings, so they
// are compared as bytes here. Keys live back to back in one arena; lookups hash the query bytes in place and
// allocate nothing.

import Foundation

/// Open-addressing map from byte strings to `Int32` values.
struct ByteStringTable: Sendable {
    private struct Entry: Sendable {
        var hash: UInt64
        var keyStart: Int32
        var keyCount: Int32
        var value: Int32
    }

    /// Index into `entries` per slot, or -1; the slot count is a power of two, at most half full.
    private var slots: [Int32]
    private var entries: [Entry] = []
    private var keyBytes: [UInt8] = []

    /// The number of keys stored.
    var count: Int { entries.count }

    /// An empty table sized for about `capacity` keys.
    init(capacity: Int = 512) {
        var slotCount = 16
        while slotCount < 2 * capacity { slotCount *= 2 }
        slots = [Int32](repeating: -1, count: slotCount)
        entries.reserveCapacity(capacity)
    }

    /// A hash of the bytes, eight at a time (mixing constants from SplitMix64).
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

    /// The value stored for `key`, if any; `hash` must be `ByteStringTable.hash(key)`.
    @inline(__always)
    func value(for key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int32? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { return nil }
            let entry = entries[index]
            if entry.hash == hash, Int(entry.keyCount) == key.count, keyMatches(entry, key) { return entry.value }
            slot = (slot + 1) & mask
        }
    }

    /// The value stored for `key`, if any.
    func value(for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        value(for: key, hash: Self.hash(key))
    }

    /// The value stored for the UTF-8 of `key`, if any.
    func value(for key: String) -> Int32? {
        var key = key
        return key.withUTF8 { value(for: $0) }
    }

    private func keyMatches(_ entry: Entry, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        key.isEmpty
            || keyBytes.withUnsafeBufferPointer { keys in
                memcmp(keys.baseAddress! + Int(entry.keyStart), key.baseAddress!, key.count) == 0
            }
    }

    /// Stores `value` for `key`, which must not be present yet; `hash` must be `ByteStringTable.hash(key)`.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, value: Int32) {
        if 2 * (entries.count + 1) > slots.count { grow() }
        place(Int32(entries.count), hash: hash)
        entries.append(
            Entry(hash: hash, keyStart: Int32(keyBytes.count), keyCount: Int32(key.count), value: value))
        keyBytes.append(contentsOf: key)
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
