// The forward pass against the official reference's golden outputs, with the checks and tolerances of
// Fixtures/README.md §1.9:
//   1. noquant, strict, end to end (prefill, own greedy decode, MTP) — rel ≤ 1e-4, same greedy ids;
//   2. per block, teacher-forced from the golden block_out, both modes;
//   3. quant end to end strictly only where the noise floor allows; a sanity bound elsewhere.

import DeepSeekV4
import Foundation
import Kernels
import Testing

struct GoldenCase: CustomTestStringConvertible, Sendable {
    let fixture: String
    let prompt: Int
    var testDescription: String { "\(fixture) prompt \(prompt)" }
}

let goldenCases = ["tiny-flash", "tiny-pro"].flatMap { f in (0..<3).map { GoldenCase(fixture: f, prompt: $0) } }
let debugCases = ["tiny-flash", "tiny-pro"].flatMap { f in (0..<2).map { GoldenCase(fixture: f, prompt: $0) } }

@Suite("Golden logits")
struct GoldenTests {
    @Test("noquant: prefill, greedy decode and MTP match the reference to 1e-4", arguments: goldenCases)
    func noquantEndToEnd(_ c: GoldenCase) throws {
        let golden = try Golden(c.fixture)
        let p = golden.prompts[c.prompt]
        let model = try Fixtures.model(c.fixture, quantize: false)
        let cache = model.makeCache()
        let prefill = try model.prefill(p.ids, cache: cache, keepFinalState: true)
        #expect(relativeError(prefill.logits, golden.tensor(c.prompt, false, "prefill_logits").values) <= 1e-4)

        // MTP on the final state with the next-token ids (position t gets token t+1).
        let mtp = try model.mtpLogits(finalState: prefill.finalState, nextTokens: p.noquant.mtpInputIDs, cache: model.makeMTPCache())
        #expect(relativeError(mtp, golden.tensor(c.prompt, false, "mtp_logits").values) <= 1e-4)

        let (shape, decode) = golden.tensor(c.prompt, false, "decode_logits")
        let V = shape[1]
        var greedy = [argmax(prefill.logits)]
        for j in 0..<shape[0] {
            let logits = try model.forward([greedy.last!], cache: cache).logits
            #expect(relativeError(logits[...], decode[(j * V)..<((j + 1) * V)]) <= 1e-4, "decode step \(j)")
            greedy.append(argmax(logits))
        }
        #expect(greedy == p.noquant.greedyIDs)
    }

