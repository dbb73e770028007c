// Loading: the ONLY place that spells checkpoint tensor names (spec §4.2). Every tensor is looked up with
// its expected dtype and shape, derived from config.json; weights stay memory-mapped in their checkpoint
// formats (FP8/FP4/BF16), only small vectors (norms, biases, mHC parameters) are decoded to float32.
//
// `CheckpointLayout` (second half of the file) lists the same tensors as data, for checking a checkpoint
// before anything is decoded and for counting parameters and bytes from config.json alone (`narwhal
// inspect`). The loader compares the checkpoint with the layout first and afterwards requires that it took
// every tensor, so the list and the lookups cannot drift apart without every model load failing.

import Foundation
import Kernels
import Weights

extension DeepSeekV4Model {
    /// Loads config.json and the safetensors checkpoint in `directory`. `kvFormat`: how caches store their rows
    /// while activations are quantised (`.native`, or `.float32` to keep every value exact).
    public convenience init(directory: URL, kvFormat: KVCache.Format = .native) throws {
        guard kvFormat.isStorable else { throw ModelError.kvFormatNotStorable(kvFormat) }
        let config = try DeepSeekV4Config.load(directory: directory)
        let store = try WeightStore(directory: directory)
        try self.init(config: config, store: store)
        self.kvFormat = kvFormat
    }

    convenience init(config c: DeepSeekV4Config, store: WeightStore) throws {
        // A missing, mistyped or unknown tensor is reported before anything is decoded.
        let layout = CheckpointLayout(config: c)
        let comparison = layout.compare(with: store)
        if let error = comparison.error { throw error }
        let loader = Loader(c: c, store: store)
        let d = c.hiddenSize
        let embedding = try loader.matrix("embed.weight", rows: c.vocabSize, cols: d, format: .bf16)
        let head = try loader.matrix("head.weight", rows: c.vocabSize, cols: d, format: .bf16)
        let norm = try loader.vector("norm.weight", count: d)
        let hyperHead = try loader.hyperHead(prefix: "")
        var blocks: [Block] = []
        for l in 0..<c.numHiddenLayers {
            blocks.append(try loader.block(prefix: "layers.\(l).", ratio: c.compressRatios[l], hashRouted: l < c.numHashLayers))
        }
        var mtp: MTPBlock?
        if c.mtpBlocksUsed > 0 {
            let p = "mtp.0."
            let ratio = c.compressRatios[c.numHiddenLayers]
            mtp = MTPBlock(
                eProj: Linear(try loader.matrix(p + "e_proj", rows: d, cols: d, format: .fp8)),
                hProj: Linear(try loader.matrix(p + "h_proj", rows: d, cols: d, format: .fp8)),
                enorm: try loader.vector(p + "enorm.weight", count: d),
                hnorm: try loader.vector(p + "hnorm.weight", count: d),
                block: try loader.block(prefix: p, ratio: ratio, hashRouted: false),
                hyperHead: try loader.hyperHead(prefix: p),
                norm: try loader.vector(p + "norm.weight", count: d),
                ratio: ratio)
        }
        // Anything left is either a drafter stage we do not run (reported) or a layout tensor the lookups above
        // did not take, i.e. the layout and the loader disagree.
        let unexpected = store.untakenNames.filter { !layout.isUnusedDrafterTensor($0) }
        if !unexpected.isEmpty { throw WeightsError.unexpectedTensors(names: unexpected) }
        self.init(config: c, embedding: embedding, blocks: blocks, hyperHead: hyperHead, norm: norm, head: head, mtp: mtp,
                  store: store, unusedTensors: comparison.unusedDrafter)
    }
}

extension DeepSeekV4Model {
    /// Pages the mapped checkpoint into memory, shard by shard, so the first tokens run at full speed;
    /// `progress(done, total)` is in bytes. Call it only when the weights fit in memory.
    public func prefaultWeights(progress: (Int, Int) -> Void) {
        store.prefault(progress: progress)
    }
}

/// Typed lookups with the shapes implied by the config.
private struct Loader {
    let c: DeepSeekV4Config
    let store: WeightStore

