// Linear: a bias-free projection y = x · Wᵀ with the weight in its checkpoint format.
//
// FP8- and FP4-weight linears quantize their input to FP8 E4M3 in blocks of 128 first (spec §3.12);
// the `quantize` flag of the forward pass switches that off for the fixtures' `noquant` mode. BF16/F32
// linears (compressor, gate, indexer weights_proj, head) never quantize their input. Projections that
// share an input (W_qa and W_kv, an expert's W1 and W3, all experts of one MoE input) take a
// `LinearInput`, quantized once.

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
        self(LinearInput(x, quantize: quantize && quantizesInput))
    }

    /// input: (T, K) → (T, N)
    func callAsFunction(_ input: LinearInput) -> Matrix {
        if quantizesInput, let q = input.quantized { return matmul(q, weight, activationsQuantized: true) }
        return matmul(input.raw, weight)
    }
}

/// An activation as linears take it: the raw rows, and their FP8 quantization when the forward pass
/// quantizes (used by FP8/FP4 weights; BF16/F32 weights take the raw rows).
struct LinearInput {
    let raw: Matrix
    let quantized: Matrix?

    init(_ x: Matrix, quantize: Bool) {
        raw = x
        quantized = quantize ? quantizedRowsFP8(x) : nil
    }

    private init(raw: Matrix, quantized: Matrix?) {
        self.raw = raw
        self.quantized = quantized
    }

    /// The given rows, in order (quantization is per row, so gathering commutes with it).
    func rows(_ indices: [Int]) -> LinearInput {
        LinearInput(raw: raw.gathering(rows: indices), quantized: quantized?.gathering(rows: indices))
    }
}
