// RMSNorm over the last dimension.
//   x, out: (T, C)   weight: (C) or none
//   out[t, i] = x[t, i] / sqrt(mean_j(x[t, j]^2) + eps) · weight[i]
// Sums of squares accumulate in Double: cheap at these sizes and independent of C.

/// Normalizes `count` values in place, optionally scaled by `weight`.
@inlinable
public func rmsNorm(_ x: UnsafeMutablePointer<Float>, count: Int, weight: UnsafePointer<Float>?, eps: Float) {
    var ss = 0.0
    for i in 0..<count { ss += Double(x[i]) * Double(x[i]) }
    let r = Float(1 / (ss / Double(count) + Double(eps)).squareRoot())
    if let weight {
        for i in 0..<count { x[i] = weight[i] * (x[i] * r) }
    } else {
        for i in 0..<count { x[i] *= r }
    }
}

/// Row-wise RMSNorm of a whole matrix, in place.
public func rmsNormRows(_ x: inout Matrix, weight: [Float], eps: Float) {
    precondition(weight.count == x.cols, "rmsNorm: weight has \(weight.count) values for \(x.cols) columns")
    let C = x.cols
    x.storage.withUnsafeMutableBufferPointer { xb in
        weight.withUnsafeBufferPointer { w in
            for t in 0..<x.rows { rmsNorm(xb.baseAddress! + t * C, count: C, weight: w.baseAddress!, eps: eps) }
        }
    }
}
