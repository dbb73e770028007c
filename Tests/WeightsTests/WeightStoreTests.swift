// Tests of WeightStore: a checkpoint directory (index + shards, or one model.safetensors) becomes one
// name → tensor table; every inconsistency between the index and the shards is a typed WeightsError, and
// typed lookups name the tensor, the file and the expected and actual values.

import Foundation
import Testing

@testable import Weights

@Suite("WeightStore")
struct WeightStoreTests {
    /// A scratch checkpoint directory: shards written with SafetensorsWriter and an index mapping their tensors.
    final class Checkpoint {
        let directory: URL

        init() throws { directory = try Scratch.directory() }

        deinit { try? FileManager.default.removeItem(at: directory) }

        func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

        func path(_ name: String) -> String { url(name).path }

        /// Writes a shard holding `tensors` and returns their names.
        @discardableResult
        func writeShard(_ name: String, _ tensors: [SafetensorsWriter.Tensor]) throws -> [String] {
            var writer = SafetensorsWriter()
            for t in tensors { writer.add(t) }
            try writer.write(to: url(name))
            return tensors.map(\.name)
        }

        func writeIndex(_ map: [String: String]) throws {
            let json: [String: Any] = ["metadata": ["total_size": 0], "weight_map": map]
            try JSONSerialization.data(withJSONObject: json).write(to: url(WeightStore.indexFileName))
        }

        func writeIndex(text: String) throws {
            try Data(text.utf8).write(to: url(WeightStore.indexFileName))
        }

        /// Two shards: a.weight F32 (2, 3) and a.bias F32 (3) in the first, b.table I64 (4) in the second.
        func writeTwoShards() throws {
            try writeShard("s1.safetensors", [
                .float32("a.weight", shape: [2, 3], [1, 2, 3, 4, 5, 6]),
                .float32("a.bias", shape: [3], [0, 0, 1]),
            ])
            try writeShard("s2.safetensors", [.int64("b.table", shape: [4], [0, 1, 2, 3])])
            try writeIndex(["a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "b.table": "s2.safetensors"])
        }

        func storeError() -> WeightsError? {
            do {
                _ = try WeightStore(directory: directory)
                return nil
            } catch {
                return error as? WeightsError
            }
        }
    }

    @Test("reads an index and its shards into one table")
    func readsShardedCheckpoint() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        let store = try WeightStore(directory: c.directory)
        #expect(store.files.count == 2)
        #expect(Set(store.tensorNames) == ["a.weight", "a.bias", "b.table"])
        #expect(store.contains("b.table") && !store.contains("c"))
        #expect(store.info("a.weight")?.shape == [2, 3])
        #expect(store.bytesByDType == [.f32: 36, .i64: 32])
        let t = try store.tensor("b.table", dtype: .i64, shape: [4])
        #expect(t.file.path == c.path("s2.safetensors"))
        #expect(t.bytes.loadUnaligned(fromByteOffset: 24, as: Int64.self) == 3)
    }

    @Test("reads a single model.safetensors without an index")
    func readsSingleFile() throws {
        let c = try Checkpoint()
        try c.writeShard(WeightStore.singleFileName, [.float32("x", shape: [1], [42])])
        let store = try WeightStore(directory: c.directory)
        #expect(store.tensorNames == ["x"])
        #expect(try store.tensor("x", dtype: .f32, shape: [1]).bytes.load(as: Float.self) == 42)
    }

    @Test("reports a directory without weights")
    func reportsNoCheckpoint() throws {
        let c = try Checkpoint()
        #expect(c.storeError() == .noCheckpoint(directory: c.directory.path))
    }

    @Test("reports an index that is not valid JSON or has no weight_map", arguments: [
        "{\"weight_map\": {", "[]", "{\"metadata\": {}}", "{\"weight_map\": {\"a\": 1}}",
    ])
    func reportsMalformedIndex(_ text: String) throws {
        let c = try Checkpoint()
        try c.writeIndex(text: text)
        guard case .malformedIndex(let file, _)? = c.storeError() else {
            Issue.record("expected malformedIndex, got \(String(describing: c.storeError()))")
            return
        }
        #expect(file == c.path(WeightStore.indexFileName))
    }

