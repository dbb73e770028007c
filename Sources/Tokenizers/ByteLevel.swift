// The GPT-2 byte-level alphabet: a bijection between the 256 byte values and 256 printable Unicode scalars.
//
// tokenizer.json stores every vocabulary entry and merge in this alphabet (a space is "Ġ", a newline "Ċ"), so
// that BPE can run over arbitrary bytes while the vocabulary stays printable text. Bytes that are already
// printable and not whitespace (0x21–0x7E, 0xA1–0xAC, 0xAE–0xFF) stand for themselves; the other 68 bytes are
// assigned U+0100, U+0101, … in increasing byte order. The encoder never builds these strings on its hot path: it
// maps bytes straight to token ids (see `BPEModel`). The alphabet is used only to read the vocabulary and to decode.

/// The byte ↔ scalar map of the byte-level pre-tokenizer and decoder (HF `tokenizers` `ByteLevel`).
enum ByteLevel {
    /// `scalarForByte[b]` is the scalar standing for byte `b`.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The inverse map, indexed by scalar value; scalars outside the alphabet hold -1. All alphabet scalars are
    /// below U+0144, so a 324-entry table covers them.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in scalarForByte.enumerated() {
            table[Int(scalar.value)] = Int16(byte)
        }
        return table
    }()

    /// Whether `byte` is printable and not whitespace in Latin-1, and so is its own stand-in.
    static func standsForItself(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The alphabet spelling of raw bytes, as tokenizer.json writes vocabulary entries.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var result = String.UnicodeScalarView()
        for byte in bytes {
            result.append(scalarForByte[Int(byte)])
        }
        return String(result)
    }

    /// Appends the bytes the ByteLevel decoder produces for one token: the alphabet decoding when every scalar
    /// belongs to the alphabet, otherwise the token's own UTF-8 (this is how added tokens such as "<｜User｜>"
    /// decode). Works on the UTF-8 directly: alphabet scalars are all below U+0800, so one or two bytes each.
    static func appendDecodedBytes(ofToken token: String, to output: inout [UInt8]) {
        var token = token
        token.withUTF8 { utf8 in
            let start = output.count
            var position = 0
            while position < utf8.count {
                let lead = utf8[position]
                var scalar = Int.max
                if lead < 0x80 {
                    scalar = Int(lead)
                    position += 1
                } else if lead & 0xE0 == 0xC0, position + 1 < utf8.count {
                    scalar = Int(lead & 0x1F) << 6 | Int(utf8[position + 1] & 0x3F)
                    position += 2
                }
                guard scalar < byteForScalar.count, byteForScalar[scalar] >= 0 else {
                    output.removeSubrange(start...)
                    output.append(contentsOf: utf8)
                    return
                }
                output.append(UInt8(byteForScalar[scalar]))
            }
        }
    }
}
