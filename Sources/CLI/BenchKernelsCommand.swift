// `narwhal bench kernels`: each matrix kernel next to the machine's limits, measured in the same run.

import ArgumentParser
import Foundation
import Kernels

struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "Time the matrix kernels against the measured bandwidth and FLOP/s peaks.")

    @Option(help: "Weight size per kernel in MB (well above the caches).")
    var megabytes = 256

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        guard (16...8192).contains(megabytes) else { throw ValidationError("--megabytes must be 16…8192") }
        let bandwidth = MachineProbe.readBandwidth()
        let fp32 = MachineProbe.peakGFLOPs(bf16: false)
        let bf16 = MachineProbe.peakGFLOPs(bf16: true)
        let results = KernelBenchmark.run(megabytes: megabytes)
        if json {
            struct Report: Encodable {
                let isa: String, threads: Int, read_bandwidth_gbs: Double, fp32_peak_gflops: Double, bf16_peak_gflops: Double
                let kernels: [KernelBenchmark.Result]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let report = Report(isa: ISA.summary, threads: ThreadPool.shared.workerCount + 1, read_bandwidth_gbs: bandwidth,
                                fp32_peak_gflops: fp32, bf16_peak_gflops: bf16, kernels: results)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("ISA \(ISA.summary), \(ThreadPool.shared.workerCount + 1) threads")
        print(String(format: "read bandwidth %.1f GB/s · FP32 FMA peak %.0f GFLOP/s · BF16 dot peak %.0f GFLOP/s", bandwidth, fp32, bf16))
        print("kernel  format  tokens      GB/s  of bandwidth   GFLOP/s  of peak   arithmetic")
        for r in results {
            let peak = r.arithmetic == "bf16-dot" ? bf16 : fp32
            print(String(format: "%-7@ %-7@ %6d  %8.1f  %11.0f%%  %8.1f  %6.1f%%   %@", r.kernel, r.format, r.tokens,
                         r.gigabytesPerSecond, 100 * r.gigabytesPerSecond / bandwidth, r.gflops, 100 * r.gflops / peak, r.arithmetic))
        }
    }
}
