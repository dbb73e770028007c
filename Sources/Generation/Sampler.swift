// Sampler: logits → next token. The chain is penalties → temperature → top-k → softmax → top-p → min-p
// → draw. Temperature 0 skips the chain and takes the argmax (after penalties). Log-probabilities are
// those of the model's own distribution (raw logits), as OpenAI-compatible servers report them.

import Foundation
import HeapModule

public struct Sampler: Sendable {
    public struct TokenLogprob: Sendable, Equatable {
        public var token: Int
        public var logprob: Float
    }

    /// The chosen token with its log-probability and the most likely alternatives.
    public struct Choice: Sendable, Equatable {
        public var token: Int
        public var logprob: Float?
        public var alternatives: [TokenLogprob]
    }

    public let parameters: SamplingParameters
    private var rng: Xoshiro256

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        var seedSource = SystemRandomNumberGenerator()
        rng = Xoshiro256(seed: parameters.seed ?? seedSource.next())
    }

    /// - Parameters:
    ///   - generated: the completion tokens so far (presence / frequency penalties)
    ///   - recent: the last tokens of prompt + completion (repetition penalty window)
    public mutating func sample(_ logits: [Float], generated: [Int] = [], recent: ArraySlice<Int> = []) -> Choice {
        let token = draw(applyPenalties(logits, generated: generated, recent: recent))
        guard let n = parameters.logprobs else { return Choice(token: token, logprob: nil, alternatives: []) }
        let lse = logSumExp(logits)
        return Choice(
            token: token, logprob: logits[token] - lse,
            alternatives: topIndices(logits, n).map { TokenLogprob(token: $0, logprob: logits[$0] - lse) })
    }

    func applyPenalties(_ logits: [Float], generated: [Int], recent: ArraySlice<Int>) -> [Float] {
        let p = parameters
        var l = logits
        if p.presencePenalty != 0 || p.frequencyPenalty != 0 {
            var counts: [Int: Int] = [:]
            for t in generated { counts[t, default: 0] += 1 }
            for (t, c) in counts where t < l.count {
                l[t] -= p.presencePenalty + p.frequencyPenalty * Float(c)
            }
        }
        if p.repetitionPenalty != 1 {
            for t in Set(recent.suffix(p.repetitionWindow)) where t < l.count {
                l[t] = l[t] > 0 ? l[t] / p.repetitionPenalty : l[t] * p.repetitionPenalty
            }
        }
        return l
    }

    private mutating func draw(_ logits: [Float]) -> Int {
        let p = parameters
        if p.temperature == 0 { return argmax(logits) }
        // Candidates: all tokens, or the top-k. Probabilities at the temperature, unnormalised. The loops
        // run over raw buffers because this runs once per token over the whole vocabulary (129K ids),
        // which array closures make slow in unoptimised builds (the test suite's).
        // nil stands for all ids (not materialised: that alone would cost more than the rest).
        let candidates: [Int]? = p.topK > 0 && p.topK < logits.count ? topIndices(logits, p.topK) : nil
        var weights = [Double](repeating: 0, count: candidates?.count ?? logits.count)
        var total = 0.0, best = 0.0
        logits.withUnsafeBufferPointer { l in
            weights.withUnsafeMutableBufferPointer { w in
                var m = -Float.infinity
                if let candidates {
                    for i in candidates { m = max(m, l[i]) }
                    for k in 0..<w.count { w[k] = Double(expf((l[candidates[k]] - m) / p.temperature)) }
                } else {
                    for x in l { m = max(m, x) }
                    for k in 0..<w.count { w[k] = Double(expf((l[k] - m) / p.temperature)) }
                }
                for x in w {
                    total += x
                    best = max(best, x)
                }
            }
        }
        if p.topP < 1 || p.minP > 0 {
            // Walk the candidates from the most likely down (a heap: the nucleus is usually small) and keep
            // them while the mass before them is below top-p and they are at least min-p × the best.
            var heap = Heap(weights.indices.map { Candidate(weight: weights[$0], index: $0) })
            var kept = [Int](), keptWeights = [Double]()
            var cumulative = 0.0
            while let i = heap.popMax()?.index {
                if !kept.isEmpty && (cumulative >= Double(p.topP) * total || weights[i] < Double(p.minP) * best) { break }
                kept.append(candidates?[i] ?? i)
                keptWeights.append(weights[i])
                cumulative += weights[i]
            }
            return choose(kept, keptWeights)
        }
        weights.withUnsafeMutableBufferPointer { w in
            for k in 0..<w.count { w[k] /= total }
        }
        return choose(candidates, weights)
    }

    /// Draws one of `items` (nil: the indices of `weights`) with probability proportional to `weights`.
    private mutating func choose(_ items: [Int]?, _ weights: [Double]) -> Int {
        let sum = weights.withUnsafeBufferPointer { w in
            var sum = 0.0
            for x in w { sum += x }
            return sum
        }
        var u = rng.nextDouble() * sum
        return weights.withUnsafeBufferPointer { w in
            for k in 0..<w.count {
                u -= w[k]
                if u < 0 { return items?[k] ?? k }
            }
            return items?.last ?? w.count - 1
        }
    }
}

/// A candidate token's weight and index, ordered by rank: the larger weight, and for ties the lower index.
private struct Candidate: Comparable {
    let weight: Double
    let index: Int

    static func < (a: Self, b: Self) -> Bool { a.weight != b.weight ? a.weight < b.weight : a.index > b.index }
}

func argmax(_ x: [Float]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}

/// Indices of the n largest values, largest first (ties: lower index first).
func topIndices(_ x: [Float], _ n: Int) -> [Int] {
    guard n > 0 else { return [] }
    var heap: [Int] = []  // kept sorted, small n
    for i in x.indices {
        if heap.count < n || x[i] > x[heap[heap.count - 1]] {
            let pos = heap.firstIndex { x[i] > x[$0] } ?? heap.count
            heap.insert(i, at: pos)
            if heap.count > n { heap.removeLast() }
        }
    }
    return heap
}

func logSumExp(_ x: [Float]) -> Float {
    let m = x.max() ?? 0
    var s = 0.0
    for v in x { s += exp(Double(v - m)) }
    return m + Float(log(s))
}

/// xoshiro256** seeded through SplitMix64: small, fast, and the same sequence on every platform.
struct Xoshiro256: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }
}
