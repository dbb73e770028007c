// Sampler: logits → next token. The chain is penalties → temperature → top-k → softmax → top-p → min-p
// → draw. Temperature 0 skips the chain and takes the argmax (after penalties). Log-probabilities are
// those of the model's own distribution (raw logits), as OpenAI-compatible servers report them.

import Foundation

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
        // Candidates sorted by logit, largest first; top-k cuts the list.
        var order = Array(logits.indices)
        if p.topK > 0 && p.topK < order.count {
            order = topIndices(logits, p.topK)
        } else {
            order.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        }
        let m = logits[order[0]]
        var probs = order.map { Double(expf((logits[$0] - m) / p.temperature)) }
        let total = probs.reduce(0, +)
        for i in probs.indices { probs[i] /= total }
        var keep = probs.count
        if p.topP < 1 {
            var cum = 0.0
            for i in probs.indices {
                cum += probs[i]
                if cum >= Double(p.topP) { keep = i + 1; break }
            }
        }
        if p.minP > 0 {
            let floor = probs[0] * Double(p.minP)
            keep = min(keep, probs.prefix(keep).firstIndex { $0 < floor } ?? keep)
        }
        keep = max(keep, 1)
        let mass = probs.prefix(keep).reduce(0, +)
        var u = rng.nextDouble() * mass
        for i in 0..<keep {
            u -= probs[i]
            if u < 0 { return order[i] }
        }
        return order[keep - 1]
    }
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
