// PrefixCache: model states saved on disk, keyed by the token prefix they hold, so a prompt that repeats a
// long prefix — an agent resending its context every turn, a conversation resumed after a restart —
// restores the state and computes only what is new. DeepSeek's API does the same and bills the hits.
//
// One file per snapshot, named by SHA-256(model identity digest ‖ tokens as u32 LE), in `directory`:
//
//   offset  field
//   0       magic "NWPC"
//   4       format version u32 (1)
//   8       model identity digest (32 bytes, SHA-256 of `LanguageModel.cacheIdentity`)
//   40      token count u64
//   48      payload length u64
//   56      payload checksum u32 (the first 4 bytes of its SHA-256)
//   60      reserved u32 (0)
//   64      the tokens, u32 each — a hash collision or a renamed file is caught by comparing them
//   …       payload: the model's encoding of its cache (`LanguageModel.encode`)
//
// All integers little-endian. Files are written to a temp file in the same directory, fsynced and renamed
// into place, so a reader sees a whole file or none; a writer killed midway leaves only a `.tmp` file,
// removed at the next start once it is stale. Anything unexpected in a file — wrong magic, other model,
// size or tokens that do not match, bad checksum, a payload the model cannot decode — is logged, the file
// deleted (or, for another model's file, left alone) and the prefix recomputed: a file is never trusted.
//
// The index (key → token count, size, last use) lives in memory, rebuilt at start by reading the headers;
// last use is the file's mtime, refreshed on every hit, so LRU order survives restarts. After each write
// the least recently used files are deleted until the directory is within `budgetBytes`. Writes run on a
// background queue from an independent copy of the state, so generation does not wait for the disk.

import Crypto
import Foundation
import Logging

public enum PrefixCacheError: Error, CustomStringConvertible, Equatable {
    /// The model does not offer a cache identity and encoding.
    case notPersistable
    case directory(path: String, reason: String)
    case invalidSize(String)

    public var description: String {
        switch self {
        case .notPersistable: "this model's state cannot be saved to disk (it has no cache identity)"
        case .directory(let path, let reason): "cannot use '\(path)' as the prefix cache directory: \(reason)"
        case .invalidSize(let text):
            "'\(text)' is not a size; hint: a number of bytes with an optional K, M, G or T suffix (binary units), e.g. 20G or 512M"
        }
    }
}

public final class PrefixCache: @unchecked Sendable {
    // @unchecked: the index is guarded by `lock`; files are only written on `writes`.

    public let directory: URL
    public let budgetBytes: Int
    /// Long prompts are also saved every `snapshotInterval` tokens (0: only at prompt and answer ends).
    public let snapshotInterval: Int
    let identityDigest: [UInt8]
    private let logger: Logger

    struct Entry {
        var tokenCount: Int
        var bytes: Int
        var lastUse: Date
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// How many entries hold each token count: the prefix lengths worth hashing on a lookup.
    private var lengths: [Int: Int] = [:]
    private var totalBytes = 0
    private var pending: Set<String> = []
    private let writes = DispatchQueue(label: "narwhal.prefix-cache.writes")

    static let magic: [UInt8] = Array("NWPC".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64
    static let fileExtension = "nwpc"
    static let tempExtension = "tmp"
    /// A temp file untouched this long belongs to a writer that died (a live one writes continuously).
    static let staleTempAge: TimeInterval = 600

    public static let defaultBudget = 20 << 30
    public static let defaultSnapshotInterval = 4096

    /// Opens (creating if needed) the cache in `directory` for a model with `identity`, and indexes the
    /// files already there.
    public init(
        directory: URL, budgetBytes: Int = PrefixCache.defaultBudget, snapshotInterval: Int = PrefixCache.defaultSnapshotInterval,
        identity: String, logger: Logger = Logger(label: "narwhal.prefix-cache")
    ) throws {
        self.directory = directory
        self.budgetBytes = max(0, budgetBytes)
        self.snapshotInterval = max(0, snapshotInterval)
        identityDigest = Array(SHA256.hash(data: Array(identity.utf8)))
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw PrefixCacheError.directory(path: directory.path, reason: error.localizedDescription)
        }
        guard FileManager.default.isWritableFile(atPath: directory.path) else {
            throw PrefixCacheError.directory(path: directory.path, reason: "not writable")
        }
        try scan()
        lock.lock()
        evict()
        lock.unlock()
    }

    /// For `model`; throws ``PrefixCacheError/notPersistable`` when it has no cache identity.
    public convenience init<Model: LanguageModel>(
        directory: URL, budgetBytes: Int = PrefixCache.defaultBudget, snapshotInterval: Int = PrefixCache.defaultSnapshotInterval,
        model: Model, logger: Logger = Logger(label: "narwhal.prefix-cache")
    ) throws {
        guard let identity = model.cacheIdentity else { throw PrefixCacheError.notPersistable }
        try self.init(directory: directory, budgetBytes: budgetBytes, snapshotInterval: snapshotInterval, identity: identity, logger: logger)
    }

