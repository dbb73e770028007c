import Foundation
import Testing

@testable import Generation

@Suite("Sampler")
struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.0, 2.9]

    @Test("temperature 0 is the argmax")
    func greedy() {
        var s = Sampler(parameters: .greedy)
        #expect(s.sample(logits).token == 1)
    }

    @Test("the same seed gives the same draws, another seed other draws")
    func seeded() {
        func draws(_ seed: UInt64) -> [Int] {
            var s = Sampler(parameters: SamplingParameters(temperature: 1.5, seed: seed))
            return (0..<64).map { _ in s.sample(logits).token }
        }
        #expect(draws(7) == draws(7))
        #expect(draws(7) != draws(8))
    }

    @Test("top-k 1 and a tiny top-p both reduce to the argmax")
    func truncation() {
        var a = Sampler(parameters: SamplingParameters(temperature: 1, topK: 1, seed: 1))
        var b = Sampler(parameters: SamplingParameters(temperature: 1, topP: 0.01, seed: 1))
        for _ in 0..<50 {
            #expect(a.sample(logits).token == 1)
            #expect(b.sample(logits).token == 1)
        }
    }

    @Test("min-p keeps only tokens close to the best one")
    func minP() {
        var s = Sampler(parameters: SamplingParameters(temperature: 1, minP: 0.8, seed: 3))
        // p(5)/p(1) = e^-0.1 ≈ 0.905 ≥ 0.8, p(2)/p(1) = e^-0.5 ≈ 0.61 < 0.8.
        let seen = Set((0..<200).map { _ in s.sample(logits).token })
        #expect(seen == [1, 5])
    }

    @Test("sampling frequencies follow the softmax")
    func frequencies() {
        var s = Sampler(parameters: SamplingParameters(temperature: 1, seed: 11))
        let l: [Float] = [0, Float(log(3.0))]  // p = 0.25, 0.75
        let n = 20000
        let ones = (0..<n).reduce(0) { acc, _ in acc + s.sample(l).token }
        #expect(abs(Double(ones) / Double(n) - 0.75) < 0.02)
    }

    @Test("presence and frequency penalties push generated tokens down")
    func penalties() {
        var s = Sampler(parameters: SamplingParameters(temperature: 0, presencePenalty: 0.3, frequencyPenalty: 0.2))
        // token 1: 3.0 − 0.3 − 0.2·2 = 2.3 < 2.9 (token 5)
        #expect(s.sample(logits, generated: [1, 1]).token == 5)
        var r = Sampler(parameters: SamplingParameters(temperature: 0, repetitionPenalty: 1.5))
        // 3.0/1.5 = 2.0 and 2.9/1.5 ≈ 1.93 → token 2 (2.5) wins
        #expect(r.sample(logits, recent: [1, 5]).token == 2)
    }

    @Test("log-probabilities are the model's, with the top alternatives in order")
    func logprobs() {
        var s = Sampler(parameters: SamplingParameters(temperature: 0, logprobs: 3))
        let c = s.sample(logits)
        let lse = log(logits.map { exp(Double($0)) }.reduce(0, +))
        #expect(abs(Double(c.logprob!) - (3.0 - lse)) < 1e-5)
        #expect(c.alternatives.map(\.token) == [1, 5, 2])
    }

    @Test("out-of-range parameters are rejected with the parameter's name")
    func validation() {
        #expect(throws: GenerationError.invalidParameter(name: "top_p", expected: "greater than 0 and at most 1")) {
            try SamplingParameters(topP: 0).validate()
        }
        #expect(throws: GenerationError.self) { try SamplingParameters(temperature: -1).validate() }
    }
}

@Suite("StopMatcher")
struct StopMatcherTests {
    /// Feeds `pieces` and returns (released text, stopped).
    func run(_ stops: [String], _ pieces: [String]) -> (String, Bool) {
        var m = StopMatcher(stops: stops)
        var out = ""
        for p in pieces { out += m.feed(p) }
        if !m.stopped { out += m.flush() }
        return (out, m.stopped)
    }

    @Test("a stop string split across pieces is found and never released")
    func acrossBoundaries() {
        #expect(run(["STOP"], ["hello S", "TO", "P world"]) == ("hello ", true))
        #expect(run(["\n\n"], ["a\n", "\nb"]) == ("a", true))
    }

    @Test("a held-back prefix that does not complete is released")
    func falseStart() {
        #expect(run(["STOP"], ["ST", "ART", " go"]) == ("START go", false))
        #expect(run(["abc"], ["xa", "b"]) == ("xab", false))
    }

    @Test("every split of a text gives the same result", arguments: [["end"], ["<|", "##"], ["é!"]])
    func everySplit(stops: [String]) {
        let text = "one <|two## thré! three end four"
        let whole = run(stops, [text])
        let scalars = Array(text.unicodeScalars)
        for i in 0...scalars.count {
            let a = String(String.UnicodeScalarView(scalars[..<i])), b = String(String.UnicodeScalarView(scalars[i...]))
            #expect(run(stops, [a, b]) == whole)
        }
    }

    @Test("the earliest match wins when several stop strings occur")
    func earliest() {
        #expect(run(["b", "a"], ["xxabyy"]) == ("xx", true))
    }
}
