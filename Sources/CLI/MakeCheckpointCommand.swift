// `narwhal make-checkpoint`: writes a random-weight DeepSeek V4 checkpoint in the official layout, for
// loading, speed and plumbing tests without downloading 160 GB. The weights are random: the model gives
// well-scaled, varied logits and knows nothing.

import ArgumentParser
import DeepSeekV4
import Foundation
import Weights

extension CheckpointPreset: ExpressibleByArgument {}

struct MakeCheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-checkpoint",
        abstract: "Generate a random-weight DeepSeek V4 checkpoint in the official layout (a test model).",
        discussion: """
            flash and pro are the official configurations, truncated by --layers/--experts/--vocab (the first \
            layers of the real schedule are kept, plus the MTP block). tiny is a 75 MB model with the full \
            vocabulary, Narwhal's default model. Same options and seed give byte-identical files.
            """)

    @Option(help: "Configuration: \(CheckpointPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: CheckpointPreset = .tiny

    @Option(help: "Number of transformer blocks (the MTP block comes on top). Default: the preset's.")
    var layers: Int?

    @Option(help: "Routed experts per layer (experts per token drop to match if fewer). Default: the preset's.")
    var experts: Int?

    @Option(help: "Vocabulary size. Default: the preset's (129280).")
    var vocab: Int?

    @Option(help: "Random seed; the same seed gives the same bytes.")
    var seed: UInt64 = 0

    @Option(name: .customLong("shard-size"),
            help: "Largest shard payload: bytes, or with a K/M/G suffix (powers of 1000), e.g. 500M.")
    var shardSize: String = "2G"

    @Option(help: "Output directory (created if needed).")
    var out: String

    @Flag(help: "Replace the checkpoint files of a non-empty --out (other files there are kept).")
    var force = false

    /// Bad flag values are reported here, with this command's usage.
    func validate() throws {
        _ = try makeGenerator()
    }

    func makeGenerator() throws -> CheckpointGenerator {
        let shardBytes = try parseByteCount(shardSize, flag: "--shard-size")
        do {
            let config = try preset.config(layers: layers, experts: experts, vocabularySize: vocab)
            return try CheckpointGenerator(config: config, seed: seed, shardSize: shardBytes)
        } catch let error as CheckpointGeneratorError {
            throw ValidationError(error.description)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let generator = try makeGenerator()
        let directory = URL(fileURLWithPath: out)
        // Check everything before deleting anything: a refused run leaves --out as it was.
        let stale = try staleCheckpointFiles(in: directory)
        let reclaimed = stale.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1.path)[.size] as? Int) ?? 0) }
        try checkFreeSpace(at: directory, needed: generator.plan.totalSize, reclaimed: reclaimed)
        for url in stale { try FileManager.default.removeItem(at: url) }

        let c = generator.config
        printError("generating \(preset.rawValue): \(c.numHiddenLayers) layers + MTP, hidden \(c.hiddenSize), "
            + "\(c.nRoutedExperts) experts, vocab \(c.vocabSize), seed \(seed): "
            + "\(formatBytes(generator.plan.totalSize)) in \(generator.plan.shards.count) shard(s)")
        let clock = ContinuousClock()
        let start = clock.now
        let summary = try generator.write(to: directory) { file, done in
            printError("  \(file)  \(formatBytes(done)) of \(formatBytes(generator.plan.totalSize))")
        }
        let seconds = max(1e-9, (clock.now - start) / .seconds(1))
        print("wrote \(summary.files.count) files (\(summary.files.count - 2) shards + config.json + index), "
            + "\(formatBytes(summary.bytes)), \(formatCount(summary.parameters)) parameters, \(summary.tensors) tensors "
            + "to \(directory.path) in \(String(format: "%.1f", seconds)) s "
            + "(\(String(format: "%.2f", Double(summary.bytes) / 1e9 / seconds)) GB/s)")
        print("note: the weights are random; this is a test model for loading, speed and plumbing, it knows nothing.")
    }

    /// The checkpoint files of an earlier run in `directory` that --force replaces (shards of another count
    /// would otherwise linger); other files stay. Refuses a non-empty directory without --force.
    func staleCheckpointFiles(in directory: URL) throws -> [URL] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { throw CommandFailure("--out \(directory.path) is a file, not a directory") }
        let names = try fm.contentsOfDirectory(atPath: directory.path)
        guard !names.isEmpty else { return [] }
        guard force else {
            throw CommandFailure("--out \(directory.path) is not empty; pass --force to replace the checkpoint in it")
        }
        return names.filter(Self.isCheckpointFile).sorted().map { directory.appendingPathComponent($0) }
    }

    static func isCheckpointFile(_ name: String) -> Bool {
        name == "config.json" || name == WeightStore.indexFileName || name == WeightStore.singleFileName
            || (name.hasPrefix("model-") && name.hasSuffix(".safetensors"))
    }

    /// Fails early, with the numbers, when the file system cannot hold the checkpoint (plus 1% headroom).
    func checkFreeSpace(at directory: URL, needed: Int, reclaimed: Int) throws {
        var probe = directory
        while !FileManager.default.fileExists(atPath: probe.path) && probe.path != "/" { probe.deleteLastPathComponent() }
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: probe.path),
              let free = (attributes[.systemFreeSize] as? NSNumber)?.intValue
        else { return }  // unknown: let the write itself report a full disk
        let required = needed + needed / 100
        guard free + reclaimed >= required else {
            throw CommandFailure("not enough disk space at \(probe.path): the checkpoint needs \(formatBytes(required)), "
                + "\(formatBytes(free + reclaimed)) is free; use fewer --layers/--experts or another --out")
        }
    }
}

/// A failure at run time (as opposed to a bad flag): printed without the usage text.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// "2G", "500M", "64K", "123456" → bytes (powers of 1000, like Hugging Face's max_shard_size).
func parseByteCount(_ text: String, flag: String) throws -> Int {
    var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
    if digits.hasSuffix("B") { digits.removeLast() }
    var multiplier = 1.0
    if let unit = digits.last, let m = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12][String(unit)] {
        multiplier = m
        digits.removeLast()
    }
    guard let value = Double(digits), value.isFinite, value > 0, value * multiplier >= 1, value * multiplier < 1e18 else {
        throw ValidationError("\(flag): '\(text)' is not a size; use bytes or a number with K, M or G, e.g. 2G")
    }
    return Int(value * multiplier)
}

/// 4.52 GB, 75.1 MB, 812 B.
func formatBytes(_ bytes: Int) -> String {
    let b = Double(bytes)
    if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
    if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
    if b >= 1e3 { return String(format: "%.1f kB", b / 1e3) }
    return "\(bytes) B"
}

/// 2.31 B, 38.2 M, 5120.
func formatCount(_ n: Int) -> String {
    let v = Double(n)
    if v >= 1e9 { return String(format: "%.2f B", v / 1e9) }
    if v >= 1e6 { return String(format: "%.1f M", v / 1e6) }
    return "\(n)"
}
