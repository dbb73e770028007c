// Invariants of the incremental forward pass that hold exactly, whatever the numerics: the result for a
// token does not depend on how the sequence before it was split into calls (one prefill, chunks, or
// one token at a time), in both numeric modes and (quant mode) both KV storage formats.

import DeepSeekV4
import Testing

/// The numeric modes × KV formats a model runs in: noquant (float32 cache), quant with float32 or native cache.
struct ModelMode: CustomTestStringConvertible, Sendable {
    let quantize: Bool
    let kvFormat: KVCache.Format
    var testDescription: String { (quantize ? "quant" : "noquant") + " / \(kvFormat)" }
    static let all = [ModelMode(quantize: false, kvFormat: .float32), ModelMode(quantize: true, kvFormat: .float32),
                      ModelMode(quantize: true, kvFormat: .native)]
}

extension Fixtures {
    static func model(_ name: String, _ mode: ModelMode) throws -> DeepSeekV4Model {
        try model(name, quantize: mode.quantize, kvFormat: mode.kvFormat)
    }
}

@Suite("KV cache invariants")
struct CacheInvariantTests {
    /// 40 tokens cross several CSA (4) and HCA (16) blocks and the 8-token window of the fixtures.
    static let tokens = (0..<40).map { ($0 * 37 + 11) % 512 }

    @Test("chunked prefill gives exactly the logits of a one-shot prefill", arguments: ["tiny-flash", "tiny-pro"], ModelMode.all)
    func chunkedPrefill(fixture: String, mode: ModelMode) throws {
        let model = try Fixtures.model(fixture, mode)
        let whole = try model.prefill(Self.tokens, cache: model.makeCache(), chunkSize: 1000)
        for chunk in [1, 3, 16] {
            let chunked = try model.prefill(Self.tokens, cache: model.makeCache(), chunkSize: chunk)
            #expect(chunked.logits == whole.logits, "chunk size \(chunk)")
        }
    }

    @Test("decoding a token after a prefill equals prefilling the longer sequence", arguments: ["tiny-flash", "tiny-pro"], ModelMode.all)
    func decodeEqualsRecompute(fixture: String, mode: ModelMode) throws {
        let model = try Fixtures.model(fixture, mode)
        let cache = model.makeCache()
        _ = try model.prefill(Array(Self.tokens.prefix(30)), cache: cache)
        var logits: [Float] = []
        for t in Self.tokens[30...] { logits = try model.forward([t], cache: cache).logits }
        #expect(cache.position == Self.tokens.count)
        let recomputed = try model.prefill(Self.tokens, cache: model.makeCache())
        #expect(logits == recomputed.logits)
    }

    @Test("out-of-vocabulary ids and empty input are errors, not crashes")
    func badTokens() throws {
        let model = try Fixtures.model("tiny-flash", quantize: true)
        #expect(throws: ModelError.tokenOutOfRange(token: 1024, vocabularySize: 1024)) {
            try model.forward([1, 1024], cache: model.makeCache())
        }
        #expect(throws: ModelError.tokenOutOfRange(token: -1, vocabularySize: 1024)) {
            try model.forward([-1], cache: model.makeCache())
        }
        #expect(throws: ModelError.emptyInput) { try model.prefill([], cache: model.makeCache()) }
    }
}

@Suite("KV cache snapshots")
struct SnapshotTests {
    @Test("a copied cache continues exactly like the original, and the original is unaffected", arguments: ModelMode.all)
    func copyIsIndependent(mode: ModelMode) throws {
        let model = try Fixtures.model("tiny-flash", mode)
        let tokens = CacheInvariantTests.tokens
        let cache = model.makeCache()
        _ = try model.prefill(Array(tokens.prefix(21)), cache: cache)
        let snapshot = cache.copy()
        let a = try model.prefill(Array(tokens[21...]), cache: cache)
        // Diverge the original, then resume from the snapshot: same logits as the first continuation.
        _ = try model.forward([5, 6, 7], cache: cache)
        let b = try model.prefill(Array(tokens[21...]), cache: snapshot)
        #expect(a.logits == b.logits)
        #expect(snapshot.position == tokens.count)
    }
}

@Suite("Batched forward")
struct BatchedForwardTests {
    /// Decoding several sequences together (each at its own position, some prefilling while others
    /// decode) gives exactly the logits of running them one by one.
    @Test("a batch of sequences equals the sequences run separately", arguments: ["tiny-flash", "tiny-pro"], ModelMode.all)
    func batchEqualsSeparate(fixture: String, mode: ModelMode) throws {
        let model = try Fixtures.model(fixture, mode)
        let prompts = [Array(CacheInvariantTests.tokens.prefix(9)), Array(CacheInvariantTests.tokens.suffix(23)), [3, 1, 4, 1, 5]]
        let separate = prompts.map { _ in model.makeCache() }
        let batched = prompts.map { _ in model.makeCache() }
        var expected: [[Float]] = []
        for (p, c) in zip(prompts, separate) { expected.append(try model.prefill(p, cache: c).logits) }
        let outs = try model.forward(batch: zip(prompts, batched).map { ($0, $1) })
        #expect(outs.map(\.logits) == expected)
        // Then decode steps in lockstep, with one sequence also taking a chunk of three tokens.
        for step in 0..<6 {
            let inputs: [[Int]] = [[7 + step], [11, 12, 13].map { $0 + step }, [2 * step + 1]]
            var want: [[Float]] = []
            for (i, c) in separate.enumerated() { want.append(try model.forward(inputs[i], cache: c).logits) }
            let got = try model.forward(batch: zip(inputs, batched).map { ($0, $1) })
            #expect(got.map(\.logits) == want, "step \(step)")
        }
    }
}