    /// Bytes of the indexed files.
    public var storedBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return totalBytes
    }

    /// Token counts of the indexed snapshots.
    public var storedPrefixLengths: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return entries.values.map(\.tokenCount).sorted()
    }

    /// Returns once every write queued so far is on disk (tests, shutdown).
    public func waitForWrites() { writes.sync {} }

    // MARK: Lookup

    /// The longest stored prefix of `prompt` with more than `floor` and at most `limit` tokens, as the
    /// model's encoded cache; invalid files met on the way are dropped.
    func load(prefixOf prompt: [Int], longerThan floor: Int, atMost limit: Int) -> (tokens: [Int], payload: [UInt8])? {
        for (key, count) in candidates(prompt, longerThan: floor, atMost: limit) {
            if let payload = readPayload(key: key, tokens: prompt[..<count]) { return (Array(prompt[..<count]), payload) }
        }
        return nil
    }

    /// Stored keys that are prefixes of `prompt`, longest first. The prompt is hashed once; the running hash
    /// is finished at every stored length.
    private func candidates(_ prompt: [Int], longerThan floor: Int, atMost limit: Int) -> [(key: String, count: Int)] {
        lock.lock()
        let wanted = Set(lengths.keys.filter { $0 > floor && $0 <= min(limit, prompt.count) })
        lock.unlock()
        guard let longest = wanted.max() else { return [] }
        var hash = keyHash()
        var keys: [(key: String, count: Int)] = []
        for i in 0..<longest {
            hash.update(token: prompt[i])
            if wanted.contains(i + 1) { keys.append((key: hash.finish().hexString, count: i + 1)) }
        }
        lock.lock()
        defer { lock.unlock() }
        return Array(keys.filter { entries[$0.key] != nil }.reversed())
    }

    private func keyHash() -> SHA256 {
        var hash = SHA256()
        hash.update(data: identityDigest)
        return hash
    }

    func key(_ tokens: some Sequence<Int>) -> String {
        var hash = keyHash()
        for t in tokens { hash.update(token: t) }
        return hash.finish().hexString
    }

    private func url(_ key: String) -> URL { directory.appendingPathComponent("\(key).\(Self.fileExtension)") }

    /// The payload of the file under `key`, checked against `tokens`; nil (and the file dropped) when
    /// anything is wrong with it.
    private func readPayload(key: String, tokens: ArraySlice<Int>) -> [UInt8]? {
        guard let handle = try? FileHandle(forReadingFrom: url(key)) else {
            // Deleted behind our back (another process's eviction): forget it quietly.
            forget(key)
            return nil
        }
        defer { try? handle.close() }
        switch Self.readHeader(handle, identity: identityDigest) {
        case .failure(let problem):
            discard(key, problem.description)
            return nil
        case .success(let header):
            guard header.tokens.elementsEqual(tokens) else {
                discard(key, "its tokens are not the prefix its name says (hash collision or renamed file)")
                return nil
            }
            // Straight into the array: snapshots of a real model are large, so no intermediate copies.
            guard let payload = Self.readExactly(handle.fileDescriptor, count: header.payloadLength) else {
                discard(key, PrefixCache.Problem.truncated.description)
                return nil
            }
            guard Self.checksum(payload) == header.checksum else {
                discard(key, "payload checksum mismatch (corrupted)")
                return nil
            }
            touch(key)
            return payload
        }
    }

    /// `count` bytes from the file's current offset, or nil when it ends early or cannot be read.
    private static func readExactly(_ fd: Int32, count: Int) -> [UInt8]? {
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var offset = 0
            while offset < count {
                let n = read(fd, buffer.baseAddress! + offset, count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                offset += n
            }
            failed = offset < count
            // Unread bytes are zeroed so the array is fully initialised either way.
            if failed { (buffer.baseAddress! + offset).initialize(repeating: 0, count: count - offset) }
            initialized = count
        }
        return failed ? nil : bytes
    }

    /// Marks a hit: last use now, in the index and as the file's mtime (the LRU order after a restart).
    private func touch(_ key: String) {
        let now = Date()
        lock.lock()
        entries[key]?.lastUse = now
        lock.unlock()
        try? FileManager.default.setAttributes([.modificationDate: now], ofItemAtPath: url(key).path)
    }

    /// Drops a file that cannot be used (the model could not decode it, or it failed a check).
    func discard(_ key: String, _ reason: String) {
        logger.warning(
            "prefix cache: ignoring and deleting \(url(key).lastPathComponent): \(reason); the prefix is recomputed",
            metadata: ["file": "\(url(key).path)"])
        forget(key)
        try? FileManager.default.removeItem(at: url(key))
    }

    private func forget(_ key: String) {
        lock.lock()
        defer { lock.unlock() }
        if let old = entries.removeValue(forKey: key) { removeLength(old) }
    }

    private func removeLength(_ entry: Entry) {
        totalBytes -= entry.bytes
        lengths[entry.tokenCount, default: 1] -= 1
        if lengths[entry.tokenCount] == 0 { lengths[entry.tokenCount] = nil }
    }

    // MARK: Store

    /// Saves the state holding `tokens` unless it is already stored: `encode` runs later on the write
    /// queue, so it must capture an independent copy of the state.
    func store(tokens: [Int], encode: @escaping () -> [UInt8]) {
        guard !tokens.isEmpty else { return }
        let key = self.key(tokens)
        lock.lock()
        if entries[key] != nil || pending.contains(key) {
            lock.unlock()
            touch(key)
            return
        }
        pending.insert(key)
        lock.unlock()
        let job = UncheckedSendable(value: encode)
        writes.async { [self] in
            save(key: key, tokens: tokens, payload: job.value())
            lock.lock()
            pending.remove(key)
            lock.unlock()
        }
    }

    private func save(key: String, tokens: [Int], payload: [UInt8]) {
        var header = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        u32(Self.version)
        header += identityDigest
        u64(UInt64(tokens.count))
        u64(UInt64(payload.count))
        u32(Self.checksum(payload))
        u32(0)
        for t in tokens { u32(UInt32(truncatingIfNeeded: t)) }
        let size = header.count + payload.count
        guard size <= budgetBytes else {
            logger.notice("prefix cache: a snapshot of \(tokens.count) tokens (\(size) bytes) is larger than the budget; not saved")
            return
        }
        let temp = directory.appendingPathComponent(".\(key).\(UUID().uuidString).\(Self.tempExtension)")
        do {
            try Self.writeDurably([header, payload], to: temp)
            guard rename(temp.path, url(key).path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            Self.syncDirectory(directory)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            logger.warning("prefix cache: could not write \(url(key).lastPathComponent): \(error)")
            return
        }
        lock.lock()
        defer { lock.unlock() }
        if let old = entries.removeValue(forKey: key) { removeLength(old) }
        entries[key] = Entry(tokenCount: tokens.count, bytes: size, lastUse: Date())
        lengths[tokens.count, default: 0] += 1
        totalBytes += size
        evict()
    }

    /// Writes `parts` to a new file and fsyncs it, so the rename that follows publishes complete bytes.
    private static func writeDurably(_ parts: [[UInt8]], to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        for part in parts {
            try part.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                    }
                    offset += n
                }
            }
        }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Makes the rename itself durable (best effort: some file systems refuse fsync on directories).
    private static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Deletes least recently used files until the stored bytes fit the budget (called with `lock` held).
    private func evict() {
        guard totalBytes > budgetBytes else { return }
        for (key, entry) in entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
            guard totalBytes > budgetBytes else { break }
            entries[key] = nil
            removeLength(entry)
            try? FileManager.default.removeItem(at: url(key))
            logger.debug("prefix cache: evicted \(key) (\(entry.tokenCount) tokens, \(entry.bytes) bytes)")
        }
    }

    // MARK: Startup scan

    private func scan() throws {
        let fm = FileManager.default
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PrefixCacheError.directory(path: directory.path, reason: error.localizedDescription)
        }
        for name in names {
            let file = directory.appendingPathComponent(name)
            let attributes = try? fm.attributesOfItem(atPath: file.path)
            let modified = attributes?[.modificationDate] as? Date ?? .distantPast
            if name.hasSuffix("." + Self.tempExtension) {
                // Left by a writer that was killed; a young one may belong to a live process.
                if Date().timeIntervalSince(modified) > Self.staleTempAge {
                    logger.notice("prefix cache: removing \(name), left over from an interrupted write")
                    try? fm.removeItem(at: file)
                }
                continue
            }
            guard name.hasSuffix("." + Self.fileExtension) else { continue }
            let key = String(name.dropLast(Self.fileExtension.count + 1))
            switch Self.readHeader(file, identity: identityDigest) {
            case .failure(.otherModel), .failure(.unsupportedVersion):
                // Another model's (or another build's) cache may share the directory: leave its files alone.
                logger.debug("prefix cache: \(name) belongs to another model or format version; ignored")
            case .failure(let problem):
                discard(key, problem.description)
            case .success(let header):
                guard self.key(header.tokens) == key else {
                    discard(key, "its tokens do not hash to its name")
                    continue
                }
                let size = header.payloadOffset + header.payloadLength
                entries[key] = Entry(tokenCount: header.tokens.count, bytes: size, lastUse: modified)
                lengths[header.tokens.count, default: 0] += 1
                totalBytes += size
            }
        }
    }

    // MARK: Header

    enum Problem: Error, CustomStringConvertible {
        case notACacheFile
        case unsupportedVersion(UInt32)
        case otherModel
        case truncated
        case sizeMismatch(expected: Int, found: Int)

        var description: String {
            switch self {
            case .notACacheFile: "not a prefix cache file (bad magic)"
            case .unsupportedVersion(let v): "format version \(v), this build reads \(PrefixCache.version)"
            case .otherModel: "written for another model (identity differs)"
            case .truncated: "truncated header"
            case .sizeMismatch(let e, let f): "\(f) bytes, the header says \(e) (truncated or extended)"
            }
        }
    }

    struct Header {
        var tokens: [Int]
        var payloadLength: Int
        var checksum: UInt32
        var payloadOffset: Int
    }

    /// Checks a file's header (without reading the payload) against its size.
    private static func readHeader(_ url: URL, identity: [UInt8]) -> Result<Header, Problem> {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return .failure(.truncated) }
        defer { try? handle.close() }
        return readHeader(handle, identity: identity)
    }

    /// Reads and checks the header of an open file, leaving the handle at the payload.
    private static func readHeader(_ handle: FileHandle, identity: [UInt8]) -> Result<Header, Problem> {
        let fileSize = Int(clamping: (try? handle.seekToEnd()) ?? 0)
        guard (try? handle.seek(toOffset: 0)) != nil,
            let fixed = try? handle.read(upToCount: headerSize), fixed.count == headerSize
        else { return .failure(.truncated) }
        let fixedBytes = [UInt8](fixed)
        let count = Int(clamping: load64(fixedBytes, 40))
        guard count <= (fileSize - headerSize) / 4 else {
            // Still report another model's or an unknown file as such rather than as truncated.
            return parse(fixedBytes, identity: identity).flatMap { _ in .failure(.truncated) }
        }
        let tokenData = count == 0 ? Data() : ((try? handle.read(upToCount: 4 * count)) ?? Data())
        return parse(fixedBytes + [UInt8](tokenData), identity: identity, fileSize: fileSize)
    }

    /// Parses a header (the fixed part and the tokens) and checks it against the size of its file.
    static func parse(_ bytes: [UInt8], identity: [UInt8], fileSize: Int? = nil) -> Result<Header, Problem> {
        guard bytes.count >= headerSize else { return .failure(bytes.starts(with: magic) || bytes.count < 4 ? .truncated : .notACacheFile) }
        guard bytes.starts(with: magic) else { return .failure(.notACacheFile) }
        let version = UInt32(truncatingIfNeeded: load64(bytes, 4) & 0xFFFF_FFFF)
        guard version == Self.version else { return .failure(.unsupportedVersion(version)) }
        guard Array(bytes[8..<40]) == identity else { return .failure(.otherModel) }
        let count = Int(clamping: load64(bytes, 40))
        let payloadLength = Int(clamping: load64(bytes, 48))
        let checksum = UInt32(truncatingIfNeeded: load64(bytes, 56) & 0xFFFF_FFFF)
        guard count <= (bytes.count - headerSize) / 4 else { return .failure(.truncated) }
        let payloadOffset = headerSize + 4 * count
        let (expected, overflow) = payloadOffset.addingReportingOverflow(payloadLength)
        let found = fileSize ?? bytes.count
        guard !overflow, expected == found else { return .failure(.sizeMismatch(expected: overflow ? Int.max : expected, found: found)) }
        let tokens = (0..<count).map { Int(UInt32(truncatingIfNeeded: load64(bytes, headerSize + 4 * $0) & 0xFFFF_FFFF)) }
        return .success(Header(tokens: tokens, payloadLength: payloadLength, checksum: checksum, payloadOffset: payloadOffset))
    }

    /// Little-endian u64 at `offset` (reads fewer bytes at the end of the array, as zeros).
    private static func load64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() where offset + i < bytes.count { v = v << 8 | UInt64(bytes[offset + i]) }
        return v
    }

    // MARK: Sizes

    /// Parses "20G", "512M", "1.5G", "4096" (bytes; K, M, G, T are binary units; a trailing "B"/"iB" is allowed).
    public static func parseSize(_ text: String) throws -> Int {
        var s = text.trimmingCharacters(in: .whitespaces).uppercased()
        if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
        let units: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
        var factor: Double = 1
        if let last = s.last, let unit = units[last] {
            factor = unit
            s.removeLast()
        }
        guard let value = Double(s), value.isFinite, value >= 0, value * factor < 9e18 else {
            throw PrefixCacheError.invalidSize(text)
        }
        return Int(value * factor)
    }
}

/// Hands a value to another thread when the code guarantees no one else touches it (here: an encoding
/// closure over a snapshot copy that only the write queue reads).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
