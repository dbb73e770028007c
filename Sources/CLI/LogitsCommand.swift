// `narwhal logits`: exposes the model for checking against golden data. Prefills the given ids from a
// fresh state, then decodes one token per step (teacher-forced with --feed, or greedy), and writes float32
// prefill_logits [V], decode_logits [steps, V], int64 tokens [steps] (the ids fed) and, with --mtp-next,
// mtp_logits [V] to a safetensors file.

import ArgumentParser
import DeepSeekV4
import Foundation
import Weights

struct LogitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits", abstract: "Compute logits for given token ids and save them as safetensors.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Prompt token ids, comma-separated.")
    var tokens: String

    @Option(help: "Token ids to feed one per decode step (teacher forcing), comma-separated.")
    var feed: String?

    @Option(help: "Number of greedy decode steps (feeding back the argmax) when --feed is not given.")
    var decode: Int = 0

    @Flag(name: .customLong("no-quant"), help: "Switch off the reference's activation quantization (FP8 linear inputs, FP8 KV, FP4 indexer).")
    var noQuant = false

    @Option(name: .customLong("mtp-next"), help: "The token after the prompt: also run the MTP block and write mtp_logits.")
    var mtpNext: Int?

    @Option(help: "Output .safetensors file.")
    var out: String

    func run() async throws {
        let prompt = try parseIDs(tokens, flag: "--tokens")
        guard !prompt.isEmpty else { throw ValidationError("--tokens needs at least one id") }
        let fed = try feed.map { try parseIDs($0, flag: "--feed") }
        guard decode >= 0 else { throw ValidationError("--decode must be >= 0") }

        // Float32 caches: the goldens keep every value float32 (the native cache rounds the RoPE dims to BF16).
        let model = try DeepSeekV4Model(directory: try modelOptions.directory(), kvFormat: .float32)
        model.quantizeActivations = !noQuant
        let run = try model.runLogits(prompt: prompt, feed: fed, greedySteps: decode, mtpNext: mtpNext)

        let V = model.config.vocabSize
        var writer = SafetensorsWriter()
        writer.add(.float32("prefill_logits", shape: [V], run.prefillLogits))
        if let mtp = run.mtpLogits { writer.add(.float32("mtp_logits", shape: [V], mtp)) }
        writer.add(.float32("decode_logits", shape: [run.tokens.count, V], run.decodeLogits.flatMap { $0 }))
        writer.add(.int64("tokens", shape: [run.tokens.count], run.tokens.map(Int64.init)))
        try writer.write(to: URL(fileURLWithPath: out))
    }
}

func parseIDs(_ text: String, flag: String) throws -> [Int] {
    try text.split(separator: ",").map { part in
        guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("\(flag): '\(part)' is not a token id")
        }
        return v
    }
}