    @Test("reports a shard named with a path, or empty", arguments: ["../s1.safetensors", "sub/s1.safetensors", "/tmp/s1.safetensors", ""])
    func reportsShardNameWithPath(_ shard: String) throws {
        let c = try Checkpoint()
        try c.writeShard("s1.safetensors", [.float32("a", shape: [1], [1])])
        try c.writeIndex(["a": shard])
        guard case .malformedIndex(_, let reason)? = c.storeError() else {
            Issue.record("expected malformedIndex, got \(String(describing: c.storeError()))")
            return
        }
        #expect(reason.contains("plain file name"))
    }

    @Test("reports a shard listed in the index that does not exist")
    func reportsMissingShard() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        try FileManager.default.removeItem(at: c.url("s2.safetensors"))
        #expect(c.storeError() == .missingShard(file: c.path("s2.safetensors"), referencedBy: c.path(WeightStore.indexFileName)))
    }

    @Test("reports a tensor mapped to a shard that lacks it")
    func reportsTensorNotInShard() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        try c.writeIndex(["a.weight": "s1.safetensors", "a.bias": "s2.safetensors", "b.table": "s2.safetensors"])
        // a.bias sits in s1, but the index says s2.
        #expect(c.storeError() == .tensorNotInShard(tensor: "a.bias", file: c.path("s2.safetensors")))
        try c.writeIndex(["a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "b.table": "s2.safetensors", "c": "s2.safetensors"])
        #expect(c.storeError() == .tensorNotInShard(tensor: "c", file: c.path("s2.safetensors")))
    }

    @Test("reports a tensor present in a shard but absent from the index")
    func reportsUnindexedTensor() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        try c.writeIndex(["a.weight": "s1.safetensors", "b.table": "s2.safetensors"])
        guard case .malformedIndex(_, let reason)? = c.storeError() else {
            Issue.record("expected malformedIndex, got \(String(describing: c.storeError()))")
            return
        }
        #expect(reason.contains("'a.bias'"))
    }

    @Test("passes on a malformed shard's own error")
    func reportsMalformedShard() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        try Scratch.file(header: "{oops", data: []).write(to: c.url("s2.safetensors"))
        guard case .malformedHeader(let file, _)? = c.storeError() else {
            Issue.record("expected malformedHeader, got \(String(describing: c.storeError()))")
            return
        }
        #expect(file == c.path("s2.safetensors"))
    }

    @Test("typed lookups name the tensor, the file and the expected and actual dtype or shape")
    func typedLookupErrors() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        let store = try WeightStore(directory: c.directory)
        let file = c.path("s1.safetensors")

        let dtypeError = #expect(throws: WeightsError.self) { try store.tensor("a.weight", dtype: [.bf16, .f8e4m3], shape: [2, 3]) }
        #expect(dtypeError == .wrongDType(tensor: "a.weight", file: file, expected: ["BF16", "F8_E4M3"], actual: "F32"))
        #expect(dtypeError?.description.contains("a.weight") == true)
        #expect(dtypeError?.description.contains(file) == true)

        let shapeError = #expect(throws: WeightsError.self) { try store.tensor("a.weight", dtype: .f32, shape: [3, 2]) }
        #expect(shapeError == .wrongShape(tensor: "a.weight", file: file, expected: [3, 2], actual: [2, 3]))
        #expect(shapeError?.description.contains("[3, 2]") == true)
        #expect(shapeError?.description.contains("[2, 3]") == true)

        #expect(throws: WeightsError.missingTensor(name: "a.gone")) { try store.tensor("a.gone", dtype: .f32, shape: [1]) }
        #expect(throws: WeightsError.wrongShape(tensor: "a.bias", file: file, expected: [4], actual: [3])) {
            try store.check("a.bias", dtype: [.f32], shape: [4])
        }
    }

    @Test("untakenNames lists what no successful lookup has taken, sorted")
    func untakenNames() throws {
        let c = try Checkpoint()
        try c.writeTwoShards()
        let store = try WeightStore(directory: c.directory)
        #expect(store.untakenNames == ["a.bias", "a.weight", "b.table"])
        _ = try store.tensor("a.weight", dtype: .f32, shape: [2, 3])
        _ = try? store.tensor("b.table", dtype: .f32, shape: [4])  // wrong dtype: not taken
        try store.check("a.bias", dtype: [.f32], shape: [3])       // checking does not take
        #expect(store.untakenNames == ["a.bias", "b.table"])
    }
}
