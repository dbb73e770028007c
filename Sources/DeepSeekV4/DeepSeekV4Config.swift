// DeepSeekV4Config: a typed mirror of the checkpoint's config.json (HF keys, spec §2.2), validated once
// before any weight is touched. Unsupported values fail here, naming the field and what is supported.

import Foundation

public struct DeepSeekV4Config: Codable, Sendable, Equatable {
    public struct RopeScaling: Codable, Sendable, Equatable {
        public var type: String
        public var factor: Double
        public var originalMaxPositionEmbeddings: Int
        public var betaFast: Double
        public var betaSlow: Double

        enum CodingKeys: String, CodingKey {
            case type, factor
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
            case betaFast = "beta_fast"
            case betaSlow = "beta_slow"
        }
    }

    public struct QuantizationConfig: Codable, Sendable, Equatable {
        public var quantMethod: String
        public var fmt: String?
        public var scaleFmt: String?
        public var activationScheme: String?
        public var weightBlockSize: [Int]

        enum CodingKeys: String, CodingKey {
            case quantMethod = "quant_method"
            case fmt
            case scaleFmt = "scale_fmt"
            case activationScheme = "activation_scheme"
            case weightBlockSize = "weight_block_size"
        }
    }

    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var moeIntermediateSize: Int
    public var numHiddenLayers: Int
    public var numHashLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var nRoutedExperts: Int
    public var nSharedExperts: Int
    public var numExpertsPerTok: Int
    public var scoringFunc: String
    public var routedScalingFactor: Float
    public var swigluLimit: Float
    public var qLoraRank: Int
    public var headDim: Int
    public var qkRopeHeadDim: Int
    public var oGroups: Int
    public var oLoraRank: Int
    public var slidingWindow: Int
    public var ropeTheta: Double
    public var compressRopeTheta: Double
    public var ropeScaling: RopeScaling
    public var indexNHeads: Int
    public var indexHeadDim: Int
    public var indexTopk: Int
    public var hcMult: Int
    public var hcSinkhornIters: Int
    public var hcEps: Float
    public var rmsNormEps: Float
    public var compressRatios: [Int]
    public var numNextnPredictLayers: Int
    public var maxPositionEmbeddings: Int
    public var bosTokenId: Int
    public var eosTokenId: Int
    public var expertDtype: String?
    public var quantizationConfig: QuantizationConfig?
    public var tieWordEmbeddings: Bool?
    public var hiddenAct: String?
    /// Present on checkpoints with a DSpark drafter (V4-Flash-0731): their `mtp.*` stages are drafter
    /// stages, not the single MTP block of §3.11.
    public var dsparkBlockSize: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case moeIntermediateSize = "moe_intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numHashLayers = "num_hash_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case nRoutedExperts = "n_routed_experts"
        case nSharedExperts = "n_shared_experts"
        case numExpertsPerTok = "num_experts_per_tok"
        case scoringFunc = "scoring_func"
        case routedScalingFactor = "routed_scaling_factor"
        case swigluLimit = "swiglu_limit"
        case qLoraRank = "q_lora_rank"
        case headDim = "head_dim"
        case qkRopeHeadDim = "qk_rope_head_dim"
        case oGroups = "o_groups"
        case oLoraRank = "o_lora_rank"
        case slidingWindow = "sliding_window"
        case ropeTheta = "rope_theta"
        case compressRopeTheta = "compress_rope_theta"
        case ropeScaling = "rope_scaling"
        case indexNHeads = "index_n_heads"
        case indexHeadDim = "index_head_dim"
        case indexTopk = "index_topk"
        case hcMult = "hc_mult"
        case hcSinkhornIters = "hc_sinkhorn_iters"
        case hcEps = "hc_eps"
        case rmsNormEps = "rms_norm_eps"
        case compressRatios = "compress_ratios"
        case numNextnPredictLayers = "num_nextn_predict_layers"
        case maxPositionEmbeddings = "max_position_embeddings"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case expertDtype = "expert_dtype"
        case quantizationConfig = "quantization_config"
        case tieWordEmbeddings = "tie_word_embeddings"
        case hiddenAct = "hidden_act"
        case dsparkBlockSize = "dspark_block_size"
    }

    // MARK: Derived quantities

    /// Rotary dims sit at the end of each head vector.
    public var nopeHeadDim: Int { headDim - qkRopeHeadDim }
    /// Number of MTP blocks Narwhal runs (the single `mtp.0` block; DSpark drafter stages are not run).
    public var mtpBlocksUsed: Int { dsparkBlockSize == nil ? min(numNextnPredictLayers, 1) : 0 }
    /// Compression ratio of block `layer` (0 = sliding window only; 4 = CSA with indexer; other = HCA).
    public func compressRatio(layer: Int) -> Int { compressRatios[layer] }
    /// The attention kind of block `layer` (spec §3.7).
    public func attentionKind(layer: Int) -> AttentionKind { AttentionKind(ratio: compressRatios[layer]) }
    /// Routed experts are stored FP4 (official instruct checkpoints) or FP8 (Base / re-encoded).
    public var expertsAreFP4: Bool { (expertDtype ?? "fp4") == "fp4" }

    // MARK: Loading and validation

    public static func load(directory: URL) throws -> DeepSeekV4Config {
        let url = directory.appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigError.missingFile(path: url.path)
        }
        return try decode(data, path: url.path)
    }

    public static func decode(_ data: Data, path: String) throws -> DeepSeekV4Config {
        // Reject other model types before decoding fields they may not have.
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigError.malformed(path: path, reason: "not a JSON object")
        }
        switch object["model_type"].map({ $0 as? String ?? "\($0)" }) {
        case "deepseek_v4": break
        case "deepseek_v41":
            throw ConfigError.unsupportedModel(
                path: path, modelType: "deepseek_v41",
                hint: "DeepSeek V4.1 is a different architecture (Engram memory, hierarchical indexer, vision); Narwhal runs V4 (Flash, Pro, Flash-0731)")
        case let other:
            throw ConfigError.unsupportedModel(
                path: path, modelType: other ?? "(missing)", hint: "Narwhal runs DeepSeek V4 checkpoints (model_type \"deepseek_v4\")")
        }
        let config: DeepSeekV4Config
        do {
            config = try JSONDecoder().decode(DeepSeekV4Config.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw ConfigError.malformed(path: path, reason: "missing key '\(key.stringValue)'")
        } catch DecodingError.typeMismatch(_, let context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigError.malformed(path: path, reason: "key '\(key)' has the wrong type")
        } catch {
            throw ConfigError.malformed(path: path, reason: "\(error)")
        }
        try config.validate(path: path)
        return config
    }

    /// Upper bounds on the sizes, far above any V4 checkpoint (Pro: hidden 7168, 61 layers, 384 experts). They
    /// keep every size derived from the config (tensor shapes, parameter and byte counts, KV bytes for up to
    /// 2^32 tokens) inside Int, so a corrupt or hostile config.json fails here instead of overflowing later.
    enum Limits {
        static let width = 1 << 16          // hidden, expert width, ranks
        static let headDim = 1 << 12        // head_dim, index_head_dim
        static let count = 1 << 10          // layers, heads, index heads
        static let experts = 1 << 12
        static let vocabulary = 1 << 22
        static let window = 1 << 20
        static let ratio = 1 << 16
        static let streams = 16
        static let positions = 1 << 30
    }

    /// Checks every value against what the architecture (and this implementation) allows.
    public func validate(path: String = "config.json") throws {
        func require(_ ok: Bool, _ key: String, _ value: Any, _ allowed: String) throws {
            if !ok { throw ConfigError.invalidValue(path: path, key: key, value: "\(value)", allowed: allowed) }
        }
        func requireAtMost(_ value: Int, _ limit: Int, _ key: String) throws {
            try require(value <= limit, key, value, "at most \(limit)")
        }
        try requireAtMost(vocabSize, Limits.vocabulary, "vocab_size")
        try requireAtMost(hiddenSize, Limits.width, "hidden_size")
        try requireAtMost(moeIntermediateSize, Limits.width, "moe_intermediate_size")
        try requireAtMost(numHiddenLayers, Limits.count, "num_hidden_layers")
        try requireAtMost(numAttentionHeads, Limits.count, "num_attention_heads")
        try requireAtMost(nRoutedExperts, Limits.experts, "n_routed_experts")
        try requireAtMost(qLoraRank, Limits.width, "q_lora_rank")
        try requireAtMost(oLoraRank, Limits.width, "o_lora_rank")
        try requireAtMost(headDim, Limits.headDim, "head_dim")
        try requireAtMost(indexHeadDim, Limits.headDim, "index_head_dim")
        try requireAtMost(indexNHeads, Limits.count, "index_n_heads")
        try requireAtMost(slidingWindow, Limits.window, "sliding_window")
        try requireAtMost(hcMult, Limits.streams, "hc_mult")
        try requireAtMost(numNextnPredictLayers, Limits.count, "num_nextn_predict_layers")
        try requireAtMost(maxPositionEmbeddings, Limits.positions, "max_position_embeddings")
        try requireAtMost(compressRatios.max() ?? 0, Limits.ratio, "compress_ratios")
        try require(vocabSize > 0, "vocab_size", vocabSize, "> 0")
        try require(hiddenSize > 0 && hiddenSize % 32 == 0, "hidden_size", hiddenSize, "a positive multiple of 32")
        try require(moeIntermediateSize > 0 && moeIntermediateSize % 32 == 0, "moe_intermediate_size", moeIntermediateSize, "a positive multiple of 32")
        try require(numHiddenLayers > 0, "num_hidden_layers", numHiddenLayers, "> 0")
        try require((0...numHiddenLayers).contains(numHashLayers), "num_hash_layers", numHashLayers, "0…num_hidden_layers")
        try require(numAttentionHeads > 0, "num_attention_heads", numAttentionHeads, "> 0")
        try require(numKeyValueHeads == 1, "num_key_value_heads", numKeyValueHeads, "1 (V4 shares one K=V latent across heads)")
        try require(nRoutedExperts > 0, "n_routed_experts", nRoutedExperts, "> 0")
        try require(nSharedExperts == 1, "n_shared_experts", nSharedExperts, "1")
        try require((1...nRoutedExperts).contains(numExpertsPerTok), "num_experts_per_tok", numExpertsPerTok, "1…n_routed_experts")
        try require(scoringFunc == "sqrtsoftplus", "scoring_func", scoringFunc, "\"sqrtsoftplus\"")
        try require(routedScalingFactor > 0, "routed_scaling_factor", routedScalingFactor, "> 0")
        try require(swigluLimit >= 0, "swiglu_limit", swigluLimit, ">= 0")
        try require(qLoraRank > 0, "q_lora_rank", qLoraRank, "> 0")
        try require(qkRopeHeadDim > 0 && qkRopeHeadDim % 2 == 0, "qk_rope_head_dim", qkRopeHeadDim, "a positive even number")
        try require(headDim > qkRopeHeadDim && (headDim - qkRopeHeadDim) % 64 == 0, "head_dim", headDim,
                    "qk_rope_head_dim plus a multiple of 64 (the KV FP8 blocks)")
        try require(oGroups > 0 && numAttentionHeads % oGroups == 0, "o_groups", oGroups, "a divisor of num_attention_heads")
        try require(oLoraRank > 0, "o_lora_rank", oLoraRank, "> 0")
        try require(slidingWindow > 0, "sliding_window", slidingWindow, "> 0")
        try require(ropeTheta > 0, "rope_theta", ropeTheta, "> 0")
        try require(compressRopeTheta > 0, "compress_rope_theta", compressRopeTheta, "> 0")
        try require(ropeScaling.type == "yarn", "rope_scaling.type", ropeScaling.type, "\"yarn\"")
        try require(ropeScaling.factor >= 1, "rope_scaling.factor", ropeScaling.factor, ">= 1")
        try require(ropeScaling.originalMaxPositionEmbeddings > 0, "rope_scaling.original_max_position_embeddings",
                    ropeScaling.originalMaxPositionEmbeddings, "> 0")
        try require(hcMult > 0, "hc_mult", hcMult, "> 0")
        try require(hcSinkhornIters > 0, "hc_sinkhorn_iters", hcSinkhornIters, "> 0")
        try require(hcEps >= 0, "hc_eps", hcEps, ">= 0")
        try require(rmsNormEps > 0, "rms_norm_eps", rmsNormEps, "> 0")
        try require(numNextnPredictLayers >= 0, "num_nextn_predict_layers", numNextnPredictLayers, ">= 0")
        // One ratio per block plus one for the MTP block (Flash-0731 pads the list for its drafter stages).
        let needed = numHiddenLayers + min(numNextnPredictLayers, 1)
        try require(compressRatios.count >= needed && compressRatios.count <= numHiddenLayers + max(numNextnPredictLayers, 1),
                    "compress_ratios", "\(compressRatios.count) entries",
                    "one per layer plus the MTP layers: \(needed)…\(numHiddenLayers + max(numNextnPredictLayers, 1)) entries")
        try require(compressRatios.allSatisfy { $0 >= 0 }, "compress_ratios", compressRatios, "ratios >= 0")
        if compressRatios.contains(4) {
            try require(indexNHeads > 0, "index_n_heads", indexNHeads, "> 0")
            try require(indexHeadDim > qkRopeHeadDim && indexHeadDim & (indexHeadDim - 1) == 0, "index_head_dim", indexHeadDim,
                        "a power of two larger than qk_rope_head_dim (Hadamard rotation)")
            try require(indexTopk > 0, "index_topk", indexTopk, "> 0")
        }
        try require(maxPositionEmbeddings > 0, "max_position_embeddings", maxPositionEmbeddings, "> 0")
        try require(expertDtype == nil || expertDtype == "fp4" || expertDtype == "fp8", "expert_dtype", expertDtype ?? "", "\"fp4\" or \"fp8\"")
        if let q = quantizationConfig {
            try require(q.quantMethod == "fp8", "quantization_config.quant_method", q.quantMethod, "\"fp8\"")
            try require(q.fmt == nil || q.fmt == "e4m3", "quantization_config.fmt", q.fmt ?? "", "\"e4m3\"")
            try require(q.scaleFmt == nil || q.scaleFmt == "ue8m0", "quantization_config.scale_fmt", q.scaleFmt ?? "", "\"ue8m0\"")
            try require(q.weightBlockSize == [128, 128], "quantization_config.weight_block_size", q.weightBlockSize, "[128, 128]")
        }
        try require(tieWordEmbeddings != true, "tie_word_embeddings", tieWordEmbeddings ?? false, "false (V4 has a separate head)")
        try require(hiddenAct == nil || hiddenAct == "silu", "hidden_act", hiddenAct ?? "", "\"silu\"")
    }
}

