// Writing config.json with the official key set (spec §2.2): the fields of `DeepSeekV4Config` plus the keys
// the official files carry that no loader needs (architectures, torch_dtype, …) with their official values,
// in the official order (alphabetical, then compress_rope_theta and compress_ratios), formatted like the
// official files (two-space indent, Python's number spelling: 10000, 10.0, 1e-06). The output is a pure
// function of the config, so generated checkpoints are byte-for-byte reproducible.

import Foundation

extension DeepSeekV4Config {
    /// config.json text with exactly the key set of the official DeepSeek V4 checkpoints.
    public func officialJSON() -> Data {
        var keys: [(String, JSONValue)] = [
            ("architectures", .array([.string("DeepseekV4ForCausalLM")])),
            ("attention_bias", .bool(false)),
            ("attention_dropout", .number("0.0")),
            ("bos_token_id", .int(bosTokenId)),
            ("eos_token_id", .int(eosTokenId)),
        ]
        if let expertDtype { keys.append(("expert_dtype", .string(expertDtype))) }
        keys += [
            ("hc_eps", .float(hcEps)),
            ("hc_mult", .int(hcMult)),
            ("hc_sinkhorn_iters", .int(hcSinkhornIters)),
            ("head_dim", .int(headDim)),
            ("hidden_act", .string(hiddenAct ?? "silu")),
            ("hidden_size", .int(hiddenSize)),
            ("index_head_dim", .int(indexHeadDim)),
            ("index_n_heads", .int(indexNHeads)),
            ("index_topk", .int(indexTopk)),
            ("initializer_range", .number("0.02")),
            ("max_position_embeddings", .int(maxPositionEmbeddings)),
            ("model_type", .string(modelType)),
            ("moe_intermediate_size", .int(moeIntermediateSize)),
            ("n_routed_experts", .int(nRoutedExperts)),
            ("n_shared_experts", .int(nSharedExperts)),
            ("norm_topk_prob", .bool(true)),
            ("num_attention_heads", .int(numAttentionHeads)),
            ("num_experts_per_tok", .int(numExpertsPerTok)),
            ("num_hidden_layers", .int(numHiddenLayers)),
            ("num_hash_layers", .int(numHashLayers)),
            ("num_key_value_heads", .int(numKeyValueHeads)),
            ("num_nextn_predict_layers", .int(numNextnPredictLayers)),
            ("o_groups", .int(oGroups)),
            ("o_lora_rank", .int(oLoraRank)),
            ("q_lora_rank", .int(qLoraRank)),
            ("qk_rope_head_dim", .int(qkRopeHeadDim)),
        ]
        if let q = quantizationConfig {
            var fields: [(String, JSONValue)] = []
            if let scheme = q.activationScheme { fields.append(("activation_scheme", .string(scheme))) }
            if let fmt = q.fmt { fields.append(("fmt", .string(fmt))) }
            fields.append(("quant_method", .string(q.quantMethod)))
            if let scaleFmt = q.scaleFmt { fields.append(("scale_fmt", .string(scaleFmt))) }
            fields.append(("weight_block_size", .array(q.weightBlockSize.map { .int($0) })))
            keys.append(("quantization_config", .object(fields)))
        }
        keys += [
            ("rms_norm_eps", .float(rmsNormEps)),
            ("rope_scaling", .object([
                ("beta_fast", .double(ropeScaling.betaFast)),
                ("beta_slow", .double(ropeScaling.betaSlow)),
                ("factor", .double(ropeScaling.factor)),
                ("original_max_position_embeddings", .int(ropeScaling.originalMaxPositionEmbeddings)),
                ("type", .string(ropeScaling.type)),
            ])),
            ("rope_theta", .double(ropeTheta)),
            ("routed_scaling_factor", .float(routedScalingFactor)),
            ("scoring_func", .string(scoringFunc)),
            ("sliding_window", .int(slidingWindow)),
            ("swiglu_limit", .float(swigluLimit)),
            ("tie_word_embeddings", .bool(tieWordEmbeddings ?? false)),
            ("topk_method", .string("noaux_tc")),
            ("torch_dtype", .string("bfloat16")),
            ("transformers_version", .string("4.57.1")),
            ("use_cache", .bool(true)),
            ("vocab_size", .int(vocabSize)),
            ("compress_rope_theta", .double(compressRopeTheta)),
        ]
        if let dsparkBlockSize { keys.append(("dspark_block_size", .int(dsparkBlockSize))) }
        var text = JSONValue.object(keys).rendered(indent: "")
        // The official files keep the long ratio list on one line at the end.
        text.removeLast(2)  // "\n}"
        text += ",\n  \"compress_ratios\": [\(compressRatios.map(String.init).joined(separator: ", "))]\n}\n"
        return Data(text.utf8)
    }
}

/// Just enough JSON to print config.json in a fixed key order (Foundation's encoders sort or shuffle keys
/// and spell floats as their binary expansion: Float 1e-6 would come out as 9.99999997e-07).
private indirect enum JSONValue {
    case string(String)
    case int(Int)
    /// A number already spelled as it should appear.
    case number(String)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Python's spelling of a float that holds an integer-valued hyperparameter (rope_theta 10000) is
    /// the integer when the official file has an integer; a Double from our config with no fraction is
    /// written as one.
    static func double(_ v: Double) -> JSONValue {
        v == v.rounded() && abs(v) < 1e15 ? .int(Int(v)) : .number("\(v)")
    }

    /// Float's shortest round-trip spelling is Python's too (1e-06, 1.5, 10.0).
    static func float(_ v: Float) -> JSONValue { .number("\(v)") }

    func rendered(indent: String) -> String {
        switch self {
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                default: out += u.value < 0x20 ? String(format: "\\u%04x", u.value) : String(u)
                }
            }
            return out + "\""
        case .int(let v): return String(v)
        case .number(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .array(let items):
            let inner = indent + "  "
            return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let fields):
            let inner = indent + "  "
            return "{\n" + fields.map { inner + JSONValue.string($0.0).rendered(indent: inner) + ": " + $0.1.rendered(indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        }
    }
}
