// ModelInventory: what a checkpoint is and what it costs to run — architecture, parameters, weight bytes,
// KV cache and a memory estimate — computed from config.json alone (people plan hardware before a 160 GB
// download) and checked against the weight files when they are there. `narwhal inspect` prints it.
//
// Counting conventions (spec §4.1):
//   - logical parameters count every element once and every byte of packed FP4 (I8) twice; block scales are
//     bytes, not parameters;
//   - the model's total and active counts exclude the MTP block (reported separately);
//   - "active per token" counts every dense tensor, the whole embedding table (as the spec's 13.8 B does;
//     13.3 B without it), and k of the E routed experts of each layer;
//   - weight bytes are the payload of every tensor, MTP included (the spec's 159,609,485,896 for Flash).
// Unused drafter stages (V4-Flash-0731) are not described by the config, so only their files can size them.

import Foundation
import Weights

/// Architecture, parameter and byte counts of one checkpoint, from its config (and its files if present).
public struct ModelInventory: Sendable {
    /// The parameter counts of spec §4.1.
    public struct Parameters: Sendable, Equatable {
        /// All parameters of the model, MTP excluded.
        public var total: Int
        /// Parameters used for one token (embedding table included), MTP excluded.
        public var active: Int
        /// The embedding table (part of both counts above).
        public var embedding: Int
        /// The MTP block that Narwhal runs (0 when none).
        public var mtp: Int

        public var activeExcludingEmbedding: Int { active - embedding }
    }

    /// Where the weight byte counts come from.
    public enum WeightSource: String, Sendable {
        /// the safetensors files in the directory
        case checkpoint
        /// config.json with the official dtypes (no weight files present)
        case config
    }

    /// What the weight files hold, when the directory has them.
    public struct Checkpoint: Sendable {
        public var shardCount: Int
        public var tensorCount: Int
        public var bytesByDType: [DType: Int]
        /// The files compared with the layout the config implies.
        public var comparison: CheckpointComparison
        /// Payload bytes of the drafter stages Narwhal does not run.
        public var unusedBytes: Int
    }

    public let config: DeepSeekV4Config
    /// The tensors the config implies (what the model loads).
    public let layout: CheckpointLayout
    /// The weight files, if present.
    public let checkpoint: Checkpoint?
    public let parameters: Parameters

    /// The inventory of `config`, checked against `store` when given.
    public init(config: DeepSeekV4Config, store: WeightStore? = nil) {
        self.config = config
        layout = CheckpointLayout(config: config)
        var p = Parameters(total: 0, active: 0, embedding: 0, mtp: 0)
        var routed = 0
        for t in layout.tensors {
            switch t.role {
            case .embedding: p.embedding += t.parameterCount
            case .routedExpert: routed += t.parameterCount
            case .mtp: p.mtp += t.parameterCount
            case .dense: p.active += t.parameterCount
            }
        }
        p.total = p.active + p.embedding + routed
        // Every MoE layer has the same E experts, so the active share is exactly k/E of them.
        p.active += p.embedding + routed / config.nRoutedExperts * config.numExpertsPerTok
        parameters = p
        let layout = layout
        checkpoint = store.map { store in
            let comparison = layout.compare(with: store)
            return Checkpoint(
                shardCount: store.files.count, tensorCount: store.tensorNames.count, bytesByDType: store.bytesByDType,
                comparison: comparison,
                unusedBytes: comparison.unusedDrafter.reduce(0) { $0 + (store.info($1)?.range.count ?? 0) })
        }
    }

    /// Bytes of weights one decode step reads (MTP excluded): every dense tensor, one embedding row, and
    /// k of the E routed experts of each layer — the numerator of decode's memory-bandwidth ceiling.
    public var activeWeightBytesPerToken: Int {
        var dense = 0, routed = 0
        for t in layout.tensors {
            switch t.role {
            case .embedding: dense += t.byteCount / max(1, config.vocabSize)
            case .routedExpert: routed += t.byteCount
            case .mtp: break
            case .dense: dense += t.byteCount
            }
        }
        return dense + routed / config.nRoutedExperts * config.numExpertsPerTok
    }

