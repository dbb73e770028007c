// MachineProbe: the machine's ceilings, measured in the same run as the figures they bound (machines
// are shared and noisy: compare ratios measured together, not absolute numbers across runs).

import CKernels
import Foundation

public enum MachineProbe {
    /// Read bandwidth in GB/s: every thread of the pool streams its share of a buffer much larger than
    /// the caches; best of `repeats`.
    public static func readBandwidth(megabytes: Int = 512, repeats: Int = 5) -> Double {
        let count = megabytes << 18  // floats
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        // Touch every page so the first pass does not measure page faults.
        parallelFor(64) { i in
            let chunk = count / 64
            (buffer + i * chunk).initialize(repeating: 1, count: i == 63 ? count - 63 * chunk : chunk)
        }
        let p = UnsafeSendable(buffer)
        var best = 0.0
        let chunks = 4 * max(1, ThreadPool.shared.workerCount + 1)
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            parallelFor(chunks) { i in
                let chunk = count / chunks
                _ = nw_probe_read(p.value + i * chunk, Int64(chunk))
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(count * 4) / seconds / 1e9)
        }
        return best
    }

    /// Peak GFLOP/s of FP32 FMA (fp32 == true) or BF16 dot products on all threads of the pool: one probe
    /// task per thread, each timed on its own and the rates summed, so a task that waited for a core (or
    /// ran after another on the same thread) does not halve the figure; best of three.
    public static func peakGFLOPs(bf16: Bool) -> Double {
        let threads = ThreadPool.shared.workerCount + 1
        let iterations: Int64 = 20_000_000
        var best = 0.0
        for _ in 0..<3 {
            let rates = UnsafeMutablePointer<Double>.allocate(capacity: threads)
            defer { rates.deallocate() }
            let r = UnsafeSendable(rates)
            parallelFor(threads) { i in
                var sink: Float = 0
                let start = DispatchTime.now().uptimeNanoseconds
                let flops = bf16 ? nw_probe_bf16(iterations, &sink) : nw_probe_fma(iterations, &sink)
                r.value[i] = flops / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                if sink == 12345.678 { print("") }  // keep the result observable
            }
            var total = 0.0
            for i in 0..<threads { total += r.value[i] }
            best = max(best, total / 1e9)
        }
        return best
    }
}
