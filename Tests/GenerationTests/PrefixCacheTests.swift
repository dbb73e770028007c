// The prefix cache on disk: exact restores of the real model's state, hits across restarts, files that
// must not be trusted (corrupted, truncated, another model's), LRU eviction under the budget, concurrent
// writers and leftovers of killed writers.

import DeepSeekV4
import Foundation
import Logging
import Testing
import Tokenizers

@testable import Generation

/// A fresh, empty directory under the temp directory, removed by `cleanup()`.
struct TempDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-prefix-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }

    /// The cache files (not temp files) in the directory.
    var cacheFiles: [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "nwpc" }
    }

    var allNames: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted() }
}

let quietLogger: Logger = {
    var logger = Logger(label: "narwhal.prefix-cache.test")
    logger.logLevel = .critical
    return logger
}()

@Suite("Prefix cache: the tiny model's state on disk")
struct KVCacheSerializationTests {
    static let model = try! DeepSeekV4Model(directory: TestFiles.root.appendingPathComponent("tiny-flash"))

    /// Tokens of a test sequence (the fixture's vocabulary is 1,024).
    static func tokens(_ n: Int, seed: Int = 7) -> [Int] { (0..<n).map { ($0 * 131 + seed * 17 + 3) % 1000 + 2 } }

    /// Logits of `continuation` decoded one token at a time after `prefix`, on one uninterrupted cache.
    static func uninterrupted(_ prefix: [Int], _ continuation: [Int]) throws -> [[Float]] {
        let cache = model.makeCache()
        _ = try model.forward(prefix, cache: cache, progress: nil)
        return try continuation.map { try model.forward([$0], cache: cache, progress: nil) }
    }

    /// The fixture's compressed layers have ratios 4 and 16 (window 8): prefixes ending inside a block of
    /// both, on a ratio-4 boundary inside a ratio-16 block, on both boundaries, and after several blocks.
    @Test("decoding after a restored snapshot gives exactly the logits of an uninterrupted run", arguments: [3, 6, 12, 16, 18, 32, 37])
    func exactRestore(prefixLength: Int) throws {
        let all = Self.tokens(prefixLength + 5)
        let prefix = Array(all.prefix(prefixLength)), continuation = Array(all.dropFirst(prefixLength))
        let expected = try Self.uninterrupted(prefix, continuation)

        let cache = Self.model.makeCache()
        _ = try Self.model.forward(prefix, cache: cache, progress: nil)
        let bytes = cache.encoded()
        let restored = try Self.model.decodeKVCache(bytes)
        #expect(restored.position == prefixLength)
        #expect(restored.encoded() == bytes)
        let logits = try continuation.map { try Self.model.forward([$0], cache: restored, progress: nil) }
        #expect(logits == expected)
    }

