// `--cache-dir` / `--cache-size` / `--cache-interval`: the prefix cache on disk for the generating commands
// (serve, chat, run). Without `--cache-dir` nothing is written to disk.

import ArgumentParser
import Foundation
import Generation
import Logging

struct PrefixCacheOptions: ParsableArguments {
    @Option(
        name: .customLong("cache-dir"),
        help: ArgumentHelp(
            "Save model states by token prefix in this directory and reuse them across requests and restarts.",
            discussion: "A prompt that starts with a saved prefix computes only the rest. Default: no disk cache.",
            valueName: "dir"))
    var cacheDirectory: String?

    @Option(
        name: .customLong("cache-size"),
        help: ArgumentHelp(
            "Most bytes the cache directory may hold (K, M, G, T suffixes); least recently used states are deleted first.",
            valueName: "size"))
    var cacheSize = "20G"

    @Option(
        name: .customLong("cache-interval"),
        help: ArgumentHelp("With --cache-dir: also save long prompts every this many tokens (0: only at prompt and answer ends).",
                           valueName: "tokens"))
    var cacheInterval = PrefixCache.defaultSnapshotInterval

    func validate() throws {
        do {
            _ = try PrefixCache.parseSize(cacheSize)
        } catch {
            throw ValidationError("--cache-size: \(error)")
        }
        guard cacheInterval >= 0 else { throw ValidationError("--cache-interval must be ≥ 0") }
    }

    /// The cache for `model`, or nil without `--cache-dir`.
    func open<Model: LanguageModel>(for model: Model, logger: Logger) throws -> PrefixCache? {
        guard let cacheDirectory else { return nil }
        let directory = URL(fileURLWithPath: (cacheDirectory as NSString).expandingTildeInPath, isDirectory: true)
        return try PrefixCache(
            directory: directory, budgetBytes: try PrefixCache.parseSize(cacheSize), snapshotInterval: cacheInterval,
            model: model, logger: logger)
    }

    /// Warnings (corrupt files) go to stderr, so they never mix with an answer on stdout.
    static var standardErrorLogger: Logger {
        var logger = Logger(label: "narwhal.prefix-cache") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .notice
        return logger
    }
}