/// The three attention kinds of spec §3.7, named as the paper names them. Every kind also attends over the
/// sliding window of raw tokens.
public enum AttentionKind: String, Sendable, CaseIterable {
    /// ratio 0: sliding window only
    case slidingWindow = "SWA"
    /// ratio 4: overlapping 4-token compressed entries, top-k chosen by the lightning indexer
    case compressedSparse = "CSA"
    /// any other ratio (128 in the official checkpoints): all non-overlapping compressed entries
    case heavilyCompressed = "HCA"

    public init(ratio: Int) {
        switch ratio {
        case 0: self = .slidingWindow
        case 4: self = .compressedSparse
        default: self = .heavilyCompressed
        }
    }
}

public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case malformed(path: String, reason: String)
    case unsupportedModel(path: String, modelType: String, hint: String)
    case invalidValue(path: String, key: String, value: String, allowed: String)

    public var description: String {
        switch self {
        case .missingFile(let path): "no config.json at '\(path)'; hint: point --model at a checkpoint directory"
        case .malformed(let path, let reason): "'\(path)' is not a valid DeepSeek V4 config: \(reason)"
        case .unsupportedModel(let path, let type, let hint): "'\(path)': model_type \"\(type)\" is not supported. \(hint)"
        case .invalidValue(let path, let key, let value, let allowed): "'\(path)': \(key) = \(value) is not supported (expected \(allowed))"
        }
    }
}