    /// Reads config.json in `directory` and, if the directory also holds safetensors weights, opens them (headers
    /// only; the data stays unmapped until read).
    public static func load(directory: URL) throws -> ModelInventory {
        let config = try DeepSeekV4Config.load(directory: directory)
        let fm = FileManager.default
        let hasWeights = [WeightStore.indexFileName, WeightStore.singleFileName].contains {
            fm.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
        return ModelInventory(config: config, store: hasWeights ? try WeightStore(directory: directory) : nil)
    }

    // MARK: Architecture

    /// The attention kind of each main layer.
    public var layerKinds: [AttentionKind] { (0..<config.numHiddenLayers).map { config.attentionKind(layer: $0) } }

    /// The main layers of one attention kind.
    public func layers(_ kind: AttentionKind) -> [Int] { layerKinds.indices.filter { layerKinds[$0] == kind } }

    /// The compression ratios of the HCA layers (128 in the official checkpoints).
    public var heavilyCompressedRatios: [Int] {
        Set(layers(.heavilyCompressed).map { config.compressRatios[$0] }).sorted()
    }

    /// MTP / drafter stages the config declares but Narwhal does not run.
    public var unusedDrafterStages: Int { config.numNextnPredictLayers - config.mtpBlocksUsed }

    // MARK: Weights

    public var weightSource: WeightSource { checkpoint == nil ? .config : .checkpoint }

    /// Payload bytes per dtype: the files' when present, else the layout's (complete except for unused drafter
    /// stages, which the config does not describe).
    public var weightBytesByDType: [DType: Int] {
        if let checkpoint { return checkpoint.bytesByDType }
        return layout.tensors.reduce(into: [:]) { $0[$1.dtype, default: 0] += $1.byteCount }
    }

    public var weightBytes: Int { weightBytesByDType.values.reduce(0, +) }

    public var tensorCount: Int { checkpoint?.tensorCount ?? layout.tensors.count }

    /// Bytes of the tensors the model maps and reads (the layout; unused drafter stages stay on disk).
    public var usedWeightBytes: Int { layout.tensors.reduce(0) { $0 + $1.byteCount } }

    // MARK: KV cache and memory

    /// The per-sequence attention state in `format` (spec §3.8).
    public func kvCache(_ format: KVCache.Format = .native) -> KVCache.Footprint {
        KVCache.Footprint(config: config, format: format)
    }

    /// The memory needed to run one sequence of `context` tokens, with the KV cache in `format`.
    public func memoryEstimate(context: Int, kvFormat: KVCache.Format = .native) -> MemoryEstimate {
        MemoryEstimate(
            context: context,
            weightBytes: usedWeightBytes,
            kvCacheBytes: kvCache(kvFormat).bytes(context: context),
            compressorStateBytes: KVCache.compressorStateBytes(config: config),
            workingSetBytes: workingSetBytes(context: context))
    }

    /// The largest float32 activation buffers alive while one prefill chunk runs through a block (Narwhal keeps
    /// activations in float32). A rough upper estimate, not a measurement:
    ///   streams    input and output of a block plus one site's mixed copy: 3 · T · n·d
    ///   attention  c_q, q, the attention output, kv and the grouped projection: T · (q_lora + 2·H·D + D + G·o_lora)
    ///   indexer    its queries and head weights, T · I_h · (D_i + 1), plus one query's scores and sort order
    ///              over the context/4 keys (4 + 8 bytes each)
    ///   MoE        router scores T · E and, per chosen and shared expert, gate, up and output: T·(k+1)·(2·I + d)
    ///   head       one row of logits: V
    public func workingSetBytes(context: Int) -> Int {
        let c = config
        let T = min(context, DeepSeekV4Model.defaultPrefillChunk)
        let streams = 3 * T * c.hcMult * c.hiddenSize
        let attention = T * (c.qLoraRank + 2 * c.numAttentionHeads * c.headDim + c.headDim + c.oGroups * c.oLoraRank)
        let hasIndexer = layerKinds.contains(.compressedSparse)
        let indexer = hasIndexer ? T * c.indexNHeads * (c.indexHeadDim + 1) + 3 * (context / 4) : 0
        let moe = T * c.nRoutedExperts + T * (c.numExpertsPerTok + 1) * (2 * c.moeIntermediateSize + c.hiddenSize)
        let floats = streams + attention + indexer + moe + c.vocabSize
        return floats * MemoryLayout<Float>.size
    }
}

/// An estimate of the memory one sequence needs: the weights (memory-mapped; the routed experts are all read
/// sooner or later, so plan for all of them resident), the KV cache for the context, the compressor state and
/// the activations of one prefill chunk.
public struct MemoryEstimate: Sendable, Equatable {
    public var context: Int
    public var weightBytes: Int
    public var kvCacheBytes: Int
    public var compressorStateBytes: Int
    public var workingSetBytes: Int

    public var totalBytes: Int { weightBytes + kvCacheBytes + compressorStateBytes + workingSetBytes }
}
