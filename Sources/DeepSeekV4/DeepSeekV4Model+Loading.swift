// Loading: the ONLY place that spells checkpoint tensor names (spec §4.2). Every tensor is looked up with
// its expected dtype and shape, derived from config.json; weights stay memory-mapped in their checkpoint
// formats (FP8/FP4/BF16), only small vectors (norms, biases, mHC parameters) are decoded to float32.

import Foundation
import Kernels
import Weights

extension DeepSeekV4Model {
    /// Loads config.json and the safetensors checkpoint in `directory`.
    public convenience init(directory: URL) throws {
        let config = try DeepSeekV4Config.load(directory: directory)
        let store = try WeightStore(directory: directory)
        try self.init(config: config, store: store)
    }

    convenience init(config c: DeepSeekV4Config, store: WeightStore) throws {
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
        // Anything left is either a drafter stage we do not run (reported) or an inconsistency (error).
        let left = store.untakenNames
        let drafter = left.filter { name in
            guard name.hasPrefix("mtp.") else { return false }
            let stage = Int(name.dropFirst(4).prefix { $0.isNumber }) ?? 0
            return stage >= c.mtpBlocksUsed && stage < c.numNextnPredictLayers
        }
        let unexpected = left.filter { !drafter.contains($0) }
        if !unexpected.isEmpty { throw WeightsError.unexpectedTensors(names: unexpected) }
        self.init(config: c, embedding: embedding, blocks: blocks, hyperHead: hyperHead, norm: norm, head: head, mtp: mtp,
                  store: store, unusedTensors: drafter)
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
