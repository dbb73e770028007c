// A damaged or mismatched checkpoint must make `DeepSeekV4Model(directory:)` throw the WeightsError that
// names the problem — never crash, never load. Each test copies the tiny Flash fixture into a scratch
// directory, breaks one thing, and loads.

import Foundation
import Testing
import Weights

@testable import DeepSeekV4

@Suite("Checkpoint errors")
struct CheckpointErrorTests {
    /// A scratch copy of the tiny Flash checkpoint (config, index, shards), removed when the test ends.
    final class Copy {
        let directory: URL

        init() throws {
            directory = try ConfigFixture.temporaryDirectory()
            let source = try ConfigFixture.directory("tiny-flash")
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where !name.hasPrefix("golden") {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: url(name))
            }
        }

        deinit { try? FileManager.default.removeItem(at: directory) }

        func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

        var indexURL: URL { url(WeightStore.indexFileName) }

        /// The index's weight_map and the whole index object.
        func index() throws -> (map: [String: String], json: [String: Any]) {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
            return (try #require(json["weight_map"] as? [String: String]), json)
        }

        func writeIndex(_ map: [String: String]) throws {
            var json = try index().json
            json["weight_map"] = map
            try JSONSerialization.data(withJSONObject: json).write(to: indexURL)
        }

        /// The shard that holds `tensor`, per the index.
        func shard(of tensor: String) throws -> String { try #require(try index().map[tensor]) }

        /// Rewrites `shard` with SafetensorsWriter after `edit` has changed its list of tensors.
        func rewrite(_ shard: String, _ edit: (inout [SafetensorsWriter.Tensor]) -> Void) throws {
            var tensors: [SafetensorsWriter.Tensor] = []
            do {
                let file = try SafetensorsFile(path: url(shard).path)
                for name in file.tensorNames.sorted() {
                    let t = file.tensor(name)!
                    tensors.append(.init(name: name, dtype: t.dtype, shape: t.shape, bytes: Data(t.bytes)))
                }
            }
            edit(&tensors)
            var writer = SafetensorsWriter()
            for t in tensors { writer.add(t) }
            try writer.write(to: url(shard))
        }

        /// Loads the model and returns the WeightsError it throws (nil if it loads; other errors are rethrown).
        func loadError() throws -> WeightsError? {
            do {
                _ = try DeepSeekV4Model(directory: directory)
                return nil
            } catch let error as WeightsError {
                return error
            }
        }
    }

    @Test("the unmodified copy loads")
    func intactCopyLoads() throws {
        let copy = try Copy()
        #expect(try copy.loadError() == nil)
    }

    @Test("a truncated shard is reported as truncated, naming the shard")
    func truncatedShard() throws {
        let copy = try Copy()
        let shard = copy.url("model-00002-of-00002.safetensors")
        let data = try Data(contentsOf: shard)
        try data.prefix(data.count - 1000).write(to: shard)
        let error = try copy.loadError()
        guard case .truncatedFile(let file, let size, let needed)? = error else {
            Issue.record("expected truncatedFile, got \(String(describing: error))")
            return
        }
        #expect(file == shard.path)
        #expect(size == data.count - 1000 && needed > size)
    }

    @Test("a corrupted header byte is reported as a malformed header", arguments: [
        (8, UInt8(ascii: "X")),  // the opening brace of the JSON header
        (6, UInt8(0x7f)),        // the header length becomes implausibly large
        (0, UInt8(0x01)),        // the header length no longer ends at the data
    ])
    func corruptedHeader(offset: Int, byte: UInt8) throws {
        let copy = try Copy()
        let shard = copy.url("model-00001-of-00002.safetensors")
        var data = try Data(contentsOf: shard)
        data[offset] = byte
        try data.write(to: shard)
        let error = try copy.loadError()
        guard case .malformedHeader(let file, _)? = error else {
            Issue.record("expected malformedHeader, got \(String(describing: error))")
            return
        }
        #expect(file == shard.path)
    }

    @Test("a tensor deleted from the index and its shard is reported missing by name")
    func deletedTensor() throws {
        let copy = try Copy()
        let name = "layers.3.attn.compressor.wkv.weight"
        let shard = try copy.shard(of: name)
        try copy.rewrite(shard) { $0.removeAll { $0.name == name } }
        var map = try copy.index().map
        map[name] = nil
        try copy.writeIndex(map)
        #expect(try copy.loadError() == .missingTensor(name: name))
    }

    @Test("an extra tensor the model does not use is reported as unexpected")
    func extraTensor() throws {
        let copy = try Copy()
        let name = "layers.0.attn.bonus.weight"
        let shard = "model-00001-of-00002.safetensors"
        try copy.rewrite(shard) { $0.append(.float32(name, shape: [2], [1, 2])) }
        var map = try copy.index().map
        map[name] = shard
        try copy.writeIndex(map)
        #expect(try copy.loadError() == .unexpectedTensors(names: [name]))
    }

    @Test("a tensor with another dtype is reported with its file and both dtypes")
    func changedDType() throws {
        let copy = try Copy()
        let name = "layers.1.attn.kv_norm.weight"
        let shard = try copy.shard(of: name)
        try copy.rewrite(shard) { tensors in
            let i = tensors.firstIndex { $0.name == name }!
            let count = tensors[i].shape.reduce(1, *)
            tensors[i] = .float32(name, shape: tensors[i].shape, [Float](repeating: 1, count: count))
        }
        #expect(try copy.loadError()
            == .wrongDType(tensor: name, file: copy.url(shard).path, expected: ["BF16"], actual: "F32"))
    }

