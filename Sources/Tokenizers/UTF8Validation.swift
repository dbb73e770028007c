// The well-formed UTF-8 byte sequences (Unicode, Table 3-7), shared by the JSON reader, which must reject invalid
// strings, and the streaming detokenizer, which must recognise a character that is still arriving.

extension Unicode.UTF8 {
    /// The length of the sequence a lead byte starts and the allowed range of its second byte (later bytes are
    /// always 0x80…0xBF); nil for ASCII and for bytes that cannot start a sequence (continuations, C0, C1, F5…FF).
    @inline(__always)
    static func sequenceShape(lead: UInt8) -> (length: Int, second: ClosedRange<UInt8>)? {
        switch lead {
        case 0xC2...0xDF: (2, 0x80...0xBF)
        case 0xE0: (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80...0xBF)
        case 0xED: (3, 0x80...0x9F)  // excludes the surrogates U+D800…DFFF
        case 0xF0: (4, 0x90...0xBF)  // excludes overlong forms
        case 0xF1...0xF3: (4, 0x80...0xBF)
        case 0xF4: (4, 0x80...0x8F)  // nothing above U+10FFFF
        default: nil
        }
    }

    /// Whether `bytes` is well-formed UTF-8.
    static func isWellFormed(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var position = 0
        while position < bytes.count {
            let lead = bytes[position]
            if lead < 0x80 {
                position += 1
                continue
            }
            guard let shape = sequenceShape(lead: lead), position + shape.length <= bytes.count,
                shape.second.contains(bytes[position + 1])
            else { return false }
            for offset in 2..<shape.length where bytes[position + offset] & 0xC0 != 0x80 { return false }
            position += shape.length
        }
        return true
    }
}
