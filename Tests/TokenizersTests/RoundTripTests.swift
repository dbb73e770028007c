// Invariants on random text, where no reference output is stored: decoding inverts encoding, and added tokens
// split the text into independently encoded stretches. The generator is seeded, so failures reproduce.

import Testing

@testable import Tokenizers

@Suite("Round trips")
struct RoundTripTests {
    let tokenizer = Fixture.tokenizer

    /// Pools of text fragments that exercise every pre-tokenizer alternative and the added-token matcher.
    static let pools: [[String]] = [
        ["a", "Z", "the", "Hello", "don't", "x_y", "camelCase", "é", "e\u{301}", "ß", "İ"],
        [" ", "  ", "\t", "\n", "\r\n", "\r", "\u{A0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{B}", "\u{C}"],
        ["0", "7", "123", "4567", "٣", "３", "½", "²", "Ⅻ"],
        ["中", "文字", "龥", "龦", "あ", "カ", "ー", "゛", "・", "ｱ", "가", "𠀀", "〇"],
        ["\u{301}", "\u{308}", "\u{93F}", "\u{20DD}", "\u{FE0F}", "\u{200D}", "\u{200B}", "\u{FEFF}"],
        ["😀", "👍🏽", "👨‍👩‍👧", "🇯🇵", "1️⃣", "🧑‍💻", "\u{E0041}", "\u{10FFFF}", "\u{1ACF}"],
        [".", ",", "!", "?", "'", "\"", "(", ")", "{", "}", "<", ">", "/", "\\", "$", "€", "—", "…", "+=", "->"],
        ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "<｜begin▁of▁sentence｜>", "<｜User", "｜>", "<|EOT|>",
         "｜DSML｜", "<dsml:", "<｜/table>｜", "Ġ", "Ċ", "ÑĤ", "\u{0}", "\u{1B}[0m"],
    ]

    static func randomText(_ generator: inout SeededGenerator) -> String {
        let weights = pools.map { _ in Double.random(in: 0..<1, using: &generator) }
        var text = ""
        for _ in 0..<Int.random(in: 0..<40, using: &generator) {
            var pick = Double.random(in: 0..<weights.reduce(0, +), using: &generator)
            var pool = 0
            while pick >= weights[pool], pool < pools.count - 1 {
                pick -= weights[pool]
                pool += 1
            }
            let fragment = pools[pool].randomElement(using: &generator)!
            text += String(repeating: fragment, count: Int.random(in: 0..<8, using: &generator) == 0 ? 4 : 1)
        }
        return text
    }

    @Test("decode(encode(text)) == text for random mixed text")
    func decodeInvertsEncode() {
        var generator = SeededGenerator(seed: 2024)
        for _ in 0..<3000 {
            let text = Self.randomText(&generator)
            let ids = tokenizer.encode(text)
            #expect(tokenizer.decode(ids) == text, "text \(text.debugDescription)")
            #expect(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize })
        }
    }

    @Test("an added token splits the text into stretches encoded independently")
    func addedTokensSplitText() {
        var generator = SeededGenerator(seed: 99)
        for _ in 0..<500 {
            let left = Self.randomText(&generator)
            let right = Self.randomText(&generator)
            // Skip pairs where the boundary itself could form or break an added token.
            guard !left.hasSuffix("<"), !left.hasSuffix("<｜"), !right.hasPrefix("｜"), !right.hasPrefix(">") else {
                continue
            }
            #expect(
                tokenizer.encode(left + "<｜User｜>" + right)
                    == tokenizer.encode(left) + [128_803] + tokenizer.encode(right))
        }
    }

    @Test("long inputs with many repeated words encode like their pieces")
    func longInputs() {
        let paragraph = "The quick brown fox — 快速的狐狸 — jumps over 13 lazy dogs! 🦊\n"
        let ids = tokenizer.encode(paragraph)
        // The paragraph ends with a newline, which no pre-token crosses, so repetition concatenates.
        #expect(tokenizer.encode(String(repeating: paragraph, count: 200)) == Array(repeating: ids, count: 200).flatMap { $0 })
        let word = String(repeating: "abc", count: 2000)
        #expect(tokenizer.decode(tokenizer.encode(word)) == word)
    }
}
