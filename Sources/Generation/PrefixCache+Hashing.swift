// Hashing for the prefix cache, on swift-crypto's SHA-256: file keys are a running hash of the model identity
// and the tokens (u32 little-endian each), finished at every stored prefix length of a prompt — `finalize`
// works on a copy, so the hash goes on — and the payload checksum is the first 4 bytes of its digest.

import Crypto

extension SHA256 {
    mutating func update(token: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: token).littleEndian) { update(bufferPointer: $0) }
    }

    /// The digest of what was added so far.
    func finish() -> [UInt8] { Array(finalize()) }
}

extension PrefixCache {
    static func checksum(_ payload: [UInt8]) -> UInt32 {
        SHA256.hash(data: payload).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian }
    }
}

extension Array where Element == UInt8 {
    var hexString: String { map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
