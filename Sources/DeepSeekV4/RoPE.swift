// Rotary position embedding of DeepSeek V4 (spec §3.4.1): applied to the LAST `ropeDim` values of each
// vector, as interleaved pairs (x[2i], x[2i+1]) = one complex number (GPT-J style).
//
// Sliding-window-only layers use base `rope_theta` without YaRN; compressed layers (CSA, HCA — including
// their compressors and indexer) use `compress_rope_theta` with YaRN frequency interpolation and no
// attention temperature. Frequencies and angles are computed in float32 like the reference
// (`precompute_freqs_cis`), so positions far into the context match it to the last bit of the angle.

import Foundation
import Kernels

struct RoPE: Sendable {
    let dim: Int
    /// ω_i, i < dim/2 (float32 as in the reference).
    let frequencies: [Float]

    init(dim: Int, base: Double, yarn: DeepSeekV4Config.RopeScaling?) {
        self.dim = dim
        let half = dim / 2
        var freqs = (0..<half).map { i -> Float in
            1 / powf(Float(base), Float(2 * i) / Float(dim))
        }
        if let yarn, yarn.factor > 1 {
            // Correction range: the dims whose wavelength spans beta_fast … beta_slow rotations over the
            // original context keep a blend of the original and the interpolated frequency.
            func correctionDim(_ rotations: Double) -> Double {
                Double(dim) * log(Double(yarn.originalMaxPositionEmbeddings) / (rotations * 2 * Double.pi)) / (2 * log(base))
            }
            let low = max(floor(correctionDim(yarn.betaFast)), 0)
            var high = min(ceil(correctionDim(yarn.betaSlow)), Double(dim - 1))
            if low == high { high += 0.001 }
            let factor = Float(yarn.factor)
            for i in 0..<half {
                let ramp = min(max((Float(i) - Float(low)) / Float(high - low), 0), 1)
                let smooth = 1 - ramp
                freqs[i] = freqs[i] / factor * (1 - smooth) + freqs[i] * smooth
            }
        }
        frequencies = freqs
    }

    /// Rotates x[offset ..< offset + dim] by the angles of `position` (inverse: by −angle).
    @inline(__always)
    func apply(_ x: UnsafeMutablePointer<Float>, position: Int, inverse: Bool = false) {
        let p = Float(position)
        for i in 0..<(dim / 2) {
            let angle = p * frequencies[i]
            let c = Float(cos(Double(angle)))
            let s = inverse ? -Float(sin(Double(angle))) : Float(sin(Double(angle)))
            let re = x[2 * i], im = x[2 * i + 1]
            x[2 * i] = re * c - im * s
            x[2 * i + 1] = re * s + im * c
        }
    }
}
