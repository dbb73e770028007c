// RandomInitLayout: every tensor of a DeepSeek V4 checkpoint for a given config (spec §4.2), in file
// order, with the random fill that gives it a sensible scale. Shapes are [out, in], row-major.
//
// How the scales are chosen (so that a forward pass stays finite and informative through any depth):
// every sublayer input is RMS-normalised, so each linear is given weights of RMS gain/√fan-in and maps a
// unit-RMS input to an output of RMS ≈ gain. Quantized weights get that RMS from their E8M0 block scales
// alone (the codes always span the full format range, see RandomWeights.swift). The mHC parameters start
// the residual streams in their well-behaved regime: the data-dependent part of the mixing logits is
// small (fn RMS 1/√(n·d), scale ½), the bases put pre ≈ 1/n (the sublayer reads the stream average),
// post ≈ 1 (its output is added once) and comb ≈ 0.7·I + 0.1 (streams stay distinct but exchange
// information). The LM head's weights make logits of standard deviation ≈ `Gain.logits`.

import Foundation
import Weights

/// The spreads of the random parameters, with the reason for each value.
enum Gain {
    /// Projections into a normalisation, a softmax or the residual (q, kv, o, indexer, MTP e/h).
    static let projection = 1.0
    /// SwiGLU gate and up projections: pre-activations of standard deviation 4 put the SwiGLU clamp (10)
    /// to work on about 1% of them, as in the official fixtures, so the clamp path is exercised.
    static let expertUp = 4.0
    /// SwiGLU down projection: silu(g)·u has RMS ≈ 11 for g, u of standard deviation 4; back to ≈ 1.
    static let expertDown = 1.0 / 11
    /// Standard deviation of the logits (the final RMSNorm makes the head's input unit RMS): a few units,
    /// like the fixtures (2.4–2.6), so sampling at temperature 1 is neither uniform nor one-hot.
    static let logits = 2.5
    /// Embedding rows: unit RMS, the scale every later sublayer output is measured against.
    static let embedding = 1.0
    /// RMSNorm weights: 1 ± this, enough to make a wrong norm weight visible, not enough to matter.
    static let normSpread: Float = 0.05
    /// Compressor positional bias `ape` and attention sinks: small next to the O(1) logits they join.
    static let apeSpread: Float = 0.1
    static let sinkSpread: Float = 0.1
    /// Routing bias: only breaks ties in the top-k choice; the scores themselves are O(1).
    static let gateBiasSpread: Float = 0.01
    /// mHC: multiplier of the data-dependent mixing logits, the bases' jitter, and comb's diagonal logit.
    static let hyperScale: Float = 0.5
    static let hyperScaleSpread: Float = 0.05
    static let hyperBaseSpread: Float = 0.1
    static let combDiagonal: Float = 2
}

struct RandomInitLayout {
    let c: DeepSeekV4Config

    init(config: DeepSeekV4Config) { c = config }

    func tensors() -> [GeneratedTensor] {
        let d = c.hiddenSize, V = c.vocabSize
        var out = [normal("embed.weight", [V, d], std: Float(Gain.embedding))]
        for l in 0..<c.numHiddenLayers {
            out += block("layers.\(l).", ratio: c.compressRatios[l], hashRouted: l < c.numHashLayers)
        }
        out += hyperHead("")
        out.append(norm("norm.weight", d))
        out.append(normal("head.weight", [V, d], std: Float(Gain.logits / Double(d).squareRoot())))
        if c.numNextnPredictLayers > 0 {
            // The MTP block: e/h projections and norms around an ordinary score-routed block (spec §3.11).
            let p = "mtp.0."
            out += fp8(p + "e_proj", rows: d, cols: d, gain: Gain.projection)
            out += fp8(p + "h_proj", rows: d, cols: d, gain: Gain.projection)
            out.append(norm(p + "enorm.weight", d))
            out.append(norm(p + "hnorm.weight", d))
            out += block(p, ratio: c.compressRatios[c.numHiddenLayers], hashRouted: false)
            out += hyperHead(p)
            out.append(norm(p + "norm.weight", d))
        }
        return out
    }

