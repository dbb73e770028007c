// Manifold-constrained hyper-connections (mHC, spec §3.2). The residual state of a token is n = hc_mult
// streams of width d, stored stream-major as one row of n·d values: X: (T, n·d).
//
// Each site (attention, FFN) mixes the streams into one sublayer input with weights `pre`, and writes the
// sublayer output back with weights `post` plus a doubly-stochastic stream mix `comb` obtained by
// Sinkhorn normalisation:
//   y    = Σ_j pre_j X_j
//   X'_k = post_k · f + Σ_j comb[j][k] · X_j      (comb[j][k] carries source j into destination k)
// All of it is float32.

import Foundation
import Kernels

struct HyperConnection: Sendable {
    /// fn: ((2+n)·n, n·d) F32; base: ((2+n)·n); scale: (3)
    let fn: WeightMatrix
    let base: [Float]
    let scale: [Float]
    let streams: Int
    let sinkhornIterations: Int
    let eps: Float

    struct Coefficients {
        var pre: [Float]   // (T, n)
        var post: [Float]  // (T, n)
        var comb: [Float]  // (T, n, n) row j = source stream
    }

    /// Mixing logits m = (fn · x) / rms(x), x = the flattened n·d state of each token: (T, rows of fn).
    static func mixingLogits(_ X: Matrix, fn: WeightMatrix) -> Matrix {
        var m = matmul(X, fn)
        let cols = X.cols, mc = m.cols
        X.storage.withUnsafeBufferPointer { xb in
            m.storage.withUnsafeMutableBufferPointer { mb in
                let x = xb.baseAddress!, mp = mb.baseAddress!
                parallelRows(X.rows, cols: cols) { rows in
                    for t in rows {
                        var ss = 0.0
                        for i in 0..<cols { let v = Double(x[t * cols + i]); ss += v * v }
                        let r = Float(1 / (ss / Double(cols) + 1e-6).squareRoot())
                        for j in 0..<mc { mp[t * mc + j] *= r }
                    }
                }
            }
        }
        return m
    }

    func coefficients(_ X: Matrix) -> Coefficients {
        let n = streams
        let T = X.rows
        let m = Self.mixingLogits(X, fn: fn)
        var c = Coefficients(
            pre: [Float](repeating: 0, count: T * n), post: [Float](repeating: 0, count: T * n),
            comb: [Float](repeating: 0, count: T * n * n))
        c.pre.withUnsafeMutableBufferPointer { preb in
            c.post.withUnsafeMutableBufferPointer { postb in
                c.comb.withUnsafeMutableBufferPointer { combb in
                    let pre = preb.baseAddress!, post = postb.baseAddress!, comb = combb.baseAddress!
                    parallelRows(T, cols: 64 * n * n) { rows in  // Sinkhorn: ~64 operations per entry
                        for t in rows {
                            for j in 0..<n {
                                pre[t * n + j] = sigmoid(m[t, j] * scale[0] + base[j]) + eps
                                post[t * n + j] = 2 * sigmoid(m[t, n + j] * scale[1] + base[n + j])
                            }
                            sinkhorn(m, token: t, into: comb + t * n * n)
                        }
                    }
                }
            }
        }
        return c
    }

    /// The token's comb logits → a doubly stochastic n × n matrix (row j = source stream): row softmax (+eps),
    /// column normalisation, then (iterations − 1) × (row, column).
    private func sinkhorn(_ m: Matrix, token t: Int, into C: UnsafeMutablePointer<Float>) {
        let n = streams
        for j in 0..<n {
            for k in 0..<n { C[j * n + k] = m[t, 2 * n + j * n + k] * scale[2] + base[2 * n + j * n + k] }
        }
        for j in 0..<n {
            var mx = -Float.infinity
            for k in 0..<n { mx = max(mx, C[j * n + k]) }
            var sum: Float = 0
            for k in 0..<n { C[j * n + k] = expf(C[j * n + k] - mx); sum += C[j * n + k] }
            for k in 0..<n { C[j * n + k] = C[j * n + k] / sum + eps }
        }
        normalizeColumns(C, n)
        for _ in 1..<sinkhornIterations {
            for j in 0..<n {
                var sum: Float = 0
                for k in 0..<n { sum += C[j * n + k] }
                for k in 0..<n { C[j * n + k] /= sum + eps }
            }
            normalizeColumns(C, n)
        }
    }

    private func normalizeColumns(_ C: UnsafeMutablePointer<Float>, _ n: Int) {
        for k in 0..<n {
            var sum: Float = 0
            for j in 0..<n { sum += C[j * n + k] }
            for j in 0..<n { C[j * n + k] /= sum + eps }
        }
    }

    /// y_t = Σ_j pre_j X_{t,j}: (T, d)
    static func collapse(_ X: Matrix, weights pre: [Float], streams n: Int) -> Matrix {
        let C = X.cols, d = C / n
        var y = Matrix(rows: X.rows, cols: d)
        X.storage.withUnsafeBufferPointer { xb in
            y.storage.withUnsafeMutableBufferPointer { yb in
                let x = xb.baseAddress!, yp = yb.baseAddress!
                parallelRows(X.rows, cols: C) { rows in
                    for t in rows {
                        for j in 0..<n {
                            let w = pre[t * n + j]
                            let src = x + t * C + j * d, dst = yp + t * d
                            for i in 0..<d { dst[i] += w * src[i] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// X'_{t,k} = post_k · f_t + Σ_j comb[j][k] · X_{t,j}
    func expand(_ X: Matrix, sublayerOutput f: Matrix, _ c: Coefficients) -> Matrix {
        let n = streams
        let d = f.cols, C = X.cols
        var out = Matrix(rows: X.rows, cols: C)
        X.storage.withUnsafeBufferPointer { xb in
            f.storage.withUnsafeBufferPointer { fb in
                out.storage.withUnsafeMutableBufferPointer { ob in
                    let x = xb.baseAddress!, fp = fb.baseAddress!, op = ob.baseAddress!
                    parallelRows(X.rows, cols: C) { rows in
                        for t in rows {
                            for k in 0..<n {
                                let post = c.post[t * n + k]
                                let dst = op + t * C + k * d, ft = fp + t * d
                                for i in 0..<d { dst[i] = post * ft[i] }
                                for j in 0..<n {
                                    let w = c.comb[t * n * n + j * n + k]
                                    let src = x + t * C + j * d
                                    for i in 0..<d { dst[i] += w * src[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// The final mHC merge before the norm and head (spec §3.2 "head merge"): pre weights only, no Sinkhorn.
struct HyperHead: Sendable {
    let fn: WeightMatrix  // (n, n·d)
    let base: [Float]
    let scale: Float
    let streams: Int
    let eps: Float

    func callAsFunction(_ X: Matrix) -> Matrix {
        let m = HyperConnection.mixingLogits(X, fn: fn)
        var pre = [Float](repeating: 0, count: X.rows * streams)
        for t in 0..<X.rows {
            for j in 0..<streams { pre[t * streams + j] = sigmoid(m[t, j] * scale + base[j]) + eps }
        }
        return HyperConnection.collapse(X, weights: pre, streams: streams)
    }
}

@inline(__always)
func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