    @Test("bytes that are not this model's cache throw a typed error, never trap")
    func malformed() throws {
        let cache = Self.model.makeCache()
        _ = try Self.model.forward(Self.tokens(21), cache: cache, progress: nil)
        let bytes = cache.encoded()
        // Every truncation.
        for n in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
            #expect(throws: KVCacheDecodingError.self) { try Self.model.decodeKVCache(Array(bytes.prefix(n))) }
        }
        #expect(throws: KVCacheDecodingError.trailingBytes(1)) { try Self.model.decodeKVCache(bytes + [0]) }
        var magic = bytes
        magic[0] = 0
        #expect(throws: KVCacheDecodingError.notACache) { try Self.model.decodeKVCache(magic) }
        var version = bytes
        version[4] = 9
        #expect(throws: KVCacheDecodingError.unsupportedVersion(9)) { try Self.model.decodeKVCache(version) }
        var layers = bytes
        layers[16] = 3
        #expect(throws: KVCacheDecodingError.layerCount(expected: 7, found: 3)) { try Self.model.decodeKVCache(layers) }
        // A position that disagrees with the number of compressed entries.
        var position = bytes
        position[8] = 40
        #expect(throws: KVCacheDecodingError.self) { try Self.model.decodeKVCache(position) }
        // Random bytes in every field position.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var flipped = bytes
            let i = Int.random(in: 0..<min(flipped.count, 2048), using: &rng)
            flipped[i] ^= UInt8.random(in: 1...255, using: &rng)
            _ = try? Self.model.decodeKVCache(flipped)
        }
    }

    @Test("the cache identity changes with the activation quantisation")
    func identity() throws {
        let model = try DeepSeekV4Model(directory: TestFiles.root.appendingPathComponent("tiny-flash"))
        let quantized = model.kvCacheIdentity
        model.quantizeActivations = false
        #expect(model.kvCacheIdentity != quantized)
        #expect(quantized.contains("model-00001-of-00002.safetensors"))
        #expect(quantized.contains("\"compress_ratios\""))
    }

    /// Through the engine: a new engine over the same directory (a restart) restores the state from disk
    /// and its greedy answer equals the answer of a fresh engine without any cache.
    @Test("a restart over the same cache directory resumes from disk with the same greedy answer")
    func engineRestart() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let prompt = Self.tokens(37)
        let fresh = try await TinyModelGenerationTests.greedyIDs(Engine(model: Self.model, tokenizer: TestFiles.tokenizer), prompt, 4)

        let first = Engine(
            model: Self.model, tokenizer: TestFiles.tokenizer,
            prefixCache: try PrefixCache(directory: dir.url, snapshotInterval: 16, model: Self.model, logger: quietLogger))
        #expect(try await TinyModelGenerationTests.greedyIDs(first, prompt, 4) == fresh)
        first.prefixCache?.waitForWrites()
        #expect(first.prefixCache?.storedPrefixLengths.contains(36) == true)
        #expect(first.prefixCache?.storedPrefixLengths.contains(16) == true)

        let cache = try PrefixCache(directory: dir.url, snapshotInterval: 16, model: Self.model, logger: quietLogger)
        let second = Engine(model: Self.model, tokenizer: TestFiles.tokenizer, prefixCache: cache)
        let (ids, usage) = try await Self.greedy(second, prompt, 4)
        #expect(ids == fresh)
        #expect(usage?.cachedPromptTokens == 36)

        // A longer prompt sharing the first 20 tokens starts from the interval snapshot at 16.
        let other = Array(prompt.prefix(20)) + Self.tokens(9, seed: 3)
        let expected = try await TinyModelGenerationTests.greedyIDs(Engine(model: Self.model, tokenizer: TestFiles.tokenizer), other, 3)
        let third = Engine(
            model: Self.model, tokenizer: TestFiles.tokenizer,
            prefixCache: try PrefixCache(directory: dir.url, snapshotInterval: 16, model: Self.model, logger: quietLogger))
        let (otherIDs, otherUsage) = try await Self.greedy(third, other, 3)
        #expect(otherIDs == expected)
        #expect(otherUsage?.cachedPromptTokens == 16)
    }

    static func greedy(_ engine: Engine<DeepSeekV4Model>, _ prompt: [Int], _ n: Int) async throws -> ([Int], Usage?) {
        var ids: [Int] = []
        var usage: Usage?
        let options = GenerationOptions(sampling: SamplingParameters(temperature: 0, logprobs: 0), maxTokens: n)
        for try await e in engine.generate(prompt: prompt, thinkingMode: .chat, options: options, session: nil) {
            if case .logprobs(let l) = e { ids.append(l.chosen.id) }
            if case .finish(_, let u) = e { usage = u }
        }
        return (ids, usage)
    }
}

@Suite("Prefix cache: store and engine")
struct PrefixCacheTests {
    let tokenizer = TestFiles.tokenizer

    func conversation(_ text: String) -> Conversation {
        Conversation(messages: [Message(role: .user, text: text)], thinkingMode: .chat)
    }

    /// An engine over a fresh FakeModel (same identity each time) scripted to answer `answer`, with the
    /// prefix cache in `dir`.
    func engine(_ dir: TempDirectory, identity: String = "fake/v1", interval: Int = 0, budget: Int = 1 << 30) throws
        -> (FakeModel, Engine<FakeModel>)
    {
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        model.identity = identity
        let cache = try PrefixCache(directory: dir.url, budgetBytes: budget, snapshotInterval: interval, model: model, logger: quietLogger)
        let engine = Engine(model: model, tokenizer: tokenizer, prefixCache: cache)
        let c = conversation("Tell me about the sea, at length and with many details.")
        model.script = (try engine.promptTokens(c), tokenizer.encode("The sea is wide.<｜end▁of▁sentence｜>"))
        return (model, engine)
    }

