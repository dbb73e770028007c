// Configurations for generated checkpoints: the official DeepSeek V4 Flash and Pro configs (spec §2, the
// values of their config.json files), optionally truncated to fewer layers, experts or vocabulary entries,
// and `tiny`, a small model with the full vocabulary that serves as Narwhal's default model.
//
// Truncation keeps the real layer schedule: N layers take the first N compress ratios of the real list
// plus its last entry (the MTP block's), and the first min(3, N) layers stay hash-routed as in the real
// models, so a 4-layer Flash has the real SWA, SWA, CSA, HCA sequence and the real per-layer shapes.
//
// DefaultModel, at the end, materialises the tiny preset as Narwhal's default model.

import Foundation
import Weights

/// A named starting configuration for ``CheckpointGenerator``.
public enum CheckpointPreset: String, CaseIterable, Sendable {
    /// DeepSeek V4 Flash (43 layers, hidden 4096, 256 experts; 160 GB as released).
    case flash
    /// DeepSeek V4 Pro (61 layers, hidden 7168, 384 experts; 865 GB as released).
    case pro
    /// A small model with the full 129,280-token vocabulary (the chat format's special tokens have ids
    /// above 128,000) and the real window and compression ratios; about 75 MB. Narwhal's default model.
    case tiny

    /// The configuration, truncated: `layers` main blocks (the MTP block comes on top), `experts` routed
    /// experts per layer (`num_experts_per_tok` is lowered to match when needed), `vocabularySize` ids.
    /// Throws ``CheckpointGeneratorError/invalidOption(_:_:expected:)`` for values out of range.
    public func config(layers: Int? = nil, experts: Int? = nil, vocabularySize: Int? = nil) throws -> DeepSeekV4Config {
        var c = fullConfig
        if let layers {
            let limit = self == .tiny ? Self.tinyLayerLimit : c.numHiddenLayers
            guard (1...limit).contains(layers) else {
                throw CheckpointGeneratorError.invalidOption("layers", "\(layers)", expected: "1…\(limit)")
            }
            c.compressRatios = self == .tiny
                ? Self.tinyRatios(layers: layers)
                : Array(c.compressRatios.prefix(layers)) + [c.compressRatios[c.compressRatios.count - 1]]
            c.numHashLayers = min(c.numHashLayers, layers)
            c.numHiddenLayers = layers
        }
        if let experts {
            guard experts >= 1 else { throw CheckpointGeneratorError.invalidOption("experts", "\(experts)", expected: ">= 1") }
            c.nRoutedExperts = experts
            c.numExpertsPerTok = min(c.numExpertsPerTok, experts)
        }
        if let vocabularySize {
            // BOS (0) and EOS (1) must exist.
            guard vocabularySize >= 2 else {
                throw CheckpointGeneratorError.invalidOption("vocab", "\(vocabularySize)", expected: ">= 2")
            }
            c.vocabSize = vocabularySize
        }
        try c.validate(path: "preset \(rawValue)")
        return c
    }

    /// The untruncated configuration.
    public var fullConfig: DeepSeekV4Config {
        switch self {
        case .flash: Self.flashConfig
        case .pro: Self.proConfig
        case .tiny: Self.tinyConfig
        }
    }

    /// Values of the official Flash config.json (HF revision 60d8d707).
    static let flashConfig = DeepSeekV4Config(
        modelType: "deepseek_v4", vocabSize: 129_280, hiddenSize: 4096, moeIntermediateSize: 2048, numHiddenLayers: 43,
        numHashLayers: 3, numAttentionHeads: 64, numKeyValueHeads: 1, nRoutedExperts: 256, nSharedExperts: 1,
        numExpertsPerTok: 6, scoringFunc: "sqrtsoftplus", routedScalingFactor: 1.5, swigluLimit: 10, qLoraRank: 1024,
        headDim: 512, qkRopeHeadDim: 64, oGroups: 8, oLoraRank: 1024, slidingWindow: 128, ropeTheta: 10_000,
        compressRopeTheta: 160_000,
        ropeScaling: .init(type: "yarn", factor: 16, originalMaxPositionEmbeddings: 65_536, betaFast: 32, betaSlow: 1),
        indexNHeads: 64, indexHeadDim: 128, indexTopk: 512, hcMult: 4, hcSinkhornIters: 20, hcEps: 1e-6, rmsNormEps: 1e-6,
        compressRatios: [0, 0] + Array(repeating: [4, 128], count: 20).flatMap { $0 } + [4, 0],
        numNextnPredictLayers: 1, maxPositionEmbeddings: 1_048_576, bosTokenId: 0, eosTokenId: 1, expertDtype: "fp4",
        quantizationConfig: .init(quantMethod: "fp8", fmt: "e4m3", scaleFmt: "ue8m0", activationScheme: "dynamic",
                                  weightBlockSize: [128, 128]),
        tieWordEmbeddings: false, hiddenAct: "silu", dsparkBlockSize: nil)

    /// Values of the official Pro config.json (HF revision b5968e91): Flash's with these differences.
    static let proConfig: DeepSeekV4Config = {
        var c = flashConfig
        c.hiddenSize = 7168
        c.moeIntermediateSize = 3072
        c.numHiddenLayers = 61
        c.numAttentionHeads = 128
        c.nRoutedExperts = 384
        c.routedScalingFactor = 2.5
        c.qLoraRank = 1536
        c.oGroups = 16
        c.indexTopk = 1024
        c.compressRatios = [128, 128] + Array(repeating: [4, 128], count: 29).flatMap { $0 } + [4, 0]
        return c
    }()

