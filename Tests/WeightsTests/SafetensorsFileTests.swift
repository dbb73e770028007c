// Tests of the safetensors reader on tiny files the tests write themselves: a good file parses with the
// right dtypes, shapes and bytes, and every malformed file is a typed WeightsError — never a crash.
// `Scratch` at the end (temporary files, hand-built bytes) is shared with WeightStoreTests.

import Foundation
import Testing

@testable import Weights

@Suite("SafetensorsFile")
struct SafetensorsFileTests {
    @Test("parses a file written by SafetensorsWriter: dtypes, shapes, bytes and metadata")
    func parsesWrittenFile() throws {
        let dir = try Scratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = SafetensorsWriter()
        writer.metadata = ["format": "pt"]
        writer.add(.float32("a.weight", shape: [2, 3], [1, 2, 3, 4, 5, 6]))
        writer.add(.init(name: "b.bf16", dtype: .bf16, shape: [2], bytes: Data([0x80, 0x3f, 0x00, 0x40])))
        writer.add(.init(name: "c.fp4", dtype: .i8, shape: [1, 4], bytes: Data([1, 2, 3, 4])))
        writer.add(.init(name: "c.scale", dtype: .f8e8m0, shape: [1, 1], bytes: Data([127])))
        writer.add(.int64("d.table", shape: [3], [7, -1, 1 << 40]))
        writer.add(.init(name: "e.empty", dtype: .f8e4m3, shape: [0, 4], bytes: Data()))
        writer.add(.init(name: "f.scalar", dtype: .u8, shape: [], bytes: Data([9])))
        let url = dir.appendingPathComponent("good.safetensors")
        try writer.write(to: url)

        let file = try SafetensorsFile(path: url.path)
        #expect(Set(file.tensorNames) == ["a.weight", "b.bf16", "c.fp4", "c.scale", "d.table", "e.empty", "f.scalar"])
        #expect(file.metadata == ["format": "pt"])
        let a = try #require(file.tensor("a.weight"))
        #expect(a.dtype == .f32 && a.shape == [2, 3] && a.elementCount == 6)
        #expect((0..<6).map { a.bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } == [1, 2, 3, 4, 5, 6])
        #expect(Array(try #require(file.tensor("b.bf16")).bytes) == [0x80, 0x3f, 0x00, 0x40])
        #expect(try #require(file.tensor("c.fp4")).dtype == .i8)
        #expect(Array(try #require(file.tensor("c.scale")).bytes) == [127])
        let d = try #require(file.tensor("d.table"))
        #expect((0..<3).map { d.bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) } == [7, -1, 1 << 40])
        #expect(try #require(file.tensor("e.empty")).bytes.count == 0)
        let scalar = try #require(file.tensor("f.scalar"))
        #expect(scalar.shape == [] && scalar.elementCount == 1 && Array(scalar.bytes) == [9])
        #expect(file.tensor("nope") == nil)
    }

    @Test("parses a hand-built file with unpadded header and metadata")
    func parsesHandBuiltFile() throws {
        let header = #"{"__metadata__":{"k":"v"},"x":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,4]}}"#
        let dir = try Scratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("hand.safetensors")
        try Scratch.file(header: header, data: [1, 2, 3, 4]).write(to: url)
        let file = try SafetensorsFile(path: url.path)
        let x = try #require(file.tensor("x"))
        #expect(x.dtype == .f8e4m3 && x.shape == [2, 2] && Array(x.bytes) == [1, 2, 3, 4])
        #expect(file.metadata == ["k": "v"])
        #expect(file.entries["x"]?.range == 0..<4)
    }

    /// One malformed file and the error case it must produce.
    struct Malformed: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let bytes: Data
        let expected: String

        init(_ description: String, _ bytes: Data, _ expected: String) {
            testDescription = description
            self.bytes = bytes
            self.expected = expected
        }

