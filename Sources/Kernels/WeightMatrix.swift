// WeightMatrix: a read-only [N, K] weight in its checkpoint storage format, usually a view into a
// memory-mapped safetensors file, and `matmul`, the one product every linear layer uses.
//
//   x: (T, K)   W: (N, K)   out: (T, N) = x · Wᵀ
//
// The product is float32 throughout: FP8 E4M3, FP4 E2M1 and BF16 weights and their E8M0 block scales are
// all exact in float32, so the result equals the reference's "dequantize, then multiply in fp32".

import CKernels

public struct WeightMatrix: @unchecked Sendable {
    public enum Format: Sendable, Equatable {
        case f32
        case bf16
        /// F8_E4M3 values with one E8M0 scale per 128×128 block: scale shape [ceil(N/128), ceil(K/128)].
        case fp8
        /// Packed E2M1 pairs (low nibble = even column), one E8M0 scale per row and 32 columns: [N, K/32].
        case fp4
    }

    public let rows: Int
    public let cols: Int
    public let format: Format
    public let data: UnsafeRawPointer
    public let scale: UnsafePointer<UInt8>?

    public init(rows: Int, cols: Int, format: Format, data: UnsafeRawPointer, scale: UnsafePointer<UInt8>? = nil) {
        precondition(format == .f32 || format == .bf16 || scale != nil, "quantized weights need scales")
        precondition(format != .fp4 || cols % 32 == 0, "FP4 rows must hold whole 32-value blocks")
        self.rows = rows
        self.cols = cols
        self.format = format
        self.data = data
        self.scale = scale
    }

    var c: nw_matrix {
        let f: nw_format
        switch format {
        case .f32: f = NW_FORMAT_F32
        case .bf16: f = NW_FORMAT_BF16
        case .fp8: f = NW_FORMAT_FP8
        case .fp4: f = NW_FORMAT_FP4
        }
        return nw_matrix(data: data, scale: scale, rows: Int64(rows), cols: Int64(cols), format: Int32(f.rawValue))
    }

    /// Bytes of weight data plus scales.
    public var byteCount: Int {
        switch format {
        case .f32: rows * cols * 4
        case .bf16: rows * cols * 2
        case .fp8: rows * cols + ((rows + 127) / 128) * ((cols + 127) / 128)
        case .fp4: rows * cols / 2 + rows * cols / 32
        }
    }

    /// One weight value, decoded by the scalar Swift formats (the oracle of the C decoder).
    public func element(_ n: Int, _ k: Int) -> Float {
        switch format {
        case .f32:
            return data.loadUnaligned(fromByteOffset: (n * cols + k) * 4, as: Float.self)
        case .bf16:
            return BFloat16.decode(data.loadUnaligned(fromByteOffset: (n * cols + k) * 2, as: UInt16.self))
        case .fp8:
            let code = data.load(fromByteOffset: n * cols + k, as: UInt8.self)
            let s = scale![(n / 128) * ((cols + 127) / 128) + k / 128]
            return FP8E4M3.decode(code) * E8M0.decode(s)
        case .fp4:
            let byte = data.load(fromByteOffset: n * (cols / 2) + k / 2, as: UInt8.self)
            let code = k % 2 == 0 ? byte & 15 : byte >> 4
            return FP4E2M1.decode(code) * E8M0.decode(scale![n * (cols / 32) + k / 32])
        }
    }

    /// Rows [row0, row1) decoded to float32: (row1 − row0, K).
    public func dequantizedRows(_ range: Range<Int>) -> [Float] {
        var out = [Float](repeating: 0, count: range.count * cols)
        var m = c
        out.withUnsafeMutableBufferPointer { o in
            nw_dequantize_rows(&m, Int64(range.lowerBound), Int64(range.upperBound), o.baseAddress!)
        }
        return out
    }
}