    // MARK: Tensor kinds

    func normal(_ name: String, _ shape: [Int], mean: Float = 0, std: Float, dtype: DType = .bf16) -> GeneratedTensor {
        GeneratedTensor(spec: TensorSpec(name: name, dtype: dtype, shape: shape), fill: .normal(mean: mean, std: std))
    }

    func norm(_ name: String, _ count: Int) -> GeneratedTensor {
        normal(name, [count], mean: 1, std: Gain.normSpread)
    }

    /// `<name>.weight` F8_E4M3 [rows, cols] + `<name>.scale` E8M0 [⌈rows/128⌉, ⌈cols/128⌉].
    func fp8(_ name: String, rows: Int, cols: Int, gain: Double) -> [GeneratedTensor] {
        let scales = RandomTables.scales(target: gain / Double(cols).squareRoot(), codeRMS: RandomTables.fp8RMS)
        return [
            GeneratedTensor(spec: TensorSpec(name: name + ".weight", dtype: .f8e4m3, shape: [rows, cols]), fill: .fp8Codes),
            GeneratedTensor(spec: TensorSpec(name: name + ".scale", dtype: .f8e8m0, shape: [(rows + 127) / 128, (cols + 127) / 128]),
                            fill: scales),
        ]
    }

    /// `<name>.weight` I8 [rows, cols/2] (two E2M1 codes per byte) + `<name>.scale` E8M0 [rows, cols/32].
    func fp4(_ name: String, rows: Int, cols: Int, gain: Double) -> [GeneratedTensor] {
        let scales = RandomTables.scales(target: gain / Double(cols).squareRoot(), codeRMS: RandomTables.fp4RMS)
        return [
            GeneratedTensor(spec: TensorSpec(name: name + ".weight", dtype: .i8, shape: [rows, cols / 2]), fill: .fp4Codes),
            GeneratedTensor(spec: TensorSpec(name: name + ".scale", dtype: .f8e8m0, shape: [rows, cols / 32]), fill: scales),
        ]
    }

    // MARK: Parts of the model

    /// sigmoid(x) = 1/n, so that the pre weights start as the stream average (a single stream: weight ½).
    var preLogit: Float { c.hcMult > 1 ? Float(log(1 / Double(c.hcMult - 1))) : 0 }

    /// `<site>_fn` F32 [(2+n)·n, n·d], `<site>_base` F32 [(2+n)·n], `<site>_scale` F32 [3].
    func hyperConnection(_ site: String) -> [GeneratedTensor] {
        let n = c.hcMult, d = c.hiddenSize
        var means = [Float](repeating: preLogit, count: n)         // pre ≈ 1/n
        means += [Float](repeating: 0, count: n)                  // post = 2·sigmoid(0) = 1
        for j in 0..<n {                                           // comb logits: diagonal preferred
            for k in 0..<n { means.append(j == k ? Gain.combDiagonal : 0) }
        }
        return [
            normal(site + "_fn", [(2 + n) * n, n * d], std: Float(1 / Double(n * d).squareRoot()), dtype: .f32),
            GeneratedTensor(spec: TensorSpec(name: site + "_base", dtype: .f32, shape: [(2 + n) * n]),
                            fill: .offsets(means: means, std: Gain.hyperBaseSpread)),
            normal(site + "_scale", [3], mean: Gain.hyperScale, std: Gain.hyperScaleSpread, dtype: .f32),
        ]
    }

    /// The final merge `<prefix>hc_head_{fn,base,scale}`: F32 [n, n·d], [n], [1].
    func hyperHead(_ prefix: String) -> [GeneratedTensor] {
        let n = c.hcMult, d = c.hiddenSize
        return [
            normal(prefix + "hc_head_fn", [n, n * d], std: Float(1 / Double(n * d).squareRoot()), dtype: .f32),
            normal(prefix + "hc_head_base", [n], mean: preLogit, std: Gain.hyperBaseSpread, dtype: .f32),
            normal(prefix + "hc_head_scale", [1], mean: Gain.hyperScale, std: Gain.hyperScaleSpread, dtype: .f32),
        ]
    }

