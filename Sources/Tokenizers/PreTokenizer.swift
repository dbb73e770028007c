// The DeepSeek V4 pre-tokenizer (spec §5.1): three regex Split steps, all `behavior: Isolated`, hand-compiled.
//
// `Split(pattern, Isolated)` cuts a piece into the pattern's successive leftmost matches (Oniguruma `find_iter`:
// at each position the alternatives are tried in order, the first that matches wins, and the search resumes after
// the match) and keeps the unmatched stretches between them as pieces too. Each step applies to every piece of the
// step before it, and a piece's edges act as the ends of the string for the next step (this is where the
// `(?!\S)` look-ahead sees "end of input"). Step 4, ByteLevel without regex, only changes the alphabet; the BPE
// model works on raw bytes instead (see `ByteLevel`).
//
//   1. \p{N}{1,3}                      digits, in groups of at most three from the start of a run
//   2. [一-龥぀-ゟ゠-ヿ]+                 runs of CJK ideographs and kana
//   3. A1 [!"#…~][A-Za-z]+             one ASCII punctuation character glued to ASCII letters ("'s", ".com")
//      A2 [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+   a word, with one optional leading space/digit/mark/control
//      A3 ` ?[\p{P}\p{S}]+[\r\n]*`       punctuation/symbol runs with an optional leading space, trailing newlines
//      A4 \s*[\r\n]+                   whitespace up to and including its last CR/LF
//      A5 \s+(?!\S)                    whitespace not followed by a non-space: in "␣␣x" it takes the first "␣" only
//      A6 \s+                          any other whitespace run (a single space before a word-less character)
//
// The matchers below are the backtracking results of these alternatives written out directly; the comment on each
// says what the regex engine would do. Everything works on per-scalar `CharacterClass` values, never on Strings.

/// Splits text into the pre-tokens ("words") that BPE encodes one by one.
enum PreTokenizer {
    /// The `Regex` patterns of the three Split steps exactly as tokenizer.json spells them; loading a file whose
    /// patterns differ is refused.
    static let splitPatterns = [
        "\\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ]

    /// Splits a run of scalars, given by their classes, into pre-tokens.
    /// - Parameters:
    ///   - classes: the class of each scalar of the text.
    ///   - emit: called with the end (an index into `classes`) of each pre-token, in order; pre-tokens are
    ///     contiguous and cover the input, so the ends are all that is needed.
    @inline(__always)
    static func split(_ classes: UnsafeBufferPointer<CharacterClass>, emit: (Int) -> Void) {
        let count = classes.count
        var start = 0
        while start < count {
            // Step 1: a group of up to three numbers, or the run of non-numbers before the next one.
            var end = start + 1
            if classes[start].contains(.number) {
                while end < count, end < start + 3, classes[end].contains(.number) { end += 1 }
            } else {
                while end < count, !classes[end].contains(.number) { end += 1 }
            }
            // Step 2: alternating runs of CJK and non-CJK scalars.
            var runStart = start
            while runStart < end {
                let isCJK = classes[runStart].contains(.cjk)
                var runEnd = runStart + 1
                while runEnd < end, classes[runEnd].contains(.cjk) == isCJK { runEnd += 1 }
                splitWords(classes, runStart..<runEnd, emit: emit)
                runStart = runEnd
            }
            start = end
        }
    }

    /// Step 3 on one piece: successive matches of A1…A6, with unmatched stretches kept as pieces of their own.
    @inline(__always)
    private static func splitWords(_ classes: UnsafeBufferPointer<CharacterClass>, _ piece: Range<Int>, emit: (Int) -> Void) {
        var unmatchedStart = piece.lowerBound
        var position = piece.lowerBound
        while position < piece.upperBound {
            if let matchEnd = matchWord(classes, at: position, end: piece.upperBound) {
                if unmatchedStart < position { emit(position) }
                emit(matchEnd)
                position = matchEnd
                unmatchedStart = matchEnd
            } else {
                position += 1
            }
        }
        if unmatchedStart < piece.upperBound { emit(piece.upperBound) }
    }

    /// The end of the step-3 match that starts exactly at `start`, or nil when no alternative matches there.
    @inline(__always)
    private static func matchWord(_ classes: UnsafeBufferPointer<CharacterClass>, at start: Int, end: Int) -> Int? {
        /// The end of the run of scalars from `from` whose class meets `members`.
        @inline(__always) func run(from: Int, of members: CharacterClass) -> Int {
            var position = from
            while position < end, !classes[position].isDisjoint(with: members) { position += 1 }
            return position
        }
        let first = classes[start]
        let second: CharacterClass = start + 1 < end ? classes[start + 1] : []

        // A1: one ASCII punctuation character, then ASCII letters (greedy).
        if first.contains(.asciiPunctuation), second.contains(.asciiLetter) {
            return run(from: start + 2, of: .asciiLetter)
        }
        // A2: the optional prefix is taken when it is allowed and a letter or mark follows; otherwise the word must
        // start here. Either way the match runs to the end of the letters and marks.
        if first.isDisjoint(with: .notWordPrefix), !second.isDisjoint(with: .letterOrMark) {
            return run(from: start + 2, of: .letterOrMark)
        }
        if !first.isDisjoint(with: .letterOrMark) {
            return run(from: start + 1, of: .letterOrMark)
        }
        // A3: an optional U+0020 before punctuation or symbols, then any CR/LF that follow them.
        let symbolsStart = first.contains(.space) && !second.isDisjoint(with: .punctuationOrSymbol) ? start + 1 : start
        if !classes[symbolsStart].isDisjoint(with: .punctuationOrSymbol) {
            return run(from: run(from: symbolsStart + 1, of: .punctuationOrSymbol), of: .lineBreak)
        }
        // A4–A6 all start with whitespace; measure the whitespace run once.
        guard first.contains(.whitespace) else { return nil }
        var runEnd = start + 1
        var lastLineBreak = first.contains(.lineBreak) ? start : -1
        while runEnd < end, classes[runEnd].contains(.whitespace) {
            if classes[runEnd].contains(.lineBreak) { lastLineBreak = runEnd }
            runEnd += 1
        }
        // A4: `\s*` backtracks from the end of the run until `[\r\n]+` can match, i.e. to the last CR/LF.
        if lastLineBreak >= 0 { return lastLineBreak + 1 }
        // A5: at the end of the piece the whole run matches; before a non-space, the run minus its last scalar
        // (which is left to start the next word), provided that leaves at least one.
        if runEnd == end { return runEnd }
        if runEnd - start >= 2 { return runEnd - 1 }
        // A6: a single whitespace scalar before a non-space that no other alternative took.
        return runEnd
    }

    /// The pre-tokens of `text` as strings; for tests and diagnostics (the encoder never builds Strings).
    static func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let classes = scalars.map { CharacterClass.of($0.value) }
        var pieces: [String] = []
        var start = 0
        classes.withUnsafeBufferPointer { buffer in
            split(buffer) { end in
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[start..<end])
                pieces.append(String(view))
                start = end
            }
        }
        return pieces
    }
}
