// Linear: a bias-free projection y = x · Wᵀ with the weight in its checkpoint format.
//
// FP8- and FP4-weight linears quantize their input to FP8 E4M3 in blocks of 128 first (spec §3.12);
// the `quantize` flag of the forward pass switches that off for the fixtures' `noquant` mode. BF16/F32
// linears (compressor, gate, indexer weights_proj, head) never quantize their input.

import Kernels

struct Linear: Sendable {
    let weight: WeightMatrix
    /// True for FP8/FP4 weights: the reference quantizes the activation before the GEMM.
    let quantizesInput: Bool

    init(_ weight: WeightMatrix) {
        self.weight = weight
        self.quantizesInput = weight.format == .fp8 || weight.format == .fp4
    }

    var outFeatures: Int { weight.rows }
    var inFeatures: Int { weight.cols }

    /// x: (T, K) → (T, N)
    func callAsFunction(_ x: Matrix, quantize: Bool) -> Matrix {
        guard quantizesInput && quantize else { return matmul(x, weight) }
        var q = x
        quantizeRowsFP8(&q)
        return matmul(q, weight, activationsQuantized: true)
    }
}

/// FP8 activation fake-quantization of each row in blocks of 128 (spec §3.12 `act_quant`).
func quantizeRowsFP8(_ x: inout Matrix, block: Int = 128) {
    let C = x.cols
    x.storage.withUnsafeMutableBufferPointer { b in
        for t in 0..<x.rows { fakeQuantizeFP8(b.baseAddress! + t * C, count: C, block: block) }
    }
}