    /// A weight matrix (rows, cols) in the one storage format the checkpoint layout prescribes.
    /// FP8: `<name>.weight` F8_E4M3 (rows, cols) + `<name>.scale` E8M0 (⌈rows/128⌉, ⌈cols/128⌉);
    /// FP4: `<name>.weight` I8 (rows, cols/2) + `<name>.scale` E8M0 (rows, cols/32);
    /// BF16 / F32: `name` is the full tensor name.
    func matrix(_ name: String, rows: Int, cols: Int, format: WeightMatrix.Format) throws -> WeightMatrix {
        switch format {
        case .fp8:
            let w = try store.tensor(name + ".weight", dtype: .f8e4m3, shape: [rows, cols])
            let s = try store.tensor(name + ".scale", dtype: .f8e8m0, shape: [(rows + 127) / 128, (cols + 127) / 128])
            return WeightMatrix(rows: rows, cols: cols, format: .fp8, data: w.bytes.baseAddress!,
                                scale: s.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        case .fp4:
            let w = try store.tensor(name + ".weight", dtype: .i8, shape: [rows, cols / 2])
            let s = try store.tensor(name + ".scale", dtype: .f8e8m0, shape: [rows, cols / 32])
            return WeightMatrix(rows: rows, cols: cols, format: .fp4, data: w.bytes.baseAddress!,
                                scale: s.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        case .bf16, .f32:
            let t = try store.tensor(name, dtype: format == .bf16 ? .bf16 : .f32, shape: [rows, cols])
            return WeightMatrix(rows: rows, cols: cols, format: format, data: t.bytes.baseAddress!)
        }
    }

    /// A BF16 or F32 vector decoded to float32.
    func vector(_ name: String, count: Int, dtype: DType = .bf16) throws -> [Float] {
        let t = try store.tensor(name, dtype: [dtype], shape: [count])
        return decode(t)
    }

    func decode(_ t: TensorData) -> [Float] {
        switch t.dtype {
        case .bf16: (0..<t.elementCount).map { BFloat16.decode(t.bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        default: (0..<t.elementCount).map { t.bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        }
    }

    func hyperConnection(_ name: String) throws -> HyperConnection {
        let n = c.hcMult, d = c.hiddenSize
        let mix = (2 + n) * n
        return HyperConnection(
            fn: try matrix(name + "_fn", rows: mix, cols: n * d, format: .f32),
            base: try vector(name + "_base", count: mix, dtype: .f32),
            scale: try vector(name + "_scale", count: 3, dtype: .f32),
            streams: n, sinkhornIterations: c.hcSinkhornIters, eps: c.hcEps)
    }

    func hyperHead(prefix p: String) throws -> HyperHead {
        let n = c.hcMult, d = c.hiddenSize
        return HyperHead(
            fn: try matrix(p + "hc_head_fn", rows: n, cols: n * d, format: .f32),
            base: try vector(p + "hc_head_base", count: n, dtype: .f32),
            scale: try vector(p + "hc_head_scale", count: 1, dtype: .f32)[0],
            streams: n, eps: c.hcEps)
    }

    func compressor(prefix p: String, ratio: Int, width: Int, rotate: Bool) throws -> Compressor {
        let w = ratio == 4 ? 2 * width : width
        let ape = try store.tensor(p + "ape", dtype: .f32, shape: [ratio, w])
        return Compressor(
            ratio: ratio, width: width,
            wkv: try matrix(p + "wkv.weight", rows: w, cols: c.hiddenSize, format: .bf16),
            wgate: try matrix(p + "wgate.weight", rows: w, cols: c.hiddenSize, format: .bf16),
            ape: decode(ape),
            norm: try vector(p + "norm.weight", count: width),
            eps: c.rmsNormEps, rotate: rotate)
    }

    func block(prefix p: String, ratio: Int, hashRouted: Bool) throws -> Block {
        let d = c.hiddenSize, H = c.numAttentionHeads, D = c.headDim
        let rope = ratio == 0
            ? RoPE(dim: c.qkRopeHeadDim, base: c.ropeTheta, yarn: nil)
            : RoPE(dim: c.qkRopeHeadDim, base: c.compressRopeTheta, yarn: c.ropeScaling)
        let a = p + "attn."
        var indexer: Indexer?
        if ratio == 4 {
            indexer = Indexer(
                heads: c.indexNHeads, headDim: c.indexHeadDim, topK: c.indexTopk,
                wqB: Linear(try matrix(a + "indexer.wq_b", rows: c.indexNHeads * c.indexHeadDim, cols: c.qLoraRank, format: .fp8)),
                weightsProj: try matrix(a + "indexer.weights_proj.weight", rows: c.indexNHeads, cols: d, format: .bf16),
                compressor: try compressor(prefix: a + "indexer.compressor.", ratio: 4, width: c.indexHeadDim, rotate: true))
        }
        let attention = Attention(
            heads: H, headDim: D, window: c.slidingWindow, ratio: ratio, eps: c.rmsNormEps,
            wqA: Linear(try matrix(a + "wq_a", rows: c.qLoraRank, cols: d, format: .fp8)),
            qNorm: try vector(a + "q_norm.weight", count: c.qLoraRank),
            wqB: Linear(try matrix(a + "wq_b", rows: H * D, cols: c.qLoraRank, format: .fp8)),
            wkv: Linear(try matrix(a + "wkv", rows: D, cols: d, format: .fp8)),
            kvNorm: try vector(a + "kv_norm.weight", count: D),
            woA: try matrix(a + "wo_a", rows: c.oGroups * c.oLoraRank, cols: H * D / c.oGroups, format: .fp8),
            woB: Linear(try matrix(a + "wo_b", rows: d, cols: c.oGroups * c.oLoraRank, format: .fp8)),
            groups: c.oGroups, oLoraRank: c.oLoraRank,
            sink: try vector(a + "attn_sink", count: H, dtype: .f32),
            rope: rope,
            compressor: ratio > 0 ? try compressor(prefix: a + "compressor.", ratio: ratio, width: D, rotate: false) : nil,
            indexer: indexer)
        return Block(
            attentionHC: try hyperConnection(p + "hc_attn"),
            attentionNorm: try vector(p + "attn_norm.weight", count: d),
            attention: attention,
            ffnHC: try hyperConnection(p + "hc_ffn"),
            ffnNorm: try vector(p + "ffn_norm.weight", count: d),
            moe: try moe(prefix: p + "ffn.", hashRouted: hashRouted),
            eps: c.rmsNormEps)
    }

    func moe(prefix f: String, hashRouted: Bool) throws -> MoE {
        let d = c.hiddenSize, I = c.moeIntermediateSize, E = c.nRoutedExperts, k = c.numExpertsPerTok
        let routing: MoE.Routing
        if hashRouted {
            let table = try store.tensor(f + "gate.tid2eid", dtype: .i64, shape: [c.vocabSize, k])
            for i in 0..<(c.vocabSize * k) {
                let e = table.bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
                guard (0..<Int64(E)).contains(e) else {
                    throw WeightsError.badOffsets(file: table.file.path, tensor: f + "gate.tid2eid",
                                                  reason: "entry \(i) routes to expert \(e), but there are \(E) experts")
                }
            }
            routing = .hash(table: table)
        } else {
            routing = .score(bias: try vector(f + "gate.bias", count: E, dtype: .f32))
        }
        let expertFormat: WeightMatrix.Format = c.expertsAreFP4 ? .fp4 : .fp8
        func expert(_ p: String, format: WeightMatrix.Format) throws -> Expert {
            Expert(
                w1: Linear(try matrix(p + "w1", rows: I, cols: d, format: format)),
                w2: Linear(try matrix(p + "w2", rows: d, cols: I, format: format)),
                w3: Linear(try matrix(p + "w3", rows: I, cols: d, format: format)))
        }
        return MoE(
            gate: try matrix(f + "gate.weight", rows: E, cols: d, format: .bf16),
            routing: routing,
            experts: try (0..<E).map { try expert(f + "experts.\($0).", format: expertFormat) },
            shared: try expert(f + "shared_experts.", format: .fp8),
            topK: k, routeScale: c.routedScalingFactor, swigluLimit: c.swigluLimit)
    }
}

// MARK: - Checkpoint layout

/// One tensor a checkpoint must hold, with the dtype and shape the loader looks it up with.
public struct CheckpointTensor: Sendable, Equatable {
    /// What the tensor is for, as far as parameter counting cares (spec §4.1).
    public enum Role: Sendable, Equatable {
        /// `embed.weight`: one row is read per token, yet the spec's "active" figure counts the whole table
        case embedding
        /// a routed expert of a main layer (weights and scales): k of the E experts run per token
        case routedExpert
        /// anything of the MTP block `mtp.0`, which the model's parameter counts exclude
        case mtp
        /// everything else, used by every token (attention, shared expert, router, norms, mHC, head)
        case dense
    }

    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let role: Role
    /// The E8M0 block scale of an FP8 or FP4 weight: bytes on disk, but no parameters.
    public let isScale: Bool

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * dtype.byteSize }
    /// Logical parameters (spec §4.1): one per element, two per byte of packed FP4 (I8), none for scales.
    public var parameterCount: Int { isScale ? 0 : dtype == .i8 ? 2 * elementCount : elementCount }
}

/// Every tensor the checkpoint of a config must hold (spec §4.2), in load order: what the loader takes,
/// derived from config.json alone. Unused drafter stages (V4-Flash-0731's DSpark) are not part of it: their
/// tensors are not described by the config.
public struct CheckpointLayout: Sendable {
    public let config: DeepSeekV4Config
    public let tensors: [CheckpointTensor]

    public init(config: DeepSeekV4Config) {
        self.config = config
        var builder = LayoutBuilder(c: config)
        builder.model()
        tensors = builder.tensors
    }

    /// True for tensors of `mtp.<stage>` blocks the config declares but Narwhal does not run: DSpark drafter
    /// stages, or MTP stages beyond the first. Names without a stage number count as stage 0.
    public func isUnusedDrafterTensor(_ name: String) -> Bool {
        guard name.hasPrefix("mtp.") else { return false }
        let stage = Int(name.dropFirst(4).prefix { $0.isNumber }) ?? 0
        return stage >= config.mtpBlocksUsed && stage < config.numNextnPredictLayers
    }

    /// Compares a checkpoint's tensors with the layout, collecting every difference.
    public func compare(with store: WeightStore) -> CheckpointComparison {
        var result = CheckpointComparison()
        var expected = Set<String>()
        for t in tensors {
            expected.insert(t.name)
            do {
                try store.check(t.name, dtype: [t.dtype], shape: t.shape)
            } catch .missingTensor(let name) {
                result.missing.append(name)
            } catch {
                result.mismatched.append(error)
            }
        }
        for name in store.tensorNames.sorted() where !expected.contains(name) {
            if isUnusedDrafterTensor(name) { result.unusedDrafter.append(name) } else { result.unexpected.append(name) }
        }
        return result
    }
}

/// The differences between a checkpoint and the layout its config implies.
public struct CheckpointComparison: Sendable, Equatable {
    /// Layout tensors the checkpoint lacks, in load order.
    public var missing: [String] = []
    /// Tensors present with another dtype or shape (`wrongDType` / `wrongShape`, naming file and values).
    public var mismatched: [WeightsError] = []
    /// Checkpoint tensors that are neither in the layout nor in an unused drafter stage, sorted.
    public var unexpected: [String] = []
    /// Tensors of drafter stages Narwhal does not run, sorted.
    public var unusedDrafter: [String] = []

    /// True when the checkpoint holds exactly the layout (plus unused drafter stages).
    public var matches: Bool { error == nil }

    /// The error that stops a model load: the first missing tensor, else the first mismatch, else all the
    /// unexpected ones.
    public var error: WeightsError? {
        if let name = missing.first { return .missingTensor(name: name) }
        if let mismatch = mismatched.first { return mismatch }
        if !unexpected.isEmpty { return .unexpectedTensors(names: unexpected) }
        return nil
    }
}

/// Builds the layout with the same structure, names, dtypes and shapes as `Loader` above.
private struct LayoutBuilder {
    let c: DeepSeekV4Config
    var tensors: [CheckpointTensor] = []

    mutating func add(_ name: String, _ dtype: DType, _ shape: [Int], _ role: CheckpointTensor.Role, scale: Bool = false) {
        tensors.append(CheckpointTensor(name: name, dtype: dtype, shape: shape, role: role, isScale: scale))
    }

    /// The tensors `Loader.matrix` looks up for one weight matrix (rows, cols).
    mutating func matrix(_ name: String, rows: Int, cols: Int, format: WeightMatrix.Format, _ role: CheckpointTensor.Role) {
        switch format {
        case .fp8:
            add(name + ".weight", .f8e4m3, [rows, cols], role)
            add(name + ".scale", .f8e8m0, [(rows + 127) / 128, (cols + 127) / 128], role, scale: true)
        case .fp4:
            add(name + ".weight", .i8, [rows, cols / 2], role)
            add(name + ".scale", .f8e8m0, [rows, cols / 32], role, scale: true)
        case .bf16: add(name, .bf16, [rows, cols], role)
        case .f32: add(name, .f32, [rows, cols], role)
        }
    }

    mutating func model() {
        let d = c.hiddenSize
        add("embed.weight", .bf16, [c.vocabSize, d], .embedding)
        add("head.weight", .bf16, [c.vocabSize, d], .dense)
        add("norm.weight", .bf16, [d], .dense)
        hyperHead(prefix: "", .dense)
        for l in 0..<c.numHiddenLayers {
            block(prefix: "layers.\(l).", ratio: c.compressRatios[l], hashRouted: l < c.numHashLayers, mtp: false)
        }
        if c.mtpBlocksUsed > 0 {
            let p = "mtp.0."
            matrix(p + "e_proj", rows: d, cols: d, format: .fp8, .mtp)
            matrix(p + "h_proj", rows: d, cols: d, format: .fp8, .mtp)
            add(p + "enorm.weight", .bf16, [d], .mtp)
            add(p + "hnorm.weight", .bf16, [d], .mtp)
            block(prefix: p, ratio: c.compressRatios[c.numHiddenLayers], hashRouted: false, mtp: true)
            hyperHead(prefix: p, .mtp)
            add(p + "norm.weight", .bf16, [d], .mtp)
        }
    }

    mutating func hyperConnection(_ name: String, _ role: CheckpointTensor.Role) {
        let n = c.hcMult, mix = (2 + n) * n
        matrix(name + "_fn", rows: mix, cols: n * c.hiddenSize, format: .f32, role)
        add(name + "_base", .f32, [mix], role)
        add(name + "_scale", .f32, [3], role)
    }

    mutating func hyperHead(prefix p: String, _ role: CheckpointTensor.Role) {
        let n = c.hcMult
        matrix(p + "hc_head_fn", rows: n, cols: n * c.hiddenSize, format: .f32, role)
        add(p + "hc_head_base", .f32, [n], role)
        add(p + "hc_head_scale", .f32, [1], role)
    }

    mutating func compressor(prefix p: String, ratio: Int, width: Int, _ role: CheckpointTensor.Role) {
        let w = ratio == 4 ? 2 * width : width
        add(p + "ape", .f32, [ratio, w], role)
        matrix(p + "wkv.weight", rows: w, cols: c.hiddenSize, format: .bf16, role)
        matrix(p + "wgate.weight", rows: w, cols: c.hiddenSize, format: .bf16, role)
        add(p + "norm.weight", .bf16, [width], role)
    }

    mutating func block(prefix p: String, ratio: Int, hashRouted: Bool, mtp: Bool) {
        let d = c.hiddenSize, H = c.numAttentionHeads, D = c.headDim
        let role: CheckpointTensor.Role = mtp ? .mtp : .dense
        let a = p + "attn."
        if ratio == 4 {
            matrix(a + "indexer.wq_b", rows: c.indexNHeads * c.indexHeadDim, cols: c.qLoraRank, format: .fp8, role)
            matrix(a + "indexer.weights_proj.weight", rows: c.indexNHeads, cols: d, format: .bf16, role)
            compressor(prefix: a + "indexer.compressor.", ratio: 4, width: c.indexHeadDim, role)
        }
        matrix(a + "wq_a", rows: c.qLoraRank, cols: d, format: .fp8, role)
        add(a + "q_norm.weight", .bf16, [c.qLoraRank], role)
        matrix(a + "wq_b", rows: H * D, cols: c.qLoraRank, format: .fp8, role)
        matrix(a + "wkv", rows: D, cols: d, format: .fp8, role)
        add(a + "kv_norm.weight", .bf16, [D], role)
        matrix(a + "wo_a", rows: c.oGroups * c.oLoraRank, cols: H * D / c.oGroups, format: .fp8, role)
        matrix(a + "wo_b", rows: d, cols: c.oGroups * c.oLoraRank, format: .fp8, role)
        add(a + "attn_sink", .f32, [H], role)
        if ratio > 0 { compressor(prefix: a + "compressor.", ratio: ratio, width: D, role) }
        hyperConnection(p + "hc_attn", role)
        add(p + "attn_norm.weight", .bf16, [d], role)
        hyperConnection(p + "hc_ffn", role)
        add(p + "ffn_norm.weight", .bf16, [d], role)

        let f = p + "ffn.", I = c.moeIntermediateSize, E = c.nRoutedExperts
        if hashRouted {
            add(f + "gate.tid2eid", .i64, [c.vocabSize, c.numExpertsPerTok], role)
        } else {
            add(f + "gate.bias", .f32, [E], role)
        }
        let expertFormat: WeightMatrix.Format = c.expertsAreFP4 ? .fp4 : .fp8
        for e in 0..<E {
            for (w, rows, cols) in [("w1", I, d), ("w2", d, I), ("w3", I, d)] {
                matrix(f + "experts.\(e).\(w)", rows: rows, cols: cols, format: expertFormat, mtp ? .mtp : .routedExpert)
            }
        }
        for (w, rows, cols) in [("w1", I, d), ("w2", d, I), ("w3", I, d)] {
            matrix(f + "shared_experts.\(w)", rows: rows, cols: cols, format: .fp8, role)
        }
        matrix(f + "gate.weight", rows: E, cols: d, format: .bf16, role)
    }
}
