// JSONValueTests.swift
//
// JSONValue against Python's `json` module. Every expected string below was produced by Python 3.11
// (`json.loads` and `json.dumps(…, ensure_ascii=False)`), not by our code.

import Testing
@testable import Tokenizers

@Suite("JSONValue")
struct JSONValueTests {
    /// Doubles (by bit pattern) and Python's `json.dumps` of them.
    static let floats: [(bits: UInt64, python: String)] = [
        (0x3EE4_F8B5_88E3_68F1, "1e-05"),
        (0x4341_C379_37E0_8000, "1e+16"),
        (0x430C_6BF5_2634_0000, "1000000000000000.0"),
        (0x3FB9_9999_9999_999A, "0.1"),
        (0x3FD5_5555_5555_5555, "0.3333333333333333"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"),
        (0x8000_0000_0000_0000, "-0.0"),
        (0x0000_0000_0000_0000, "0.0"),
        (0x4480_F0CF_064D_D592, "1e+22"),
        (0x419D_6F34_547D_F3B6, "123456789.123"),
        (0x3EFA_36E2_EB1C_432D, "2.5e-05"),
        (0x3F1A_36E2_EB1C_432D, "0.0001"),
        (0x4340_0000_0000_0000, "9007199254740992.0"),
        (0x3FF8_0000_0000_0000, "1.5"),
        (0x4059_0000_0000_0000, "100.0"),
        (0xBE8A_D7F2_9ABC_AF48, "-2e-07"),
        (0x54B2_49AD_2594_C37D, "1e+100"),
        (0x4345_EE2A_2EB5_A5C4, "1.2345678901234568e+16"),
        (0x3FD3_3333_3333_3334, "0.30000000000000004"),
        (0x0010_0000_0000_0000, "2.2250738585072014e-308"),
        (0x44DF_E185_CA57_C517, "6.02214076e+23"),
        (0x4164_D839_9F76_7C45, "10928588.983213553"),
        (0x5BC8_FBBC_BDE5_C099, "1.4186613525849614e+134"),
        (0xB0C1_1FDE_CB91_CE37, "-7.571968556055867e-74"),
        (0xD76D_4330_F144_6BEA, "-1.4074705188261364e+113"),
        (0xA6EB_8C9E_BD69_FE29, "-3.3339745473042614e-121"),
        (0x87B0_B125_EC1D_7DA0, "-1.2342180766211395e-271"),
        (0xC6A5_3877_7733_0BDB, "-2.1520217579844227e+32"),
        (0x0D46_4138_A623_3255, "1.01853664031722e-244"),
        (0x6179_59CE_3F1F_65A8, "3.56409621163656e+161"),
        (0xC08E_6E2C_4789_A1F1, "-973.7716208221956"),
        (0x408A_0586_A496_EB0E, "832.6907436171039"),
    ]

    @Test("formats floats like Python's repr")
    func formatsFloatsLikePython() {
        for (bits, python) in Self.floats {
            #expect(JSONValue.float(Double(bitPattern: bits)).serialized() == python)
        }
        #expect(JSONValue.float(.nan).serialized() == "NaN")
        #expect(JSONValue.float(-.infinity).serialized() == "-Infinity")
    }

    /// Texts and `json.dumps(json.loads(text), ensure_ascii=False)`, or nil where `json.loads` raises.
    static let documents: [(text: String, python: String?)] = [
        ("NaN", "NaN"), ("-Infinity", "-Infinity"), ("Infinity", "Infinity"),
        ("1.", nil), (".5", nil), ("01", nil), ("-", nil), ("-0", "0"), ("-0.0", "-0.0"),
        ("1e400", "Infinity"), ("-1e400", "-Infinity"), ("1E+2", "100.0"), ("1e-2", "0.01"), ("2.50", "2.5"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("[1,]", nil), (#"{"a":1,}"#, nil), ("[1 2]", nil), ("{'a':1}", nil), ("nul", nil), ("[]x", nil),
        ("", nil), ("  ", nil), ("\t[1]\r\n", "[1]"), ("\u{FEFF}[]", nil), ("\"a\u{01}\"", nil),
        ("\"a\u{7F}\"", "\"a\u{7F}\""), (#""\ud83d\ude00""#, "\"\u{1F600}\""), (#""\uD83D\uDE00""#, "\"\u{1F600}\""),
        (#""\u00e9""#, "\"\u{E9}\""), (#""\x41""#, nil), (#""\/""#, #""/""#),
        (#""tab\tquote\"back\\""#, #""tab\tquote\"back\\""#),
        (#"{"a":1,"b":2,"a":3}"#, #"{"a": 3, "b": 2}"#),
        ("{\"\u{E9}\":1,\"e\u{301}\":2}", "{\"\u{E9}\": 1, \"e\u{301}\": 2}"),
        ("[[[]]]", "[[[]]]"), (#"{"k": {}}"#, #"{"k": {}}"#), ("true", "true"), ("False", nil), ("null ", "null"),
        ("[1e5, 1.0, 0.5e-6]", "[100000.0, 1.0, 5e-07]"), ("\"unterminated", nil), (#"{"a" 1}"#, nil),
        ("[1,,2]", nil), (#"{"a":1}{}"#, nil),
    ]

    @Test("accepts and rejects what Python's json.loads does, and round-trips like json.dumps")
    func parsesLikePython() {
        for (text, python) in Self.documents {
            let parsed = try? JSONValue(parsing: text)
            #expect(parsed.map { Array($0.serialized().utf8) } == python.map { Array($0.utf8) }, "\(text.debugDescription)")
        }
    }

    @Test("serializes nested values with Python's separators, escapes and key order")
    func serializesNestedValues() {
        let value: JSONValue = [
            "z": .string("ctl\u{0}\u{1F}\u{8}\u{C}\n\r\t\"\\/ \u{E9}\u{1F600}\u{2028}\u{7F}"),
            "a": [1, -2, 3.0, nil, true, false, .object([:]), []],
            "empty": "",
            "nested": ["b": ["c": [0.5]]],
        ]
        let python =
            #"{"z": "ctl\u0000\u001f\b\f\n\r\t\"\\/ "# + "\u{E9}\u{1F600}\u{2028}\u{7F}"
            + #"", "a": [1, -2, 3.0, null, true, false, {}, []], "empty": "", "nested": {"b": {"c": [0.5]}}}"#
        #expect(Array(value.serialized().utf8) == Array(python.utf8))
    }

    /// Python keeps a lone surrogate from a `\ud800` escape; a Swift String cannot, so it becomes U+FFFD.
    @Test("replaces a lone surrogate escape with U+FFFD")
    func replacesLoneSurrogate() throws {
        #expect(try JSONValue(parsing: #""a\ud800b""#) == .string("a\u{FFFD}b"))
        #expect(try JSONValue(parsing: #""\udc00\ud83d\ude00""#) == .string("\u{FFFD}\u{1F600}"))
    }

    @Test("keeps insertion order and replaces values in place")
    func keepsInsertionOrder() {
        var object = JSONObject()
        object["b"] = 1
        object["a"] = 2
        object["b"] = 3
        #expect(object.map(\.key) == ["b", "a"])
        #expect(object["b"] == 3)
        object["b"] = nil
        #expect(object.map(\.key) == ["a"])
        #expect(!object.contains(key: "b"))
    }

    @Test("rejects nesting deeper than the limit instead of overflowing the stack")
    func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: JSONValue.maximumDepth + 1)
            + String(repeating: "]", count: JSONValue.maximumDepth + 1)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let allowed = String(repeating: "[", count: JSONValue.maximumDepth)
            + String(repeating: "]", count: JSONValue.maximumDepth)
        #expect((try? JSONValue(parsing: allowed)) != nil)
    }

    @Test("follows Python truthiness")
    func followsPythonTruthiness() {
        let falsy: [JSONValue] = [nil, false, 0, 0.0, "", [], .object([:])]
        let truthy: [JSONValue] = [true, 1, 0.5, "x", [nil], ["k": nil]]
        #expect(falsy.allSatisfy { !$0.isTruthy })
        #expect(truthy.allSatisfy { $0.isTruthy })
    }
}
