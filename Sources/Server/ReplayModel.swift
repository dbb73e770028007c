// ReplayModel: a language model that replays scripted completions, for `narwhal serve --replay FILE`.
//
// Client developers test agents against it, and our tests use it where a random-weight model cannot
// produce a tool call. Each script line is a raw completion as the model would write it — reasoning,
// `</think>`, answer, DSML tool calls, EOS — tokenized with the real tokenizer. The model's logits put
// all probability on the next scripted token, so the very same engine, sampler, detokenizer, completion
// parser, API layers, usage and streaming code run as with real weights; only the forward pass is
// scripted.
//
// How it knows where a completion is: the cache records the scripted tokens still to come. A forward
// call that feeds exactly the token the logits forced continues the script; anything else is prompt,
// after which the logits offer the first token of the next line. That line is taken (the line counter
// advances) only when its first token comes back, so prompt chunks and prefix-cache snapshots never
// consume lines. Lines are used in order, cycling; concurrent requests that start at the same moment may
// replay the same line.
//
// Reasoning is replayed only after a prompt that opened thinking (`…<｜Assistant｜><think>`); after a
// non-thinking prompt the part up to `</think>` is skipped, and after a thinking prompt a line without
// `</think>` gets one in front (no reasoning), so one script serves both modes. A line without EOS ends
// with one.

import Foundation
import Generation
import Tokenizers

/// Replays scripted completions as a ``LanguageModel``.
public final class ReplayModel: LanguageModel, @unchecked Sendable {
    // @unchecked: `nextLine` is guarded by `lock`; everything else is immutable.

    /// One sequence's position in the script.
    public final class Cache {
        /// The scripted tokens still to produce while a completion is under way.
        var remaining: [Int]?
        /// After a prompt: the line offered, and its tokens as they will be produced.
        var offered: (line: Int, tokens: [Int])?

        init() {}

        init(copying other: Cache) {
            remaining = other.remaining
            offered = other.offered
        }
    }

    public let vocabularySize: Int
    public let contextLimit: Int
    /// Seconds each forward pass takes, to simulate a model's speed (0 = as fast as possible).
    public let stepDelay: Double
    private let lines: [[Int]]
    private let eos: Int
    private let thinkingStart: Int?
    private let thinkingEnd: Int?
    private let lock = NSLock()
    private var nextLine = 0

    /// Replays `completions` (raw completion texts) in order, cycling.
    public init(completions: [String], tokenizer: BPETokenizer, contextLimit: Int, stepDelay: Double = 0) {
        vocabularySize = tokenizer.vocabularySize
        self.contextLimit = contextLimit
        self.stepDelay = stepDelay
        lines = completions.map { tokenizer.encode($0) }
        eos = tokenizer.eosTokenID
        thinkingStart = tokenizer.tokenID(DeepSeekV4ChatFormat.Token.thinkingStart)
        thinkingEnd = tokenizer.tokenID(DeepSeekV4ChatFormat.Token.thinkingEnd)
    }