    func ask(_ engine: Engine<FakeModel>) async throws -> (String, Usage) {
        let t = try await Transcript(
            engine.generate(conversation("Tell me about the sea, at length and with many details."), options: GenerationOptions(), session: nil))
        engine.prefixCache?.waitForWrites()
        return (t.content, try #require(t.finish?.1))
    }

    @Test("a new engine over the same directory reports the prompt as cached on its first request")
    func restartHit() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let (_, first) = try engine(dir)
        let (answer, usage) = try await ask(first)
        #expect(answer == "The sea is wide.")
        #expect(usage.cachedPromptTokens == 0)

        let (model, second) = try engine(dir)
        let (again, hit) = try await ask(second)
        #expect(again == answer)
        #expect(hit.cachedPromptTokens == hit.promptTokens - 1)
        // Only the last prompt token and the answer (its EOS never fed) were computed.
        #expect(model.computed == 1 + hit.completionTokens - 1)
    }

    @Test("a corrupted file is ignored, deleted and recomputed (found at start or at use)")
    func corrupted() async throws {
        for atUse in [false, true] {
            let dir = try TempDirectory()
            defer { dir.cleanup() }
            let (_, first) = try engine(dir)
            let (answer, _) = try await ask(first)
            let corrupt = {
                for file in dir.cacheFiles {
                    var bytes = try [UInt8](Data(contentsOf: file))
                    bytes[bytes.count - 2] ^= 0x40  // in the payload: only the checksum notices
                    try Data(bytes).write(to: file)
                }
            }
            if !atUse { try corrupt() }
            let (model, second) = try engine(dir)
            if atUse { try corrupt() }
            let (again, usage) = try await ask(second)
            #expect(again == answer)
            #expect(usage.cachedPromptTokens == 0)
            #expect(model.computed == usage.promptTokens + usage.completionTokens - 1)
        }
    }

