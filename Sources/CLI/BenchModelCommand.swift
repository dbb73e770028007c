// `narwhal bench --model DIR`: prefill and decode speed of a checkpoint, each next to its ceiling measured
// in the same run — decode against memory bandwidth (active weight bytes per token × tokens/s ÷ read
// bandwidth), prefill against arithmetic (2 × active parameters × tokens/s ÷ peak FLOP/s).

import ArgumentParser
import DeepSeekV4
import Foundation
import Kernels

struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Prefill and decode speed of a model against the machine's limits (the default).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Prompt lengths for prefill, comma-separated.")
    var prefill = "512,4096"

    @Option(help: "Context lengths for decode, comma-separated (the cache is filled synthetically).")
    var context = "1024,8192,32768"

    @Option(help: "Decode steps per context.")
    var steps = 16

    @Flag(help: "Benchmark the individual kernels instead (see `narwhal bench kernels`).")
    var kernels = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        if kernels {
            let k = try BenchKernelsCommand.parse(json ? ["--json"] : [])
            try k.run()
            return
        }
        let prompts = try parseLengths(prefill, "--prefill")
        let contexts = try parseLengths(context, "--context")
        guard steps >= 1 else { throw ValidationError("--steps must be >= 1") }
        let directory = try modelOptions.directory()
        let model = try DeepSeekV4Model(directory: directory)
        let inventory = try ModelInventory.load(directory: directory)
        let maxContext = (contexts + prompts).max() ?? 0
        if maxContext > model.config.maxPositionEmbeddings { model.maxContext = maxContext + steps }

        // The weights in memory before anything is timed, as `run` and `serve` load them (and as llama-bench
        // loads its model): the first prefill would otherwise also read or map the checkpoint. Then one untimed
        // prefill (the shortest prompt, at most 512 tokens) for what a first call of that size pays once, as
        // llama-bench's warm-up run does. Without both, a 512-token prompt measured 15% slower on the
        // Flash-shape model here; with the weights loaded but a 16-token warm-up, 6%.
        if inventory.usedWeightBytes < SystemMemory.current.available {
            if !json { printError("loading weights…") }
            model.prefaultWeights { _, _ in }
        }
        let vocabulary = model.config.vocabSize
        /// A synthetic prompt of n tokens spread over the vocabulary.
        func prompt(_ n: Int) -> [Int] { (0..<n).map { ($0 &* 7919 &+ 13) % vocabulary } }
        _ = try model.prefill(prompt(min(prompts.min() ?? 16, 512)), cache: model.makeCache())

        let bandwidth = MachineProbe.readBandwidth()
        let fp32 = MachineProbe.peakGFLOPs(bf16: false)
        let bf16 = MachineProbe.peakGFLOPs(bf16: true)
        let activeBytes = inventory.activeWeightBytesPerToken
        let flopsPerToken = 2.0 * Double(inventory.parameters.active - inventory.parameters.embedding)

        struct Decode: Encodable { let context: Int, tokens_per_s: Double, ms_per_token: Double, active_bytes_per_token: Int, bandwidth_fraction: Double, kv_bytes: Int }
        struct Prefill: Encodable { let prompt_tokens: Int, tokens_per_s: Double, seconds: Double, flops_fraction: Double, kv_bytes: Int }
        var decodes: [Decode] = []
        var prefills: [Prefill] = []
        for n in prompts {
            let tokens = prompt(n)
            let cache = model.makeCache()
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try model.prefill(tokens, cache: cache)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let rate = Double(n) / seconds
            prefills.append(Prefill(prompt_tokens: n, tokens_per_s: rate, seconds: seconds, flops_fraction: rate * flopsPerToken / 1e9 / max(fp32, bf16),
                                    kv_bytes: cache.byteCount))
            if !json { printError(String(format: "prefill %6d tokens: %8.1f tok/s", n, rate)) }
        }
        for c in contexts {
            let cache = model.syntheticCache(context: c)
            _ = try model.forward([1], cache: cache)  // warm-up step (page faults, first-touch)
            var best = Double.infinity
            for i in 0..<steps {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try model.forward([(i * 31 + 5) % vocabulary], cache: cache)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let rate = 1 / best
            decodes.append(Decode(context: c, tokens_per_s: rate, ms_per_token: best * 1000, active_bytes_per_token: activeBytes,
                                  bandwidth_fraction: Double(activeBytes) * rate / 1e9 / bandwidth, kv_bytes: cache.byteCount))
            if !json { printError(String(format: "decode at %6d: %8.2f tok/s", c, rate)) }
        }

        if json {
            struct Report: Encodable {
                let model: String, isa: String, threads: Int
                let read_bandwidth_gbs: Double, fp32_peak_gflops: Double, bf16_peak_gflops: Double
                let active_bytes_per_token: Int
                let decode: [Decode], prefill: [Prefill]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let report = Report(model: directory.lastPathComponent, isa: ISA.summary, threads: ThreadPool.shared.workerCount + 1,
                                read_bandwidth_gbs: bandwidth, fp32_peak_gflops: fp32, bf16_peak_gflops: bf16,
                                active_bytes_per_token: activeBytes, decode: decodes, prefill: prefills)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(directory.lastPathComponent): \(ISA.summary), \(ThreadPool.shared.workerCount + 1) threads")
        print(String(format: "machine: read %.1f GB/s · FP32 %.0f GFLOP/s · BF16 %.0f GFLOP/s", bandwidth, fp32, bf16))
        print(String(format: "active weights per token: %.1f MB", Double(activeBytes) / 1e6))
        print("decode   context   tok/s   ms/token   of bandwidth   KV cache")
        for d in decodes {
            print(String(format: "         %7d  %6.2f   %8.1f   %11.0f%%   %8.1f MB", d.context, d.tokens_per_s, d.ms_per_token,
                         100 * d.bandwidth_fraction, Double(d.kv_bytes) / 1e6))
        }
        print("prefill  tokens    tok/s    seconds   of peak FLOP/s   KV cache")
        for p in prefills {
            print(String(format: "         %6d  %7.1f   %8.2f   %11.1f%%     %8.1f MB", p.prompt_tokens, p.tokens_per_s, p.seconds,
                         100 * p.flops_fraction, Double(p.kv_bytes) / 1e6))
        }
    }

    private func parseLengths(_ text: String, _ flag: String) throws -> [Int] {
        if text.isEmpty { return [] }
        return try text.split(separator: ",").map { part in
            let t = part.trimmingCharacters(in: .whitespaces).lowercased()
            let value = t.hasSuffix("k") ? Int(t.dropLast()).map { $0 * 1024 } : Int(t)
            guard let v = value, v >= 1, v <= 1 << 22 else { throw ValidationError("\(flag): '\(part)' is not a length (e.g. 512, 8K)") }
            return v
        }
    }
}
