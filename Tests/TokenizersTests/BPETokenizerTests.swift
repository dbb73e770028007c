// The tokenizer against the reference: every golden case, the spec's worked examples, and the public API.

import Foundation
import Testing

@testable import Tokenizers

@Suite("BPETokenizer")
struct BPETokenizerTests {
    let tokenizer = Fixture.tokenizer

    @Test("encodes every golden case to the reference ids", arguments: Fixture.goldenCases)
    func encodesLikeReference(_ golden: Fixture.GoldenCase) {
        #expect(tokenizer.encode(golden.text) == golden.ids)
    }

    @Test("decodes every golden case to the reference text", arguments: Fixture.goldenCases)
    func decodesLikeReference(_ golden: Fixture.GoldenCase) {
        #expect(tokenizer.decode(golden.ids) == golden.decoded)
    }

    @Test("encodes the two examples of spec section 5.1")
    func specExamples() {
        #expect(
            tokenizer.encode("Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ") == [
                19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257, 76589, 131, 100, 76032,
                1628, 76589, 131, 108, 76589, 131, 98,
            ])
        #expect(tokenizer.encode("12345 abc") == [6895, 1883, 71490])
    }

    @Test("encodes the chat prompt of spec section 5.1 with its control tokens")
    func specChatPrompt() {
        let prompt = "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is 2+2?<｜Assistant｜><think>"
        #expect(
            tokenizer.encode(prompt) == [
                0, 3476, 477, 260, 11502, 22896, 16, 128803, 3085, 344, 223, 20, 13, 20, 33, 128804, 128821,
            ])
        #expect(tokenizer.encode("<｜Assistant｜></think>").last == 128822)
    }

    @Test("reports the vocabulary size and the BOS and EOS ids of tokenizer_config.json")
    func vocabularyFacts() {
        #expect(tokenizer.vocabularySize == 129_280)
        #expect(tokenizer.bosTokenID == 0)
        #expect(tokenizer.eosTokenID == 1)
    }

    @Test("maps tokens to ids and back, for added and ordinary tokens")
    func tokenLookup() {
        #expect(tokenizer.tokenID("<｜User｜>") == 128_803)
        #expect(tokenizer.tokenID("<｜Assistant｜>") == 128_804)
        #expect(tokenizer.tokenID("<think>") == 128_821)
        #expect(tokenizer.tokenID("</think>") == 128_822)
        #expect(tokenizer.tokenID("｜DSML｜") == 128_825)
        #expect(tokenizer.tokenID("<｜image｜>") == 129_279)
        #expect(tokenizer.tokenID("Hello") == 19923)
        #expect(tokenizer.tokenID("no such token") == nil)
        #expect(tokenizer.token(128_803) == "<｜User｜>")
        #expect(tokenizer.token(223) == "Ġ")
        #expect(tokenizer.token(-1) == nil)
        #expect(tokenizer.token(129_280) == nil)
        #expect(tokenizer.isSpecialToken(0))
        #expect(!tokenizer.isSpecialToken(128_803))
        #expect(!tokenizer.isSpecialToken(19923))
    }

    @Test("never adds BOS or EOS, and encodes the empty string to no ids")
    func noAutomaticTokens() {
        #expect(tokenizer.encode("") == [])
        #expect(tokenizer.encode("a").first != tokenizer.bosTokenID)
    }

    @Test("matches added tokens atomically, including back to back and inside words")
    func addedTokensAreAtomic() {
        #expect(tokenizer.encode("<｜User｜><｜User｜>") == [128_803, 128_803])
        #expect(tokenizer.encode("x<think>y") == [tokenizer.tokenID("x")!, 128_821, tokenizer.tokenID("y")!])
        // Near misses are ordinary text.
        #expect(!tokenizer.encode("<｜User").contains(128_803))
        #expect(!tokenizer.encode("<|User|>").contains(128_803))
    }

    @Test("skips ids out of range when decoding, as the reference does")
    func decodeSkipsUnknownIDs() {
        let hello = tokenizer.encode("Hello")
        #expect(tokenizer.decode([-5] + hello + [129_280, 1 << 40]) == "Hello")
    }

    @Test("replaces invalid UTF-8 with one U+FFFD per maximal invalid subsequence")
    func decodeRepairsInvalidUTF8() throws {
        // "中" is E4 B8 AD; its byte tokens alone leave a truncated sequence.
        let e4 = try #require(tokenizer.tokenID(ByteLevel.encode([0xE4])))
        let b8 = try #require(tokenizer.tokenID(ByteLevel.encode([0xB8])))
        let ad = try #require(tokenizer.tokenID(ByteLevel.encode([0xAD])))
        let a = try #require(tokenizer.tokenID("A"))
        #expect(tokenizer.decode([e4, b8, ad]) == "中")
        #expect(tokenizer.decode([e4, b8]) == "\u{FFFD}")
        #expect(tokenizer.decode([e4, b8, a]) == "\u{FFFD}A")
        #expect(tokenizer.decode([b8, b8, a]) == "\u{FFFD}\u{FFFD}A")
        let f0 = try #require(tokenizer.tokenID(ByteLevel.encode([0xF0])))
        let x80 = try #require(tokenizer.tokenID(ByteLevel.encode([0x80])))
        #expect(tokenizer.decode([f0, x80, x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")
    }

    @Test("can be used from many threads at once")
    func concurrentEncoding() async {
        let cases = Array(Fixture.goldenCases.prefix(64))
        await withTaskGroup(of: Bool.self) { group in
            for golden in cases {
                group.addTask { Fixture.tokenizer.encode(golden.text) == golden.ids }
            }
            for await matched in group { #expect(matched) }
        }
    }
}