    @Test("a truncated file is ignored and deleted at start")
    func truncated() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let (_, first) = try engine(dir)
        let (answer, _) = try await ask(first)
        let files = dir.cacheFiles
        #expect(files.count == 2)  // end of the prompt, end of the answer
        for file in files {
            let bytes = try Data(contentsOf: file)
            try bytes.prefix(bytes.count - 3).write(to: file)
        }
        let (_, second) = try engine(dir)
        #expect(dir.cacheFiles.isEmpty)
        let (again, usage) = try await ask(second)
        #expect(again == answer)
        #expect(usage.cachedPromptTokens == 0)
    }

    @Test("another model's file is ignored, even under this model's name, and left alone")
    func otherModel() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let (_, first) = try engine(dir, identity: "fake/other-weights")
        let (answer, _) = try await ask(first)
        let foreign = try #require(dir.cacheFiles.first)
        // Copy it to every name this model would look up.
        let (_, probe) = try engine(dir)
        let prompt = try probe.promptTokens(conversation("Tell me about the sea, at length and with many details."))
        let ownName = probe.prefixCache!.key(prompt.dropLast()) + ".nwpc"
        try FileManager.default.copyItem(at: foreign, to: dir.url.appendingPathComponent(ownName))

        let (model, second) = try engine(dir)
        #expect(second.prefixCache?.storedPrefixLengths.isEmpty == true)
        let (again, usage) = try await ask(second)
        #expect(again == answer)
        #expect(usage.cachedPromptTokens == 0)
        #expect(model.computed == usage.promptTokens + usage.completionTokens - 1)
        #expect(FileManager.default.fileExists(atPath: foreign.path))
    }

    @Test("a model that cannot decode a stored state recomputes and drops the file")
    func undecodable() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let cache = try PrefixCache(directory: dir.url, identity: "fake/v1 vocab=\(tokenizer.vocabularySize)", logger: quietLogger)
        let prompt = [5, 6, 7, 8, 9]
        cache.store(tokens: Array(prompt.dropLast())) { [1, 2, 3] }  // not a multiple of 4: FakeModel refuses it
        cache.waitForWrites()
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        let session = Session(batcher: Batcher(model: model), diskCache: cache)
        let result = try await session.sync(prompt)
        #expect(result.reused == 0)
        #expect(result.logits == model.logits(for: prompt))
        cache.waitForWrites()
        #expect(cache.storedPrefixLengths == [4])  // rewritten from the recomputed state
    }

    @Test("long prompts are saved every interval, and a prompt sharing part of one resumes at the last interval")
    func intervals() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let model = FakeModel()
        let cache = try PrefixCache(directory: dir.url, snapshotInterval: 8, model: model, logger: quietLogger)
        let s = Session(batcher: Batcher(model: model), diskCache: cache)
        let prompt = Array(1...30)
        var reports: [Int] = []
        _ = try await s.sync(prompt) { done, total in
            #expect(total == 30)
            reports.append(done)
        }
        #expect(reports.last == 30 && reports == reports.sorted())
        cache.waitForWrites()
        #expect(cache.storedPrefixLengths == [8, 16, 24, 29])

        let other = FakeModel()
        let fresh = Session(batcher: Batcher(model: other), diskCache: cache)
        let next = Array(1...20) + [40, 41, 42]
        let result = try await fresh.sync(next)
        #expect(result.reused == 16)
        #expect(other.computed == next.count - 16)
        #expect(result.logits == other.logits(for: next))
    }

    @Test("memory and disk: the longer reuse wins")
    func memoryVersusDisk() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let model = FakeModel()
        let cache = try PrefixCache(directory: dir.url, snapshotInterval: 0, model: model, logger: quietLogger)
        // Another process saved a long prefix; this session holds a shorter one in memory.
        cache.store(tokens: Array(1...20)) { model.encode({ let c = FakeModel.Cache(); c.tokens = Array(1...20); return c }()) }
        cache.waitForWrites()
        let withDisk = Session(batcher: Batcher(model: model), diskCache: cache)
        _ = try await withDisk.sync(Array(1...5))
        let longer = try await withDisk.sync(Array(1...25))
        #expect(longer.reused == 20)
        #expect(longer.logits == model.logits(for: Array(1...25)))
        // Held tokens longer than the disk's: memory wins, nothing read.
        let extended = try await withDisk.sync(Array(1...27))
        #expect(extended.reused == 25)
    }

    @Test("eviction keeps the directory within the budget, least recently used first")
    func eviction() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let payload = [UInt8](repeating: 7, count: 1000)
        let fileSize = PrefixCache.headerSize + 4 * 10 + payload.count
        let cache = try PrefixCache(directory: dir.url, budgetBytes: 3 * fileSize, identity: "test", logger: quietLogger)
        let a = Array(0..<10), b = Array(10..<20), c = Array(20..<30), d = Array(30..<40)
        for t in [a, b, c] {
            cache.store(tokens: t) { payload }
            cache.waitForWrites()
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(cache.storedBytes == 3 * fileSize)
        // Using `a` makes `b` the least recently used.
        #expect(cache.load(prefixOf: a + [99], longerThan: 0, atMost: 10)?.payload == payload)
        Thread.sleep(forTimeInterval: 0.01)
        cache.store(tokens: d) { payload }
        cache.waitForWrites()
        #expect(cache.storedBytes <= 3 * fileSize)
        #expect(cache.load(prefixOf: b, longerThan: 0, atMost: 10) == nil)
        #expect(Set(cache.storedPrefixLengths) == [10])
        #expect(dir.cacheFiles.count == 3)
        #expect(dir.cacheFiles.reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) } <= 3 * fileSize)

        // After a restart the order comes from the files' mtimes: a smaller budget drops `c` (then `a`) first.
        let reopened = try PrefixCache(directory: dir.url, budgetBytes: 2 * fileSize, identity: "test", logger: quietLogger)
        #expect(reopened.storedBytes == 2 * fileSize)
        #expect(reopened.load(prefixOf: c, longerThan: 0, atMost: 10) == nil)
        #expect(reopened.load(prefixOf: a, longerThan: 0, atMost: 10)?.payload == payload)
        #expect(reopened.load(prefixOf: d, longerThan: 0, atMost: 10)?.payload == payload)

        // A snapshot larger than the whole budget is not written.
        let tiny = try PrefixCache(directory: dir.url, budgetBytes: 100, identity: "other", logger: quietLogger)
        tiny.store(tokens: a) { payload }
        tiny.waitForWrites()
        #expect(tiny.storedBytes == 0)
    }

    static func payload(_ tokens: [Int]) -> [UInt8] { (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 31 + tokens.count) } }

    @Test("concurrent writers of the same keys leave only complete, valid files")
    func concurrentWriters() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let writers = try (0..<4).map { _ in try PrefixCache(directory: dir.url, identity: "test", logger: quietLogger) }
        let keys = (0..<12).map { k in Array(0..<(k + 1)).map { $0 * 3 + k } }
        DispatchQueue.concurrentPerform(iterations: writers.count * 3) { i in
            let writer = writers[i % writers.count]
            for key in keys.shuffled() { writer.store(tokens: key) { Self.payload(key) } }
        }
        for w in writers { w.waitForWrites() }
        #expect(!dir.allNames.contains { $0.hasSuffix(".tmp") })
        let reader = try PrefixCache(directory: dir.url, identity: "test", logger: quietLogger)
        #expect(reader.storedPrefixLengths == Array(1...12))
        for key in keys {
            #expect(reader.load(prefixOf: key, longerThan: 0, atMost: key.count)?.payload == Self.payload(key))
        }
    }

    @Test("a temp file left by a killed writer is ignored, and removed at start once stale")
    func leftoverTempFiles() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let stale = dir.url.appendingPathComponent(".abc.1234.tmp")
        let young = dir.url.appendingPathComponent(".def.5678.tmp")
        try Data(PrefixCache.magic + [1, 0, 0]).write(to: stale)
        try Data(PrefixCache.magic).write(to: young)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: stale.path)
        let cache = try PrefixCache(directory: dir.url, identity: "test", logger: quietLogger)
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: young.path))
        #expect(cache.storedPrefixLengths.isEmpty)
    }

    @Test("a directory that cannot be used is a typed error")
    func badDirectory() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let file = dir.url.appendingPathComponent("plain-file")
        try Data([1]).write(to: file)
        #expect(throws: PrefixCacheError.self) { try PrefixCache(directory: file, identity: "test", logger: quietLogger) }
        #expect(throws: PrefixCacheError.notPersistable) {
            try PrefixCache(directory: dir.url, model: NoIdentityModel(), logger: quietLogger)
        }
    }

    @Test("sizes parse with binary units and bad sizes are errors")
    func sizes() throws {
        #expect(try PrefixCache.parseSize("20G") == 20 << 30)
        #expect(try PrefixCache.parseSize("512M") == 512 << 20)
        #expect(try PrefixCache.parseSize("1.5k") == 1536)
        #expect(try PrefixCache.parseSize("4096") == 4096)
        #expect(try PrefixCache.parseSize("2GiB") == 2 << 30)
        for bad in ["", "G", "-1M", "twelve", "1e30T"] {
            #expect(throws: PrefixCacheError.invalidSize(bad)) { try PrefixCache.parseSize(bad) }
        }
    }
}

