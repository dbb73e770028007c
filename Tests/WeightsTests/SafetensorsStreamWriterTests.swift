// The streaming safetensors writer and the shard plan: byte-identical to the in-memory writer, readable
// by SafetensorsFile, atomic (no final file unless every declared byte arrived), shards packed greedily.

import Foundation
import Testing
@testable import Weights

@Suite("SafetensorsStreamWriter")
struct SafetensorsStreamWriterTests {
    /// A fresh empty directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Tensors of every dtype with sizes that leave the data unaligned (an odd byte count first).
    static var tensors: [SafetensorsWriter.Tensor] {
        func bytes(_ n: Int, _ salt: Int) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ salt) }) }
        return [
            .init(name: "a.scale", dtype: .f8e8m0, shape: [3], bytes: bytes(3, 1)),
            .init(name: "b.weight", dtype: .bf16, shape: [5, 7], bytes: bytes(70, 2)),
            .float32("c", shape: [2, 3], [1, -2, 3.5, 0, 1e-6, 448]),
            .init(name: "d.weight", dtype: .i8, shape: [4, 9], bytes: bytes(36, 3)),
            .int64("e.tid2eid", shape: [3, 2], [0, 5, 7, 1, 2, 3]),
            .init(name: "f \"quoted\"", dtype: .f8e4m3, shape: [1, 1], bytes: bytes(1, 4)),
            .init(name: "g.empty", dtype: .f32, shape: [0, 4], bytes: Data()),
        ]
    }

    @Test("streamed in odd pieces, the file equals SafetensorsWriter's byte for byte and parses back")
    func matchesInMemoryWriter() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var reference = SafetensorsWriter()
        for t in Self.tensors { reference.add(t) }
        reference.metadata = ["format": "pt", "note": "a\nb"]

        let url = dir.appendingPathComponent("x.safetensors")
        let writer = try SafetensorsStreamWriter(
            url: url, tensors: Self.tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
            metadata: reference.metadata)
        let payload = Self.tensors.reduce(Data()) { $0 + $1.bytes }
        var offset = 0, piece = 1
        while offset < payload.count {
            let end = min(payload.count, offset + piece)
            try payload[offset..<end].withUnsafeBytes { try writer.write($0) }
            offset = end
            piece += 4
        }
        try writer.finish()

        #expect(try Data(contentsOf: url) == reference.serialized())
        #expect(writer.headerBytes + writer.payloadBytes == reference.serialized().count)
        let file = try SafetensorsFile(path: url.path)
        #expect(file.metadata == reference.metadata)
        for t in Self.tensors {
            let read = try #require(file.tensor(t.name))
            #expect(read.dtype == t.dtype && read.shape == t.shape)
            #expect(Data(read.bytes) == t.bytes, "\(t.name)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.safetensors"])
    }

    @Test("a short, overlong or abandoned write leaves neither the file nor a temporary")
    func atomic() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.safetensors")
        let specs = [TensorSpec(name: "w", dtype: .bf16, shape: [4])]
        let bytes = [UInt8](repeating: 7, count: 9)

        let short = try SafetensorsStreamWriter(url: url, tensors: specs)
        try bytes[0..<5].withUnsafeBytes { try short.write($0) }
        #expect(throws: WeightsError.self) { try short.finish() }

        let long = try SafetensorsStreamWriter(url: url, tensors: specs)
        #expect(throws: WeightsError.self) { try bytes.withUnsafeBytes { try long.write($0) } }

        do {
            let abandoned = try SafetensorsStreamWriter(url: url, tensors: specs)
            try bytes[0..<8].withUnsafeBytes { try abandoned.write($0) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)

        #expect(throws: WeightsError.self) {
            _ = try SafetensorsStreamWriter(url: url, tensors: specs + specs)
        }
    }

    @Test("the shard plan packs greedily in order, gives an oversized tensor a shard alone, and indexes every tensor")
    func shardPlan() throws {
        let specs = [
            TensorSpec(name: "a", dtype: .u8, shape: [40]),
            TensorSpec(name: "b", dtype: .u8, shape: [50]),
            TensorSpec(name: "c", dtype: .u8, shape: [20]),
            TensorSpec(name: "huge", dtype: .f32, shape: [100]),
            TensorSpec(name: "d", dtype: .u8, shape: [10]),
        ]
        let plan = SafetensorsShardPlan(tensors: specs, maxShardBytes: 100)
        #expect(plan.shards.map { $0.tensors.map(\.name) } == [["a", "b"], ["c"], ["huge"], ["d"]])
        #expect(plan.shards.map(\.fileName) == (1...4).map { "model-0000\($0)-of-00004.safetensors" })
        #expect(plan.totalSize == 520)
        #expect(SafetensorsShardPlan.shardFileName(45, of: 46) == "model-00046-of-00046.safetensors")

        struct Index: Decodable {
            let metadata: [String: Int]
            let weight_map: [String: String]
        }
        let index = try JSONDecoder().decode(Index.self, from: plan.indexJSON())
        #expect(index.metadata["total_size"] == 520)
        #expect(index.weight_map == ["a": "model-00001-of-00004.safetensors", "b": "model-00001-of-00004.safetensors",
                                     "c": "model-00002-of-00004.safetensors", "huge": "model-00003-of-00004.safetensors",
                                     "d": "model-00004-of-00004.safetensors"])
        #expect(SafetensorsShardPlan(tensors: [], maxShardBytes: 1).shards.isEmpty)
    }
}
