// Orthonormal Sylvester–Hadamard rotation x ← (1/√n) · H_n x (natural order, as scipy.linalg.hadamard),
// used by the lightning indexer before its FP4 rounding. n must be a power of two.

/// Fast Walsh–Hadamard transform in place, O(n log n).
public func hadamardRotate(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n > 0 && n & (n - 1) == 0, "Hadamard size must be a power of two")
    var h = 1
    while h < n {
        var i = 0
        while i < n {
            for j in i..<(i + h) {
                let a = x[j], b = x[j + h]
                x[j] = a + b
                x[j + h] = a - b
            }
            i += 2 * h
        }
        h *= 2
    }
    let scale = 1 / Float(n).squareRoot()
    for i in 0..<n { x[i] *= scale }
}

/// Scalar oracle: the explicit matrix product with H[i][j] = (−1)^popcount(i & j).
public func hadamardRotateReference(_ x: [Float]) -> [Float] {
    let n = x.count
    let scale = 1 / Double(n).squareRoot()
    return (0..<n).map { i in
        var acc = 0.0
        for j in 0..<n { acc += ((i & j).nonzeroBitCount % 2 == 0 ? 1 : -1) * Double(x[j]) }
        return Float(acc * scale)
    }
}