    /// Flash's architecture at toy width: 4 layers (SWA, CSA, HCA, CSA; MTP = SWA), hidden 128, 4 heads of
    /// the minimum head_dim 128 (64 RoPE dims + one 64-wide FP8 KV block), 8 experts of which 3 are
    /// active; the real window (128) and ratios (4, 128), so compression starts at realistic lengths.
    static let tinyConfig: DeepSeekV4Config = {
        var c = flashConfig
        c.hiddenSize = 128
        c.moeIntermediateSize = 128
        c.numHiddenLayers = 4
        c.numHashLayers = 2
        c.numAttentionHeads = 4
        c.nRoutedExperts = 8
        c.numExpertsPerTok = 3
        c.qLoraRank = 128
        c.headDim = 128
        c.oGroups = 2
        c.oLoraRank = 128
        c.indexNHeads = 8
        c.indexTopk = 16
        c.compressRatios = tinyRatios(layers: 4)
        return c
    }()

    /// `tiny` accepts more layers than it has, for heavier test models of the same width.
    static let tinyLayerLimit = 64

    /// SWA first, then CSA and HCA alternating; the MTP entry is 0 (sliding window only) as in Flash.
    static func tinyRatios(layers: Int) -> [Int] {
        [0] + (1..<max(1, layers)).map { $0 % 2 == 1 ? 4 : 128 } + [0]
    }
}

// MARK: - The default model

// DefaultModel: the model Narwhal runs when the user names none — the `tiny` preset with a fixed seed,
// generated on first use into a cache directory instead of being shipped (its 75 MB are mostly the
// full-vocabulary embedding and head, which would bloat every download and build).
//
// Materialisation is atomic: the model is generated into a hidden sibling directory and renamed into
// place, so the target either does not exist or is complete, even when two processes race (the loser
// of the rename discards its copy and uses the winner's).

/// The bundled default model: a random-weight `tiny` checkpoint, generated on first use.
public enum DefaultModel {
    /// The preset the default model is generated from.
    public static let preset = CheckpointPreset.tiny
    /// Fixed, so every installation materialises byte-identical files.
    public static let seed: UInt64 = 1
    /// A directory name for caches; the suffix changes whenever the generated bytes would, so a cache
    /// never serves a model from an older generator.
    public static let directoryName = "tiny-random-v1"

    /// Returns `directory` holding the default model, generating it first if it does not exist. Files of
    /// `tokenizerDirectory` (the tokenizer.json / tokenizer_config.json resource), when given, are copied
    /// in as well, including into an existing model directory that lacks them. Throws
    /// ``CheckpointGeneratorError/incompleteModel(directory:)`` if `directory` exists without an index.
    @discardableResult
    public static func ensure(at directory: URL, tokenizerDirectory: URL? = nil) throws -> URL {
        let fm = FileManager.default
        let index = directory.appendingPathComponent(WeightStore.indexFileName)
        if !fm.fileExists(atPath: directory.path) {
            let parent = directory.deletingLastPathComponent()
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            let staging = parent.appendingPathComponent(".\(directory.lastPathComponent).partial-\(getpid())")
            try? fm.removeItem(at: staging)
            do {
                let generator = try CheckpointGenerator(config: try preset.config(), seed: seed)
                try generator.write(to: staging)
                if let tokenizerDirectory { try copyMissingFiles(from: tokenizerDirectory, to: staging) }
                try fm.moveItem(at: staging, to: directory)
            } catch {
                try? fm.removeItem(at: staging)
                // Another process may have won the race to the same directory; its model is as good.
                guard fm.fileExists(atPath: index.path) else { throw error }
            }
        }
        guard fm.fileExists(atPath: index.path) else {
            throw CheckpointGeneratorError.incompleteModel(directory: directory.path)
        }
        if let tokenizerDirectory { try copyMissingFiles(from: tokenizerDirectory, to: directory) }
        return directory
    }

    /// Copies each regular file of `source` that `destination` lacks, each through a temporary name and a
    /// rename so a reader never sees a partial file.
    static func copyMissingFiles(from source: URL, to destination: URL) throws {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: source.path).sorted()
        for name in names where !name.hasPrefix(".") {
            let from = source.appendingPathComponent(name)
            let to = destination.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !fm.fileExists(atPath: to.path)
            else { continue }
            let temporary = destination.appendingPathComponent(".\(name).partial-\(getpid())")
            try? fm.removeItem(at: temporary)
            try fm.copyItem(at: from, to: temporary)
            do {
                try fm.moveItem(at: temporary, to: to)
            } catch {
                try? fm.removeItem(at: temporary)
                guard fm.fileExists(atPath: to.path) else { throw error }
            }
        }
    }
}

/// Bad generator inputs, each naming the option and what it accepts.
public enum CheckpointGeneratorError: Error, CustomStringConvertible, Equatable {
    /// Option (or config key) `name` has a value outside what `expected` describes.
    case invalidOption(_ name: String, _ value: String, expected: String)
    /// A directory that should hold a generated model exists but does not (no index file).
    case incompleteModel(directory: String)

    public var description: String {
        switch self {
        case .invalidOption(let name, let value, let expected):
            "--\(name) \(value) is not valid (expected \(expected))"
        case .incompleteModel(let directory):
            "'\(directory)' exists but holds no complete checkpoint (no model.safetensors.index.json); hint: delete it to regenerate"
        }
    }
}
