// `narwhal inspect`: describes a checkpoint and what it takes to run it — architecture, parameters, weight
// bytes, KV cache and a memory estimate. Works from config.json alone (plan hardware before downloading the
// weights) and checks the weight files when they are there. The numbers come from `ModelInventory`; this
// file only formats them, as text or as one JSON object (--json).

import ArgumentParser
import DeepSeekV4
import Foundation
import Weights

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a checkpoint: architecture, parameters, weight bytes, KV cache and memory needed.",
        discussion: "Needs only config.json; when the safetensors files are present they are checked against it.")

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "Context length in tokens for the KV cache and memory figures (default: max_position_embeddings).")
    var context: Int?

    /// The KV figures are quoted at this context too, as the spec quotes them.
    static let oneMillion = 1 << 20
    /// Arithmetic on the validated config stays inside Int up to this context.
    static let maxContext = 1 << 32

    func validate() throws {
        if let context, !(1...Self.maxContext).contains(context) {
            throw ValidationError("--context must be between 1 and \(Self.maxContext) tokens")
        }
    }

    func run() async throws {
        let inventory = try ModelInventory.load(directory: try modelOptions.directory())
        if json {
            print(try jsonReport(inventory))
        } else {
            print(textReport(inventory))
        }
        if let error = inventory.checkpoint?.comparison.error {
            throw error
        }
    }

    // MARK: Text

    func textReport(_ inv: ModelInventory) -> String {
        let c = inv.config
        let params = inv.parameters
        let contextTokens = context ?? c.maxPositionEmbeddings
        var out: [String] = []
        func line(_ label: String, _ value: String) { out.append("  " + label.padding(toLength: 20, withPad: " ", startingAt: 0) + value) }

        out.append("DeepSeek V4 checkpoint (model_type \(c.modelType))")
        line("vocabulary", "\(grouped(c.vocabSize)) tokens, context \(grouped(c.maxPositionEmbeddings))")
        line("hidden size", "\(c.hiddenSize), \(c.hcMult) hyper-connection streams")
        let kinds = AttentionKind.allCases.compactMap { kind -> String? in
            let layers = inv.layers(kind)
            guard !layers.isEmpty else { return nil }
            let name = switch kind {
            case .slidingWindow: "SWA"
            case .compressedSparse: "CSA (ratio 4)"
            case .heavilyCompressed: "HCA (ratio \(inv.heavilyCompressedRatios.map(String.init).joined(separator: "/")))"
            }
            return "\(layers.count) \(name): \(ranges(layers))"
        }
        line("layers", "\(c.numHiddenLayers) — " + kinds.joined(separator: "; "))
        line("attention", "\(c.numAttentionHeads) heads × \(c.headDim), one shared K=V, window \(c.slidingWindow), "
            + "q rank \(c.qLoraRank), \(c.oGroups) output groups × \(c.oLoraRank)")
        if !inv.layers(.compressedSparse).isEmpty {
            line("indexer", "\(c.indexNHeads) heads × \(c.indexHeadDim), top \(c.indexTopk) (CSA layers)")
        }
        line("experts", "\(c.nRoutedExperts) routed (\(c.numExpertsPerTok) per token, \(c.expertsAreFP4 ? "FP4" : "FP8")) + "
            + "\(c.nSharedExperts) shared, width \(c.moeIntermediateSize)")
        line("hash-routed layers", c.numHashLayers == 0 ? "none" : "\(c.numHashLayers): \(ranges(Array(0..<c.numHashLayers)))")
        line("MTP", mtpSummary(inv))

        out.append("Parameters (MTP excluded)")
        line("total", "\(paramText(params.total)) (\(grouped(params.total)))")
        line("active per token", "\(paramText(params.active)) (\(grouped(params.active)); "
            + "\(paramText(params.activeExcludingEmbedding)) without the embedding)")
        if params.mtp > 0 { line("MTP block", "\(paramText(params.mtp)) (\(grouped(params.mtp)))") }

        switch inv.weightSource {
        case .config: out.append("Weights (computed from config.json with the official dtypes; no weight files found)")
        case .checkpoint: out.append("Weights (from the \(inv.checkpoint!.shardCount) safetensors file(s))")
        }
        line("total", "\(grouped(inv.weightBytes)) bytes (\(byteText(inv.weightBytes))) in \(grouped(inv.tensorCount)) tensors")
        for (dtype, count) in inv.weightBytesByDType.sorted(by: { $0.value > $1.value }) {
            line("  " + dtype.rawValue, "\(grouped(count)) bytes (\(byteText(count)))")
        }
        if inv.weightSource == .config && inv.unusedDrafterStages > 0 {
            line("not counted", "\(inv.unusedDrafterStages) drafter stage(s): config.json does not describe their tensors")
        }
        if let checkpoint = inv.checkpoint { out.append(contentsOf: checkText(checkpoint)) }

        out.append("KV cache per sequence (main layers; spec §3.8)")
        for format in [KVCache.Format.native, .bf16] {
            let kv = inv.kvCache(format)
            line(format == .native ? "native" : "BF16",
                 "\(kv.entryBytes) B per entry" + (inv.layers(.compressedSparse).isEmpty ? "" : " + \(kv.indexerEntryBytes) B indexer key")
                 + "; \(grouped(kv.bytesPerToken)) B per token + \(byteText(kv.windowBytes)) of windows")
            line("", "at \(grouped(Self.oneMillion)) tokens: \(byteText(kv.bytes(context: Self.oneMillion)))"
                 + (context.map { ", at \(grouped($0)): \(byteText(kv.bytes(context: $0)))" } ?? ""))
        }

        let memory = inv.memoryEstimate(context: contextTokens)
        out.append("Memory to run one sequence of \(grouped(contextTokens)) tokens (estimate)")
        line("weights (mapped)", byteText(memory.weightBytes))
        line("KV cache (native)", byteText(memory.kvCacheBytes))
        line("compressor state", byteText(memory.compressorStateBytes))
        line("activations", "\(byteText(memory.workingSetBytes)) (one prefill chunk of \(DeepSeekV4Model.defaultPrefillChunk) tokens)")
        line("total", "≈ \(byteText(memory.totalBytes))")
        if let context, context > c.maxPositionEmbeddings {
            out.append("note: --context \(grouped(context)) is beyond max_position_embeddings (\(grouped(c.maxPositionEmbeddings)))")
        }
        return out.joined(separator: "\n")
    }

    func mtpSummary(_ inv: ModelInventory) -> String {
        let c = inv.config
        if c.dsparkBlockSize != nil {
            return "\(c.numNextnPredictLayers) DSpark drafter stage(s) (mtp.*), not used by Narwhal"
        }
        switch c.numNextnPredictLayers {
        case 0: return "none"
        case 1: return "1 block (mtp.0), used"
        case let n: return "\(n) blocks, mtp.0 used, \(n - c.mtpBlocksUsed) not used"
        }
    }

    func checkText(_ checkpoint: ModelInventory.Checkpoint) -> [String] {
        let cmp = checkpoint.comparison
        var out: [String] = []
        if cmp.matches {
            out.append("  check               every tensor matches config.json")
        } else {
            out.append("  check               the files do NOT match config.json: \(cmp.missing.count) missing, "
                + "\(cmp.mismatched.count) with another dtype or shape, \(cmp.unexpected.count) unexpected")
            for error in ([cmp.error].compactMap { $0 } + cmp.mismatched.dropFirst()).prefix(5) {
                out.append("    - \(error)")
            }
        }
        if !cmp.unusedDrafter.isEmpty {
            out.append("  unused              \(grouped(cmp.unusedDrafter.count)) drafter tensors "
                + "(\(byteText(checkpoint.unusedBytes))) stay on disk")
        }
        return out
    }

    // MARK: JSON

    func jsonReport(_ inv: ModelInventory) throws -> String {
        let c = inv.config
        let p = inv.parameters
        let native = inv.kvCache(.native)
        let bf16 = inv.kvCache(.bf16)
        let memory = inv.memoryEstimate(context: context ?? c.maxPositionEmbeddings)
        var report: [String: Any] = [
            "model_type": c.modelType,
            "hidden_size": c.hiddenSize,
            "vocab_size": c.vocabSize,
            "num_layers": c.numHiddenLayers,
            "layer_kinds": inv.layerKinds.map(\.rawValue),
            "compress_ratios": Array(c.compressRatios.prefix(c.numHiddenLayers)),
            "hash_layers": Array(0..<c.numHashLayers),
            "attention_heads": c.numAttentionHeads,
            "head_dim": c.headDim,
            "routed_experts": c.nRoutedExperts,
            "shared_experts": c.nSharedExperts,
            "experts_per_token": c.numExpertsPerTok,
            "mtp_blocks": c.numNextnPredictLayers,
            "mtp_blocks_used": c.mtpBlocksUsed,
            "drafter_stages_unused": inv.unusedDrafterStages,
            "total_parameters": p.total,
            "active_parameters": p.active,
            "active_parameters_excluding_embedding": p.activeExcludingEmbedding,
            "embedding_parameters": p.embedding,
            "mtp_parameters": p.mtp,
            "weight_source": inv.weightSource.rawValue,
            "weight_bytes": inv.weightBytes,
            "weight_bytes_by_dtype": Dictionary(uniqueKeysWithValues: inv.weightBytesByDType.map { ($0.key.rawValue, $0.value) }),
            "tensor_count": inv.tensorCount,
            "kv_bytes_per_token": native.bytesPerToken,
            "kv_bytes_per_token_exact": native.compressedBytesPerToken,
            "kv_window_bytes": native.windowBytes,
            "kv_bytes_at_1m_tokens": native.bytes(context: Self.oneMillion),
            "kv_bf16_bytes_per_token": bf16.bytesPerToken,
            "kv_bf16_window_bytes": bf16.windowBytes,
            "kv_bf16_bytes_at_1m_tokens": bf16.bytes(context: Self.oneMillion),
            "memory_estimate": [
                "context": memory.context,
                "weight_bytes": memory.weightBytes,
                "kv_bytes": memory.kvCacheBytes,
                "compressor_state_bytes": memory.compressorStateBytes,
                "working_set_bytes": memory.workingSetBytes,
                "total_bytes": memory.totalBytes,
            ],
        ]
        if let context {
            report["context"] = context
            report["kv_bytes"] = native.bytes(context: context)
            report["kv_bf16_bytes"] = bf16.bytes(context: context)
        }
        if let checkpoint = inv.checkpoint {
            let cmp = checkpoint.comparison
            // A config that does not fit the weights at all can mismatch every tensor: list the first few.
            let shown = 20
            report["checkpoint"] = [
                "shards": checkpoint.shardCount,
                "matches_config": cmp.matches,
                "missing_tensor_count": cmp.missing.count,
                "missing_tensors": Array(cmp.missing.prefix(shown)),
                "mismatched_tensor_count": cmp.mismatched.count,
                "mismatched_tensors": cmp.mismatched.prefix(shown).map(\.description),
                "unexpected_tensor_count": cmp.unexpected.count,
                "unexpected_tensors": Array(cmp.unexpected.prefix(shown)),
                "unused_drafter_tensors": cmp.unusedDrafter.count,
                "unused_drafter_bytes": checkpoint.unusedBytes,
            ] as [String: Any]
        }
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

// MARK: Number formatting

/// 1234567 → "1,234,567"
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// A parameter count as the spec quotes them: "284.33 B", "1.573 T"; small models in millions.
func paramText(_ n: Int) -> String {
    let x = Double(n)
    if x >= 1e12 { return String(format: "%.3f T", x / 1e12) }
    if x >= 1e9 { return String(format: "%.2f B", x / 1e9) }
    return String(format: "%.2f M", x / 1e6)
}

/// A byte count in the largest binary unit that keeps it at 1 or more: "148.65 GiB", "3.1 MiB".
func byteText(_ n: Int) -> String {
    let x = Double(n)
    if x >= Double(1 << 30) { return String(format: "%.2f GiB", x / Double(1 << 30)) }
    if x >= Double(1 << 20) { return String(format: "%.1f MiB", x / Double(1 << 20)) }
    if x >= Double(1 << 10) { return String(format: "%.1f KiB", x / Double(1 << 10)) }
    return "\(n) B"
}

/// Layer indices as runs: [0, 1, 3, 5, 7] → "0–1, 3, 5, …, 7"; a run is a stretch with one constant step.
func ranges(_ xs: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < xs.count {
        var j = i
        let step = i + 1 < xs.count ? xs[i + 1] - xs[i] : 1
        while j + 1 < xs.count && xs[j + 1] - xs[j] == step { j += 1 }
        if j > i && step == 1 {
            parts.append("\(xs[i])–\(xs[j])")
        } else if j - i < 3 {
            parts.append(contentsOf: xs[i...j].map(String.init))
        } else {
            parts.append("\(xs[i]), \(xs[i] + step), …, \(xs[j])")
        }
        i = j + 1
    }
    return parts.joined(separator: ", ")
}