/// out[t, n] = Σ_k W[n, k] · x[t, k] for t < T and n in `rowRange` (all rows by default).
/// x rows are `ldx` floats apart, out rows `ldo` floats apart. Parallel over output rows.
///
/// `activationsQuantized`: every x value is an FP8 E4M3 value times a power of two, as `fakeQuantizeFP8`
/// leaves it. FP8/FP4 weights then use BF16 dot products where the CPU has them (the same exact products,
/// summed in that path's own fixed order); elsewhere the flag changes nothing.
public func matmul(
    out: UnsafeMutablePointer<Float>, ldo: Int, x: UnsafePointer<Float>, ldx: Int, T: Int,
    weight: WeightMatrix, rowRange: Range<Int>? = nil, activationsQuantized: Bool = false
) {
    let range = rowRange ?? 0..<weight.rows
    guard T > 0, !range.isEmpty else { return }
    var w = weight.c
    // Chunks of about 256 KB of weights, but at least four per thread when there are rows enough, so a
    // descheduled thread delays only a small share of the work.
    let threads = ThreadPool.shared.workerCount + 1
    let bytesPerRow = max(1, weight.byteCount / max(1, weight.rows))
    let balanced = (range.count + 4 * threads - 1) / (4 * threads)
    let chunk = max(1, min(max(8, (256 << 10) / bytesPerRow), balanced))
    let chunks = (range.count + chunk - 1) / chunk
    let scratchBytes = Int(nw_matmul_scratch_bytes(Int64(weight.cols)))

    // The BF16 path takes the activations converted once, shared by every chunk.
    var xh: UnsafeMutableRawPointer?
    if activationsQuantized && nw_bf16_dot_applies(&w) != 0 {
        let length = Int(nw_bf16_row_length(Int64(weight.cols)))
        xh = UnsafeMutableRawPointer.allocate(byteCount: T * length * 2, alignment: 64)
        nw_activations_bf16(x, Int64(ldx), Int64(T), Int64(weight.cols), xh!.assumingMemoryBound(to: UInt16.self))
    }
    defer { xh?.deallocate() }
    // Kernels that want the activations permuted (FP4 under AVX2) take them permuted once, too.
    var xp: UnsafeMutablePointer<Float>?
    if xh == nil && nw_matmul_permutes(&w) != 0 {
        xp = .allocate(capacity: T * weight.cols)
        nw_permute_activations(&w, x, Int64(ldx), Int64(T), xp!)
    }
    defer { xp?.deallocate() }
    let ldxp = xp == nil ? ldx : weight.cols

    let o = UnsafeSendable(out), xs = UnsafeSendable(xp ?? UnsafeMutablePointer(mutating: x))
    let xhs = UnsafeSendable(xh?.assumingMemoryBound(to: UInt16.self))
    parallelFor(chunks) { i in
        let r0 = range.lowerBound + i * chunk
        let r1 = min(r0 + chunk, range.upperBound)
        withUnsafeTemporaryAllocation(byteCount: scratchBytes, alignment: 64) { scratch in
            var m = w
            if let xh = xhs.value {
                nw_matmul_bf16(&m, xh, o.value, Int64(ldo), Int64(T), Int64(r0), Int64(r1), scratch.baseAddress!)
            } else {
                nw_matmul(&m, xs.value, Int64(ldxp), o.value, Int64(ldo), Int64(T), Int64(r0), Int64(r1),
                          scratch.baseAddress!.assumingMemoryBound(to: Float.self))
            }
        }
    }
}

/// `out = x · Wᵀ` for whole matrices (see above for `activationsQuantized`).
public func matmul(_ x: Matrix, _ weight: WeightMatrix, activationsQuantized: Bool = false) -> Matrix {
    precondition(x.cols == weight.cols, "matmul: x has \(x.cols) columns, weight expects \(weight.cols)")
    var out = Matrix(rows: x.rows, cols: weight.rows)
    out.storage.withUnsafeMutableBufferPointer { o in
        x.storage.withUnsafeBufferPointer { xb in
            matmul(out: o.baseAddress!, ldo: weight.rows, x: xb.baseAddress!, ldx: x.cols, T: x.rows, weight: weight,
                   activationsQuantized: activationsQuantized)
        }
    }
    return out
}

/// Scalar oracle for ``matmul(out:ldo:x:ldx:T:weight:rowRange:)``: decodes every weight with the Swift
/// formats and accumulates in Double. Slow on purpose; tests only.
public func matmulReference(_ x: Matrix, _ weight: WeightMatrix) -> Matrix {
    var out = Matrix(rows: x.rows, cols: weight.rows)
    for t in 0..<x.rows {
        for n in 0..<weight.rows {
            var acc = 0.0
            for k in 0..<weight.cols { acc += Double(weight.element(n, k)) * Double(x[t, k]) }
            out[t, n] = Float(acc)
        }
    }
    return out
}