    func block(_ p: String, ratio: Int, hashRouted: Bool) -> [GeneratedTensor] {
        let d = c.hiddenSize, H = c.numAttentionHeads, D = c.headDim, G = c.oGroups
        var out = hyperConnection(p + "hc_attn")
        out.append(norm(p + "attn_norm.weight", d))
        let a = p + "attn."
        out.append(normal(a + "attn_sink", [H], std: Gain.sinkSpread, dtype: .f32))
        out += fp8(a + "wq_a", rows: c.qLoraRank, cols: d, gain: Gain.projection)
        out.append(norm(a + "q_norm.weight", c.qLoraRank))
        out += fp8(a + "wq_b", rows: H * D, cols: c.qLoraRank, gain: Gain.projection)
        out += fp8(a + "wkv", rows: D, cols: d, gain: Gain.projection)
        out.append(norm(a + "kv_norm.weight", D))
        if ratio > 0 { out += compressor(a + "compressor.", ratio: ratio, width: D) }
        if ratio == 4 {
            out += fp8(a + "indexer.wq_b", rows: c.indexNHeads * c.indexHeadDim, cols: c.qLoraRank, gain: Gain.projection)
            out.append(normal(a + "indexer.weights_proj.weight", [c.indexNHeads, d], std: Float(1 / Double(d).squareRoot())))
            out += compressor(a + "indexer.compressor.", ratio: 4, width: c.indexHeadDim)
        }
        out += fp8(a + "wo_a", rows: G * c.oLoraRank, cols: H * D / G, gain: Gain.projection)
        out += fp8(a + "wo_b", rows: d, cols: G * c.oLoraRank, gain: Gain.projection)
        out += hyperConnection(p + "hc_ffn")
        out.append(norm(p + "ffn_norm.weight", d))
        out += moe(p + "ffn.", hashRouted: hashRouted)
        return out
    }

    /// Overlapping (ratio 4) compressors project to two entry widths (spec §3.5).
    func compressor(_ p: String, ratio: Int, width: Int) -> [GeneratedTensor] {
        let w = (ratio == 4 ? 2 : 1) * width, d = c.hiddenSize
        let std = Float(1 / Double(d).squareRoot())
        return [
            normal(p + "ape", [ratio, w], std: Gain.apeSpread, dtype: .f32),
            normal(p + "wkv.weight", [w, d], std: std),
            normal(p + "wgate.weight", [w, d], std: std),
            norm(p + "norm.weight", width),
        ]
    }

    func moe(_ f: String, hashRouted: Bool) -> [GeneratedTensor] {
        let d = c.hiddenSize, I = c.moeIntermediateSize, E = c.nRoutedExperts, k = c.numExpertsPerTok
        var out = [normal(f + "gate.weight", [E, d], std: Float(1 / Double(d).squareRoot()))]
        if hashRouted {
            out.append(GeneratedTensor(spec: TensorSpec(name: f + "gate.tid2eid", dtype: .i64, shape: [c.vocabSize, k]),
                                       fill: .expertIDs(experts: E, perRow: k)))
        } else {
            out.append(normal(f + "gate.bias", [E], std: Gain.gateBiasSpread, dtype: .f32))
        }
        // Routed experts are FP4 in the official instruct checkpoints, FP8 where expert_dtype says so.
        let routed = c.expertsAreFP4 ? fp4 : fp8
        for e in 0..<E {
            let x = f + "experts.\(e)."
            out += routed(x + "w1", I, d, Gain.expertUp)
            out += routed(x + "w2", d, I, Gain.expertDown)
            out += routed(x + "w3", I, d, Gain.expertUp)
        }
        out += fp8(f + "shared_experts.w1", rows: I, cols: d, gain: Gain.expertUp)
        out += fp8(f + "shared_experts.w2", rows: d, cols: I, gain: Gain.expertDown)
        out += fp8(f + "shared_experts.w3", rows: I, cols: d, gain: Gain.expertUp)
        return out
    }
}
