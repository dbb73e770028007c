// The character properties the DeepSeek V4 pre-tokenizer patterns ask about (spec §5.1), one bit each.
//
// The reference runs its Split patterns with Oniguruma in Unicode mode, where
//   \p{L} \p{M} \p{N} \p{P} \p{S}  are the Unicode general-category groups (L = Lu Ll Lt Lm Lo, M = Mn Mc Me,
//                                  N = Nd Nl No, P = Pc Pd Ps Pe Pi Pf Po, S = Sm Sc Sk So), and
//   \s                             is the Unicode White_Space property: U+0009–000D, U+0020, U+0085, U+00A0,
//                                  U+1680, U+2000–200A, U+2028, U+2029, U+202F, U+205F, U+3000.
// Swift exposes the same properties through `Unicode.Scalar.Properties`, but from a newer Unicode version: the
// Oniguruma inside HF `tokenizers` 0.23.3 carries Unicode 16.0 data, so a scalar assigned later (Swift 6.3 knows
// Unicode 17.0: e.g. U+1ACF…1ADD combining marks, U+20C1 SAUDI RIYAL SIGN, CJK Extension J) is unassigned, in no
// category, to the reference. `referenceUnicodeVersion` reproduces that; a sweep over all 1,111,998 scalars against
// the reference found these 4,803 scalars to be the only differences. Looking properties up per scalar is slow
// compared with the rest of the encoder, so the classes of the whole Basic Multilingual Plane are computed once per
// process (64 Ki entries, 128 KiB); scalars above U+FFFF (emoji, rare ideographs) are classified on the fly.

/// A set of pre-tokenizer character properties of one Unicode scalar.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt16

    /// \p{L}
    static let letter = CharacterClass(rawValue: 1 << 0)
    /// \p{M}
    static let mark = CharacterClass(rawValue: 1 << 1)
    /// \p{N}
    static let number = CharacterClass(rawValue: 1 << 2)
    /// \p{P}
    static let punctuation = CharacterClass(rawValue: 1 << 3)
    /// \p{S}
    static let symbol = CharacterClass(rawValue: 1 << 4)
    /// \s
    static let whitespace = CharacterClass(rawValue: 1 << 5)
    /// [\r\n]
    static let lineBreak = CharacterClass(rawValue: 1 << 6)
    /// U+0020, the optional leading space of ` ?[\p{P}\p{S}]+`.
    static let space = CharacterClass(rawValue: 1 << 7)
    /// [一-龥぀-ゟ゠-ヿ]: U+4E00–9FA5, U+3040–309F, U+30A0–30FF.
    static let cjk = CharacterClass(rawValue: 1 << 8)
    /// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]: the 32 ASCII punctuation and symbol characters.
    static let asciiPunctuation = CharacterClass(rawValue: 1 << 9)
    /// [A-Za-z]
    static let asciiLetter = CharacterClass(rawValue: 1 << 10)

    /// [\p{L}\p{M}]
    static let letterOrMark: CharacterClass = [.letter, .mark]
    /// [\p{P}\p{S}]
    static let punctuationOrSymbol: CharacterClass = [.punctuation, .symbol]
    /// What `[^\r\n\p{L}\p{P}\p{S}]` excludes.
    static let notWordPrefix: CharacterClass = [.lineBreak, .letter, .punctuation, .symbol]

    /// The class of the scalar with value `value` (any UInt32; non-scalars have no properties).
    @inline(__always)
    static func of(_ value: UInt32) -> CharacterClass {
        value < 0x1_0000 ? basicMultilingualPlane[Int(value)] : computed(value)
    }

    /// Classes of U+0000…U+FFFF, built on first use.
    static let basicMultilingualPlane: [CharacterClass] = (0..<0x1_0000).map { computed(UInt32($0)) }

    /// The Unicode version of the reference's character tables (the Oniguruma built into HF `tokenizers` 0.23.3).
    static let referenceUnicodeVersion: Unicode.Version = (16, 0)

    /// Looks the properties up in the standard library's Unicode tables, as of `referenceUnicodeVersion`.
    static func computed(_ value: UInt32) -> CharacterClass {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        var result: CharacterClass = []
        if let age = scalar.properties.age,
            (age.major, age.minor) <= (referenceUnicodeVersion.major, referenceUnicodeVersion.minor)
        {
            result = generalCategoryGroup(scalar.properties.generalCategory)
        }
        if scalar.properties.isWhitespace { result.insert(.whitespace) }
        switch value {
        case 0x0A, 0x0D: result.insert(.lineBreak)
        case 0x20: result.insert(.space)
        case 0x41...0x5A, 0x61...0x7A: result.insert(.asciiLetter)
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: result.insert(.asciiPunctuation)
        case 0x3040...0x30FF, 0x4E00...0x9FA5: result.insert(.cjk)
        default: break
        }
        return result
    }

    private static func generalCategoryGroup(_ category: Unicode.GeneralCategory) -> CharacterClass {
        switch category {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            .letter
        case .nonspacingMark, .spacingMark, .enclosingMark:
            .mark
        case .decimalNumber, .letterNumber, .otherNumber:
            .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            .symbol
        case .spaceSeparator, .lineSeparator, .paragraphSeparator, .control, .format, .surrogate, .privateUse,
            .unassigned:
            []
        @unknown default:
            []
        }
    }
}