    /// Reads a replay file: JSON Lines, each `{"text": "<raw completion>"}`; blank lines are skipped.
    public static func completions(contentsOf url: URL) throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ReplayError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        var completions: [String] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard let value = try? JSONValue(parsing: String(line)), let text = value.objectValue?["text"]?.stringValue else {
                throw ReplayError.badLine(path: url.path, line: number + 1)
            }
            completions.append(text)
        }
        guard !completions.isEmpty else { throw ReplayError.empty(path: url.path) }
        return completions
    }

    public func makeCache() -> Cache { Cache() }
    public func copy(_ cache: Cache) -> Cache { Cache(copying: cache) }

    /// The script itself: a saved position in it means nothing to another script.
    public var cacheIdentity: String? {
        "replay/v1\n" + lines.map { $0.map(String.init).joined(separator: ",") }.joined(separator: "\n")
    }

    /// remaining?, offered? as 64-bit little-endian integers: presence (0/1), then count and values.
    public func encode(_ cache: Cache) -> [UInt8] {
        var values: [Int] = []
        func list(_ tokens: [Int]?) {
            guard let tokens else { values.append(0); return }
            values += [1, tokens.count] + tokens
        }
        list(cache.remaining)
        values.append(cache.offered == nil ? 0 : 1)
        if let offered = cache.offered { values.append(offered.line) }
        list(cache.offered?.tokens)
        return values.flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } }
    }

    public func decodeCache(_ bytes: [UInt8]) throws -> Cache {
        guard bytes.count % 8 == 0 else { throw ReplayError.badCache }
        var values = stride(from: 0, to: bytes.count, by: 8).map { i in
            Int(truncatingIfNeeded: bytes[i..<(i + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }[...]
        func next() throws -> Int {
            guard let v = values.popFirst() else { throw ReplayError.badCache }
            return v
        }
        func list() throws -> [Int]? {
            switch try next() {
            case 0: return nil
            case 1:
                let n = try next()
                guard n >= 0, n <= values.count else { throw ReplayError.badCache }
                return try (0..<n).map { _ in try next() }
            default: throw ReplayError.badCache
            }
        }
        let cache = Cache()
        cache.remaining = try list()
        if try next() == 1 {
            let line = try next()
            guard lines.indices.contains(line), let tokens = try list() else { throw ReplayError.badCache }
            cache.offered = (line, tokens)
        }
        guard values.isEmpty else { throw ReplayError.badCache }
        return cache
    }

    public func forward(_ tokens: [Int], cache: Cache, progress: ((Int) -> Void)?) throws -> [Float] {
        if stepDelay > 0 { Thread.sleep(forTimeInterval: stepDelay) }
        return step(tokens, cache: cache, progress: progress)
    }

    /// One delay for the whole batch, as a real model's batched step reads its weights once for all
    /// sequences — so replay shows what `--parallel` buys.
    public func forwardBatch(_ batch: [(tokens: [Int], cache: Cache)]) throws -> [[Float]] {
        if stepDelay > 0 { Thread.sleep(forTimeInterval: stepDelay) }
        return batch.map { step($0.tokens, cache: $0.cache, progress: nil) }
    }

    private func step(_ tokens: [Int], cache: Cache, progress: ((Int) -> Void)?) -> [Float] {
        if tokens.count == 1, let remaining = cache.remaining, remaining.first == tokens[0] {
            cache.remaining = Array(remaining.dropFirst())
        } else if tokens.count == 1, let offered = cache.offered, offered.tokens.first == tokens[0] {
            take(offered.line)
            cache.remaining = Array(offered.tokens.dropFirst())
            cache.offered = nil
        } else {
            cache.remaining = nil
            cache.offered = offer(afterPromptEndingWith: tokens.last)
        }
        progress?(tokens.count)
        return logits(forcing: cache.remaining?.first ?? cache.offered?.tokens.first ?? eos)
    }

    /// The next line, as it will be produced after a prompt ending with `last`.
    private func offer(afterPromptEndingWith last: Int?) -> (line: Int, tokens: [Int])? {
        guard !lines.isEmpty else { return nil }
        lock.lock()
        let line = nextLine
        lock.unlock()
        var tokens = lines[line]
        if let end = thinkingEnd {
            let cut = tokens.firstIndex(of: end)
            if last != thinkingStart, let cut {
                tokens.removeSubrange(...cut)
            } else if last == thinkingStart, cut == nil {
                tokens.insert(end, at: 0)
            }
        }
        if tokens.last != eos { tokens.append(eos) }
        return (line, tokens)
    }

    /// Marks `line` used, unless a concurrent request already took it.
    private func take(_ line: Int) {
        lock.lock()
        if nextLine == line { nextLine = (line + 1) % lines.count }
        lock.unlock()
    }

    /// Logits that make `token` certain under any sampling settings the APIs allow.
    private func logits(forcing token: Int) -> [Float] {
        var logits = [Float](repeating: -10_000, count: vocabularySize)
        logits[token] = 0
        return logits
    }
}

/// Problems with a replay file.
public enum ReplayError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case badLine(path: String, line: Int)
    case empty(path: String)
    /// Bytes from the prefix cache that are not a replay position.
    case badCache

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read the replay file \(path): \(reason)"
        case .badLine(let path, let line):
            "\(path):\(line) is not a JSON object with a string \"text\"; each line must be {\"text\": \"<raw completion>\"}"
        case .empty(let path):
            "the replay file \(path) has no completions; add lines like {\"text\": \"Hello!<｜end▁of▁sentence｜>\"}"
        case .badCache: "the saved replay state is malformed"
        }
    }
}