/// Sizes and times of saving and restoring the tiny model's state at several contexts (a synthetic cache of
/// the real shapes). Not a test of speed — run it on purpose: NARWHAL_MEASURE_PREFIX_CACHE=1.
@Suite("Prefix cache: measurements", .enabled(if: ProcessInfo.processInfo.environment["NARWHAL_MEASURE_PREFIX_CACHE"] != nil))
struct PrefixCacheMeasurements {
    @Test("snapshot size, write and read times of the tiny model")
    func measure() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let model = KVCacheSerializationTests.model
        let cache = try PrefixCache(directory: dir.url, model: model, logger: quietLogger)
        for context in [256, 1024, 4096] {
            let kv = model.syntheticCache(context: context)
            let tokens = (0..<context).map { $0 % 1000 }
            var clock = ContinuousClock.now
            let bytes = kv.encoded()
            let encode = ContinuousClock.now - clock
            clock = .now
            cache.store(tokens: tokens) { bytes }
            cache.waitForWrites()
            let write = ContinuousClock.now - clock
            clock = .now
            let loaded = try #require(cache.load(prefixOf: tokens + [1], longerThan: 0, atMost: context))
            let read = ContinuousClock.now - clock
            clock = .now
            let restored = try model.decodeKVCache(loaded.payload)
            let decode = ContinuousClock.now - clock
            #expect(restored.encoded() == bytes)
            print("prefix cache, tiny model, context \(context): payload \(bytes.count) B, file \(cache.storedBytes) B total; "
                + "encode \(encode), write+fsync \(write), read+check \(read), decode \(decode)")
        }
    }
}

/// A model that says nothing about persistence: its caches are never saved.
final class NoIdentityModel: LanguageModel, @unchecked Sendable {
    let vocabularySize = 10
    let contextLimit = 100
    func makeCache() -> Int { 0 }
    func copy(_ cache: Int) -> Int { cache }
    func forward(_ tokens: [Int], cache: Int, progress: ((Int) -> Void)?) throws -> [Float] { [Float](repeating: 0, count: 10) }
}
