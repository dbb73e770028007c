// Streaming decoding: pieces must concatenate to `decode` and never split a character.

import Testing

@testable import Tokenizers

@Suite("StreamingDetokenizer")
struct StreamingDetokenizerTests {
    let tokenizer = Fixture.tokenizer

    /// Feeds `ids` one at a time; returns the pieces, the final flush included.
    func stream(_ ids: [Int]) -> [String] {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        return ids.map { detokenizer.append($0) } + [detokenizer.flush()]
    }

    @Test("pieces concatenate to decode and never hold a partial character", arguments: Fixture.goldenCases)
    func goldenCases(_ golden: Fixture.GoldenCase) {
        let pieces = stream(golden.ids)
        let decoded = tokenizer.decode(golden.ids)
        #expect(pieces.joined() == decoded)
        if !decoded.contains("\u{FFFD}") {
            #expect(!pieces.contains { $0.contains("\u{FFFD}") })
        }
    }

    @Test("holds back the bytes of a character until it is complete")
    func multiByteCharacter() throws {
        // "😀" is F0 9F 98 80; fed as four byte tokens it appears only with the last one.
        let ids = try [0xF0, 0x9F, 0x98, 0x80].map { byte in
            try #require(tokenizer.tokenID(ByteLevel.encode([UInt8(byte)])))
        }
        #expect(stream(ids) == ["", "", "", "😀", ""])
    }

    @Test("emits U+FFFD as decode does for bytes that never form a character")
    func invalidBytes() throws {
        let e4 = try #require(tokenizer.tokenID(ByteLevel.encode([0xE4])))
        let b8 = try #require(tokenizer.tokenID(ByteLevel.encode([0xB8])))
        let a = try #require(tokenizer.tokenID("A"))
        #expect(stream([e4, b8, a]) == ["", "", "\u{FFFD}A", ""])
        #expect(stream([e4, b8]) == ["", "", "\u{FFFD}"])
        #expect(stream([b8]) == ["\u{FFFD}", ""])
    }

    @Test("matches decode on random byte-token sequences, valid or not")
    func randomByteSequences() {
        var generator = SeededGenerator(seed: 11)
        // Bytes weighted toward UTF-8 lead and continuation bytes, where the edge cases are.
        let interesting: [UInt8] = [0x41, 0x20, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE4, 0xED,
                                    0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        let byteIDs = (0..<256).map { tokenizer.tokenID(ByteLevel.encode([UInt8($0)]))! }
        let wordIDs = tokenizer.encode("héllo 世界 🙂")
        for _ in 0..<2000 {
            let ids = (0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: byteIDs[Int.random(in: 0..<256, using: &generator)]
                case 1: wordIDs.randomElement(using: &generator)!
                default: byteIDs[Int(interesting.randomElement(using: &generator)!)]
                }
            }
            #expect(stream(ids).joined() == tokenizer.decode(ids), "ids \(ids)")
        }
    }

    @Test("skips unknown ids and starts afresh after flush")
    func unknownIDsAndFlush() {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(detokenizer.append(-1) == "")
        #expect(detokenizer.append(tokenizer.vocabularySize) == "")
        let e4 = tokenizer.tokenID(ByteLevel.encode([0xE4]))!
        #expect(detokenizer.append(e4) == "")
        #expect(detokenizer.flush() == "\u{FFFD}")
        #expect(detokenizer.flush() == "")
        #expect(detokenizer.append(tokenizer.tokenID("A")!) == "A")
    }

    @Test("keeps back only a valid incomplete sequence at the end")
    func completePrefixLength() {
        #expect(StreamingDetokenizer.completePrefixLength([]) == 0)
        #expect(StreamingDetokenizer.completePrefixLength([0x41, 0xE4, 0xB8]) == 1)
        #expect(StreamingDetokenizer.completePrefixLength([0x41, 0xE4, 0xB8, 0xAD]) == 4)
        #expect(StreamingDetokenizer.completePrefixLength([0xF0, 0x9F, 0x98]) == 0)
        #expect(StreamingDetokenizer.completePrefixLength([0xE0, 0x80]) == 2)  // E0 80 can never complete
        #expect(StreamingDetokenizer.completePrefixLength([0xED, 0xA0]) == 2)  // a surrogate
        #expect(StreamingDetokenizer.completePrefixLength([0xF4, 0x90]) == 2)  // above U+10FFFF
        #expect(StreamingDetokenizer.completePrefixLength([0x80, 0x80, 0x80]) == 3)
        #expect(StreamingDetokenizer.completePrefixLength([0xC3]) == 0)
    }
}
