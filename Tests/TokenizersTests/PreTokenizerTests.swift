// The hand-compiled pre-tokenizer against the reference's regex Split steps, and the character classes under it.
// Expected pieces were produced by HF `tokenizers` 0.23.3 running the three Split steps of tokenizer.json
// (`pre_tokenizers.Sequence([Split(Regex(p), "isolated") ...]).pre_tokenize_str(text)`).

import Testing

@testable import Tokenizers

@Suite("PreTokenizer")
struct PreTokenizerTests {
    static let cases: [(text: String, pieces: [String])] = [
        ("  x", [" ", " x"]),
        ("12345 abc", ["123", "45", " abc"]),
        ("Hello! 毕老师！1 + 1 = 2", ["Hello", "!", " ", "毕老师", "！", "1", " +", " ", "1", " =", " ", "2"]),
        ("I'm  fine,\tthanks.\r\n\r\n  Next", ["I", "'m", " ", " fine", ",", "\tthanks", ".\r\n\r\n", " ", " Next"]),
        ("a   ", ["a", "   "]),
        ("\u{A0}\u{A0}lead", ["\u{A0}", "\u{A0}lead"]),
        ("x = f(a)+ g[b];\n    return", ["x", " =", " f", "(a", ")+", " g", "[b", "];\n", "   ", " return"]),
        ("３４５６七八ゝ゛カ・ー", ["３４５", "６", "七八ゝ", "゛", "カ", "・", "ー"]),
        ("e\u{301}t\u{E9} \u{301}x", ["e\u{301}t\u{E9}", " \u{301}x"]),
        ("$100.00 !!! ??\n\nok", ["$", "100", ".", "00", " !!!", " ??\n\n", "ok"]),
        ("\u{200B}\u{200D}z\u{FEFF}", ["\u{200B}", "\u{200D}z", "\u{FEFF}"]),
        ("version 2.0.1-beta", ["version", " ", "2", ".", "0", ".", "1", "-beta"]),
        ("ab\ttab  \u{3000}cd", ["ab", "\ttab", "  ", "\u{3000}cd"]),
    ]

    @Test("splits text into the same pieces as the reference", arguments: cases)
    func splitsLikeReference(_ example: (text: String, pieces: [String])) {
        #expect(PreTokenizer.split(example.text) == example.pieces)
    }

    /// Spec §5.1: `\s+(?!\S)` leaves the last space of a run to the word after it.
    @Test("leaves the last space of a run before a word to that word")
    func lookAheadRule() {
        #expect(PreTokenizer.split("   \t\n\r\n   x") == ["   \t\n\r\n", "  ", " x"])
        #expect(PreTokenizer.split("a  b") == ["a", " ", " b"])
    }

    @Test("pieces always cover the text exactly")
    func piecesCoverText() {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array("a Z1٣,.!? \t\n\r\u{A0}\u{3000}中カ゛\u{301}😀\u{200D}$€".unicodeScalars)
        for _ in 0..<500 {
            var view = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<30, using: &generator) {
                view.append(alphabet.randomElement(using: &generator)!)
            }
            let text = String(view)
            let pieces = PreTokenizer.split(text)
            #expect(pieces.joined() == text)
            #expect(!pieces.contains(""))
        }
    }

    /// Oniguruma's `\s` is the Unicode White_Space property: exactly these 25 scalars.
    @Test("treats exactly the Unicode White_Space scalars as \\s")
    func whitespaceSet() {
        let expected: Set<UInt32> = Set(Array(0x09...0x0D) + [0x20, 0x85, 0xA0, 0x1680] + Array(0x2000...0x200A)
            + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
        let found = (0..<0x1_0000).filter { CharacterClass.of(UInt32($0)).contains(.whitespace) }.map(UInt32.init)
        #expect(Set(found) == expected)
        #expect(!CharacterClass.of(0x180E).contains(.whitespace))
        #expect(!CharacterClass.of(0x200B).contains(.whitespace))
    }

    /// The split steps compose simply only because no scalar is both a number and in the CJK ranges.
    @Test("classes the CJK ranges as CJK and none of them as a number")
    func cjkRanges() {
        for value in Array(0x4E00...0x9FA5) + Array(0x3040...0x30FF) {
            let characterClass = CharacterClass.of(UInt32(value))
            #expect(characterClass.contains(.cjk))
            #expect(!characterClass.contains(.number))
        }
        #expect(!CharacterClass.of(0x9FA6).contains(.cjk))
        #expect(!CharacterClass.of(0x303F).contains(.cjk))
    }

    /// Swift 6.3 knows Unicode 17.0, the reference's regex engine Unicode 16.0; scalars new in 17.0 must behave
    /// as unassigned, or e.g. "a\u{1ACF}" would become one word instead of two pieces.
    @Test("treats scalars assigned after Unicode 16.0 as unassigned, like the reference")
    func unicodeVersion() {
        #expect(CharacterClass.of(0x1ACF) == [])  // a combining mark in Unicode 17.0
        #expect(CharacterClass.of(0x20C1) == [])  // SAUDI RIYAL SIGN, Unicode 17.0
        #expect(CharacterClass.of(0x323B0) == [])  // CJK Extension J, Unicode 17.0
        #expect(CharacterClass.of(0x1C89) == .letter)  // CYRILLIC CAPITAL LETTER TJE, Unicode 16.0
        #expect(PreTokenizer.split("a\u{1ACF}") == ["a", "\u{1ACF}"])
    }
}

@Suite("ByteLevel")
struct ByteLevelTests {
    @Test("maps the 256 bytes to 256 distinct scalars and back")
    func bijection() {
        #expect(Set(ByteLevel.scalarForByte).count == 256)
        for byte in 0..<256 {
            var decoded: [UInt8] = []
            ByteLevel.appendDecodedBytes(ofToken: String(ByteLevel.scalarForByte[byte]), to: &decoded)
            #expect(decoded == [UInt8(byte)])
        }
    }

    @Test("uses the GPT-2 spellings for space, newline, tab, DEL and soft hyphen")
    func knownSpellings() {
        #expect(ByteLevel.encode([0x20]) == "Ġ")
        #expect(ByteLevel.encode([0x0A]) == "Ċ")
        #expect(ByteLevel.encode([0x09]) == "ĉ")
        #expect(ByteLevel.encode([0x00]) == "Ā")
        #expect(ByteLevel.encode([0x7F]) == "ġ")
        #expect(ByteLevel.encode([0xAD]) == "Ń")
        #expect(ByteLevel.encode(Array("Az~".utf8)) == "Az~")
    }

    @Test("decodes a token with a scalar outside the alphabet as its own UTF-8")
    func addedTokenDecoding() {
        var decoded: [UInt8] = []
        ByteLevel.appendDecodedBytes(ofToken: "<｜User｜>", to: &decoded)
        #expect(decoded == Array("<｜User｜>".utf8))
        decoded = []
        ByteLevel.appendDecodedBytes(ofToken: "ĠHello", to: &decoded)
        #expect(decoded == Array(" Hello".utf8))
    }
}