    @Test("a tensor with another shape is reported with its file and both shapes")
    func changedShape() throws {
        let copy = try Copy()
        let name = "layers.2.attn.wq_b.weight"  // FP8 (4·128, 128)
        let shard = try copy.shard(of: name)
        try copy.rewrite(shard) { tensors in
            let i = tensors.firstIndex { $0.name == name }!
            tensors[i].shape = [128, 512]
        }
        #expect(try copy.loadError()
            == .wrongShape(tensor: name, file: copy.url(shard).path, expected: [512, 128], actual: [128, 512]))
    }

    @Test("a shard listed in the index but absent is reported as missing")
    func missingShard() throws {
        let copy = try Copy()
        let shard = copy.url("model-00002-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        #expect(try copy.loadError() == .missingShard(file: shard.path, referencedBy: copy.indexURL.path))
    }

    @Test("MTP tensors of a DSpark config are unused drafter tensors: the model loads and inspect sizes them")
    func drafterStagesAreUnused() throws {
        let copy = try Copy()
        let configURL = copy.url("config.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        json["dspark_block_size"] = 5
        try JSONSerialization.data(withJSONObject: json).write(to: configURL)

        let model = try DeepSeekV4Model(directory: copy.directory)
        #expect(!model.hasMTP)
        let mtpNames = try copy.index().map.keys.filter { $0.hasPrefix("mtp.") }.sorted()
        #expect(!mtpNames.isEmpty)
        #expect(model.unusedTensors == mtpNames)

        let inventory = try ModelInventory.load(directory: copy.directory)
        let checkpoint = try #require(inventory.checkpoint)
        #expect(checkpoint.comparison.matches)
        #expect(checkpoint.comparison.unusedDrafter == mtpNames)
        let store = try WeightStore(directory: copy.directory)
        #expect(checkpoint.unusedBytes == mtpNames.reduce(0) { $0 + store.info($1)!.range.count })
        #expect(inventory.weightBytes == inventory.usedWeightBytes + checkpoint.unusedBytes)
        #expect(inventory.parameters.mtp == 0)
    }

    @Test("a config that does not match the weights is reported as a shape mismatch")
    func mismatchedConfig() throws {
        let copy = try Copy()
        let configURL = copy.url("config.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        json["q_lora_rank"] = 256
        try JSONSerialization.data(withJSONObject: json).write(to: configURL)
        let error = try copy.loadError()
        guard case .wrongShape(let tensor, _, _, _)? = error else {
            Issue.record("expected wrongShape, got \(String(describing: error))")
            return
        }
        #expect(tensor.contains("wq_"))
    }
}