        /// A file with one tensor entry `entry` (JSON text) and `data` bytes.
        init(_ description: String, entry: String, data: Int = 8, _ expected: String) {
            self.init(description, Scratch.file(header: #"{"t":"# + entry + "}", data: [UInt8](repeating: 0, count: data)), expected)
        }
    }

    static let malformed: [Malformed] = [
        Malformed("an empty file", Data(), "truncatedFile"),
        Malformed("a file shorter than 8 bytes", Data([4, 0, 0, 0]), "truncatedFile"),
        Malformed("a header length larger than the file", Scratch.file(header: "{}", data: [], declaredLength: 4096), "truncatedFile"),
        Malformed("a header length of UInt64.max", Scratch.file(header: "{}", data: [], declaredLength: .max), "malformedHeader"),
        Malformed("a header length of 1", Scratch.file(header: "{}", data: [], declaredLength: 1), "malformedHeader"),
        Malformed("a header that is not JSON", Scratch.file(header: "{not json", data: []), "malformedHeader"),
        Malformed("a header that is not UTF-8",
                  Scratch.file(header: #"{"\#u{FF}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#, data: [], mangle: true),
                  "malformedHeader"),
        Malformed("a header that is a JSON array", Scratch.file(header: "[1, 2]", data: []), "malformedHeader"),
        Malformed("a header entry that is not an object", Scratch.file(header: #"{"t": 5}"#, data: []), "malformedHeader"),
        Malformed("metadata that is not strings", Scratch.file(header: #"{"__metadata__":{"k":1}}"#, data: []), "malformedHeader"),
        Malformed("an entry missing its dtype", entry: #"{"shape":[2],"data_offsets":[0,8]}"#, "malformedHeader"),
        Malformed("an entry missing its shape", entry: #"{"dtype":"F32","data_offsets":[0,8]}"#, "malformedHeader"),
        Malformed("an entry missing its offsets", entry: #"{"dtype":"F32","shape":[2]}"#, "malformedHeader"),
        Malformed("non-integer offsets", entry: #"{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}"#, "malformedHeader"),
        Malformed("an unknown dtype", entry: #"{"dtype":"F16","shape":[4],"data_offsets":[0,8]}"#, "unsupportedDType"),
        Malformed("three offsets", entry: #"{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}"#, "badOffsets"),
        Malformed("reversed offsets", entry: #"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#, "badOffsets"),
        Malformed("a negative offset", entry: #"{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}"#, "badOffsets"),
        Malformed("offsets spanning fewer bytes than the shape", entry: #"{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#, "badOffsets"),
        Malformed("offsets spanning more bytes than the shape", entry: #"{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}"#, "badOffsets"),
        Malformed("data beyond the end of the file", entry: #"{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"#, "truncatedFile"),
        Malformed("offsets near Int.max", entry: #"{"dtype":"U8","shape":[8],"data_offsets":[9223372036854775799,9223372036854775807]}"#,
                  "truncatedFile"),
        Malformed("a negative dimension", entry: #"{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}"#, "malformedHeader"),
        Malformed("a shape whose element count overflows", entry: #"{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}"#,
                  "malformedHeader"),
        Malformed("overlapping tensors",
                  Scratch.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                               data: [UInt8](repeating: 0, count: 8)),
                  "badOffsets"),
    ]

    @Test("reports every malformed file as a typed WeightsError", arguments: malformed)
    func rejectsMalformed(_ bad: Malformed) throws {
        let dir = try Scratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.safetensors")
        try bad.bytes.write(to: url)
        let error = #expect(throws: WeightsError.self) { try SafetensorsFile(path: url.path) }
        #expect(error.map(Scratch.caseName) == bad.expected, "\(String(describing: error))")
        #expect(error?.description.contains(url.path) == true)
    }

    @Test("reports a file that cannot be opened")
    func rejectsMissingFile() throws {
        let error = #expect(throws: WeightsError.self) { try SafetensorsFile(path: "/nonexistent/x.safetensors") }
        #expect(error.map(Scratch.caseName) == "cannotOpen")
    }
}

/// Scratch files for the Weights tests.
enum Scratch {
    /// A fresh empty directory under the system's temporary directory.
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The bytes of a safetensors file: u64 LE header length (`declaredLength` or the true one), the header,
    /// then `data`. `mangle` replaces the UTF-8 of U+00FF by a lone 0xFF byte (invalid UTF-8).
    static func file(header: String, data: [UInt8], declaredLength: UInt64? = nil, mangle: Bool = false) -> Data {
        var headerBytes = [UInt8](header.utf8)
        if mangle, let i = headerBytes.firstIndex(of: 0xC3) { headerBytes.replaceSubrange(i...(i + 1), with: [0xFF]) }
        var out = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: data)
        return out
    }

    /// The name of an error's case, for comparing the kind of error without its details.
    static func caseName(_ error: WeightsError) -> String {
        String(describing: Mirror(reflecting: error).children.first?.label ?? "\(error)")
    }
}