    @Test("quant: prefill matches where the noise floor allows; decode matches while on the golden path",
          arguments: goldenCases)
    func quantEndToEnd(_ c: GoldenCase) throws {
        let golden = try Golden(c.fixture)
        let p = golden.prompts[c.prompt]
        let model = try Fixtures.model(c.fixture, quantize: true)
        let cache = model.makeCache()
        let prefill = try model.prefill(p.ids, cache: cache)
        let prefillError = relativeError(prefill.logits, golden.tensor(c.prompt, true, "prefill_logits").values)
        #expect(prefill.logits.allSatisfy { $0.isFinite })
        #expect(prefillError < 1, "sanity bound")
        // Where the fixture's measured noise floor is low the prefill matches to 1e-4, unless this CPU's
        // summation order flips one FP8 rounding that the floor's perturbations did not (AVX-512's 16-lane
        // order does for tiny-flash prompt 0, run under emulation: 0.016, and on these random weights the
        // argmax moved with it). A flip moves the logits by a small fraction; anything larger is an error.
        var strict = p.quant.noiseFloorPrefill <= 1e-5
        let prefillFlipped = strict && prefillError > 1e-4
        if prefillFlipped { #expect(prefillError <= 0.05, "more than a rounding flip") }
        strict = strict && !prefillFlipped && argmax(prefill.logits) == p.quant.greedyIDs[0]

        // Teacher-forced with the golden decode inputs. Steps match to 1e-4 until the first FP8/FP4
        // rounding flip (README §1.7: the reference itself flips under float32-level perturbations);
        // after it only sanity bounds hold: finite logits, rel ≲ 1, mostly the same argmax.
        let (shape, decode) = golden.tensor(c.prompt, true, "decode_logits")
        let V = shape[1]
        var strictSteps = 0
        var sameArgmax = 0
        for (j, token) in p.quant.decodeInputIDs.enumerated() {
            let logits = try model.forward([token], cache: cache).logits
            let error = relativeError(logits[...], decode[(j * V)..<((j + 1) * V)])
            #expect(logits.allSatisfy { $0.isFinite })
            #expect(error < 2, "decode step \(j): sanity bound")
            if argmax(logits) == p.quant.greedyIDs[j + 1] { sameArgmax += 1 }
            if strict && error <= 1e-4 { strictSteps += 1 } else { strict = false }
        }
        #expect(sameArgmax * 2 >= shape[0], "most decode steps pick the golden token")
        if p.quant.noiseFloorPrefill <= 1e-5 && !prefillFlipped {
            #expect(strictSteps >= 3, "decode matches strictly before the first flip")
        }
    }

    @Test("each block, run on the golden input of the block before, reproduces the golden block output",
          arguments: debugCases)
    func perBlockTeacherForced(_ c: GoldenCase) throws {
        let golden = try Golden(c.fixture)
        let p = golden.prompts[c.prompt]
        for quantize in [false, true] {
            let model = try Fixtures.model(c.fixture, quantize: quantize)
            let (shape, blocks) = golden.tensor(c.prompt, quantize, "block_out")  // (L, T, n, d)
            let (L, T) = (shape[0], shape[1])
            let width = shape[2] * shape[3]
            var input = try model.embeddingState(p.ids)
            var worstPositions = 0
            for l in 0..<L {
                let expected = Array(blocks[(l * T * width)..<((l + 1) * T * width)])
                let out = model.runBlock(l, input: input, tokens: p.ids)
                // Per position, relative to the whole tensor's max |value| (README §1.9 item 2).
                let scale = Double(expected.map(abs).max()!)
                var bad = 0
                for t in 0..<T {
                    let r = (t * width)..<((t + 1) * width)
                    var e = 0.0
                    for i in r { e = max(e, Double(abs(out.storage[i] - expected[i]))) }
                    e /= scale
                    if e > 1e-5 { bad += 1 }
                    #expect(e <= (quantize ? 5e-2 : 1e-5), "block \(l) position \(t) quant \(quantize)")
                }
                worstPositions += bad
                input = Matrix(rows: T, cols: width, storage: expected)
            }
            // An isolated FP8 flip may move a few positions in quant mode, never many.
            #expect(worstPositions <= (quantize ? max(2, L * T / 50) : 0), "quant \(quantize): \(worstPositions) positions above 1e-5")

            // Head merge, final norm, logits and MTP from the golden final state.
            let (merged, normed) = model.headInputs(input)
            #expect(relativeError(merged.storage, golden.tensor(c.prompt, quantize, "hc_head_out").values) <= 1e-5)
            #expect(relativeError(normed.storage, golden.tensor(c.prompt, quantize, "final_norm_out").values) <= 1e-5)
            #expect(relativeError(model.logits(finalState: input), golden.tensor(c.prompt, quantize, "prefill_logits").values) <= 1e-4)
            let mtp = try model.mtpLogits(finalState: input, nextTokens: p.mode(quantize).mtpInputIDs, cache: model.makeMTPCache())
            #expect(relativeError(mtp, golden.tensor(c.prompt, quantize, "mtp_logits").values) <= 1e-4)
        }
    }
}

@Suite("Logits run")
struct LogitsRunTests {
    /// The protocol of `narwhal logits`: greedy steps feed back their own argmax, --feed teacher-forces,
    /// --mtp-next appends the token after the prompt to the MTP inputs.
    @Test("greedy and teacher-forced runs reproduce the golden noquant sequence and MTP logits")
    func greedyAndFed() throws {
        let golden = try Golden("tiny-pro")
        let p = golden.prompts[1]
        let model = try Fixtures.model("tiny-pro", quantize: false)
        let greedy = try model.runLogits(prompt: p.ids, feed: nil, greedySteps: 5, mtpNext: p.noquant.greedyIDs[0])
        #expect(greedy.tokens == Array(p.noquant.decodeInputIDs.prefix(5)))
        #expect(relativeError(greedy.mtpLogits!, golden.tensor(1, false, "mtp_logits").values) <= 1e-4)
        let fed = try model.runLogits(prompt: p.ids, feed: Array(p.noquant.decodeInputIDs.prefix(5)))
        #expect(fed.decodeLogits == greedy.decodeLogits)
        #expect(fed.prefillLogits == greedy.prefillLogits)
        #expect(fed.mtpLogits == nil)
    }
}
