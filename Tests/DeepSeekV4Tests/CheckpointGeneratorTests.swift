// The random-weight checkpoint generator: its layout against the official one (fixtures' tensor tables,
// the full-size totals of spec §4.1, config.json's key set), loading and running what it writes, the scale
// of its weights, determinism, and the shard/index files.

import Foundation
import Kernels
import Testing
import Weights
@testable import DeepSeekV4

@Suite("CheckpointGenerator")
struct CheckpointGeneratorTests {
    /// A fresh empty directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-gen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The tiny preset with a 4096-token vocabulary: about 5 MB, every layer kind, both routing kinds.
    static func smallConfig() throws -> DeepSeekV4Config {
        try CheckpointPreset.tiny.config(vocabularySize: 4096)
    }

    /// name → (dtype, shape) of every tensor in a checkpoint directory.
    static func tensorTable(_ directory: URL) throws -> [String: String] {
        let store = try WeightStore(directory: directory)
        var table: [String: String] = [:]
        for name in store.tensorNames {
            let e = store.info(name)!
            table[name] = "\(e.dtype.rawValue) \(e.shape)"
        }
        return table
    }

    @Test("the full Flash and Pro layouts add up to the official tensor counts, bytes, dtypes and parameters")
    func fullSizeTotals() throws {
        // Spec §4.1: counts from the published checkpoints' inventories.
        let expected: [(CheckpointPreset, Int, Int, Int, [DType: Int])] = [
            (.flash, 69_187, 159_609_485_896, 290_944_616_402,
             [.bf16: 433, .f32: 417, .f8e4m3: 375, .f8e8m0: 34_167, .i64: 3, .i8: 33_792]),
            (.pro, 145_116, 864_704_792_696, 1_598_839_674_782,
             [.bf16: 619, .f32: 590, .f8e4m3: 528, .f8e8m0: 71_952, .i64: 3, .i8: 71_424]),
        ]
        for (preset, tensors, bytes, parameters, dtypes) in expected {
            let generator = try CheckpointGenerator(config: preset.fullConfig, seed: 0)
            #expect(generator.tensorCount == tensors, "\(preset)")
            #expect(generator.plan.totalSize == bytes, "\(preset)")
            #expect(generator.parameterCount == parameters, "\(preset)")
            var counts: [DType: Int] = [:]
            for t in generator.tensors { counts[t.spec.dtype, default: 0] += 1 }
            #expect(counts == dtypes, "\(preset)")
        }
    }

    @Test("with a fixture's config, the generated tensors have exactly the fixture's names, dtypes and shapes",
          arguments: ["tiny-flash", "tiny-pro"])
    func layoutMatchesFixture(_ fixture: String) throws {
        let config = try DeepSeekV4Config.load(directory: Fixtures.directory(fixture))
        let generator = try CheckpointGenerator(config: config, seed: 3)
        var generated: [String: String] = [:]
        for t in generator.tensors { generated[t.spec.name] = "\(t.spec.dtype.rawValue) \(t.spec.shape)" }
        let official = try Self.tensorTable(Fixtures.directory(fixture))
        #expect(Set(generated.keys).symmetricDifference(official.keys).sorted() == [])
        for (name, entry) in official where generated[name] != nil {
            #expect(generated[name] == entry, "\(name)")
        }
    }

    @Test("config.json round-trips the official Flash and Pro configs to the official key set and values",
          arguments: [CheckpointPreset.flash, .pro])
    func officialConfigJSON(_ preset: CheckpointPreset) throws {
        let url = Fixtures.directory("configs/\(preset.rawValue)").appendingPathComponent("config.json")
        let officialData = try Data(contentsOf: url)
        let official = try DeepSeekV4Config.decode(officialData, path: url.path)
        #expect(preset.fullConfig == official)
        let written = try JSONSerialization.jsonObject(with: official.officialJSON()) as! NSDictionary
        let expected = try JSONSerialization.jsonObject(with: officialData) as! NSDictionary
        #expect(Set(written.allKeys as! [String]) == Set(expected.allKeys as! [String]))
        #expect(written == expected)
    }

    @Test("truncated presets keep the real layer schedule and reject out-of-range values")
    func truncation() throws {
        let flash = try CheckpointPreset.flash.config(layers: 4, experts: 4, vocabularySize: 1000)
        #expect(flash.compressRatios == [0, 0, 4, 128, 0])
        #expect(flash.numHashLayers == 3 && flash.nRoutedExperts == 4 && flash.numExpertsPerTok == 4)
        #expect(flash.vocabSize == 1000 && flash.hiddenSize == 4096)
        let pro = try CheckpointPreset.pro.config(layers: 2, experts: 8)
        #expect(pro.compressRatios == [128, 128, 0] && pro.numHashLayers == 2 && pro.numExpertsPerTok == 6)
        #expect(try CheckpointPreset.tiny.config().compressRatios == [0, 4, 128, 4, 0])
        #expect(try CheckpointPreset.tiny.config(layers: 1).compressRatios == [0, 0])
        #expect(throws: CheckpointGeneratorError.self) { try CheckpointPreset.flash.config(layers: 44) }
        #expect(throws: CheckpointGeneratorError.self) { try CheckpointPreset.flash.config(layers: 0) }
        #expect(throws: CheckpointGeneratorError.self) { try CheckpointPreset.pro.config(experts: 0) }
        #expect(throws: CheckpointGeneratorError.self) { try CheckpointPreset.tiny.config(vocabularySize: 1) }
        #expect(throws: CheckpointGeneratorError.self) {
            _ = try CheckpointGenerator(config: CheckpointPreset.tiny.fullConfig, seed: 0, shardSize: 0)
        }
    }

    @Test("a generated checkpoint loads and gives finite logits of a few units that vary from step to step")
    func loadsAndRuns() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let generator = try CheckpointGenerator(config: try Self.smallConfig(), seed: 11, shardSize: 2_000_000)
        try generator.write(to: dir)
        let model = try DeepSeekV4Model(directory: dir)
        #expect(model.hasMTP && model.unusedTensors.isEmpty)

        // 136 tokens: past the first HCA block (128) and enough CSA blocks (34) for the indexer to choose.
        let prompt = (0..<136).map { ($0 * 2_654_435_761 + 7) % 4096 }
        let cache = model.makeCache()
        let prefill = try model.prefill(prompt, cache: cache, keepFinalState: true)
        var steps = [prefill.logits]
        var greedy = [argmax(prefill.logits)]
        for _ in 0..<6 {
            let logits = try model.forward([greedy.last!], cache: cache).logits
            steps.append(logits)
            greedy.append(argmax(logits))
        }
        for logits in steps {
            #expect(logits.allSatisfy { $0.isFinite })
            let mean = logits.reduce(0, +) / Float(logits.count)
            let std = (logits.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(logits.count)).squareRoot()
            #expect(std > 1 && std < 5, "logit std \(std)")
        }
        #expect(Set(greedy).count >= 5, "greedy ids \(greedy)")
        let mtp = try model.mtpLogits(finalState: prefill.finalState, nextTokens: Array(prompt.dropFirst()) + [greedy[0]],
                                      cache: model.makeMTPCache())
        #expect(mtp.allSatisfy { $0.isFinite } && Set(mtp).count > 100)
    }

    @Test("quantized weights dequantize to the intended RMS and use the full FP8 and FP4 ranges")
    func weightScale() throws {
        let layout = RandomInitLayout(config: CheckpointPreset.flash.fullConfig)
        for (parts, gain) in [(layout.fp8("w", rows: 2048, cols: 2048, gain: 1), 1.0),
                              (layout.fp4("w", rows: 256, cols: 2048, gain: 4), 4.0)] {
            var bytes: [String: [UInt8]] = [:]
            for t in parts {
                var rng = Xoshiro256(seed: 5)
                var out = [UInt8](repeating: 0, count: t.spec.byteCount)
                let units = t.spec.byteCount / t.fill.unitBytes(t.spec.dtype)
                out.withUnsafeMutableBytes { fillChunk($0.baseAddress!, fill: t.fill, dtype: t.spec.dtype, units: 0..<units, rng: &rng) }
                bytes[t.spec.name] = out
            }
            let (rows, cols) = (parts[0].spec.shape[0], parts[0].spec.dtype == .i8 ? 2 * parts[0].spec.shape[1] : parts[0].spec.shape[1])
            let values = bytes["w.weight"]!.withUnsafeBytes { w in
                bytes["w.scale"]!.withUnsafeBufferPointer { s in
                    WeightMatrix(rows: rows, cols: cols, format: parts[0].spec.dtype == .i8 ? .fp4 : .fp8,
                                 data: w.baseAddress!, scale: s.baseAddress!).dequantizedRows(0..<rows)
                }
            }
            let rms = (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(values.count)).squareRoot()
            let target = gain / Double(cols).squareRoot()
            #expect(abs(rms / target - 1) < 0.05, "RMS \(rms), target \(target)")
            let codes = Set(bytes["w.weight"]!)
            #expect(parts[0].spec.dtype == .i8 ? codes.count == 256 : codes.contains(0x7E) && codes.contains(0xFE))
            #expect(!codes.contains(0x7F) || parts[0].spec.dtype == .i8)  // no FP8 NaN
        }
    }

    @Test("the same seed writes identical bytes; another seed writes other weights under the same config")
    func determinism() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let config = try Self.smallConfig()
        var contents: [[String: Data]] = []
        for (i, seed) in [7, 7, 8].enumerated() {
            let dir = root.appendingPathComponent("\(i)")
            let summary = try CheckpointGenerator(config: config, seed: UInt64(seed), shardSize: 3_000_000).write(to: dir)
            var files: [String: Data] = [:]
            for name in summary.files { files[name] = try Data(contentsOf: dir.appendingPathComponent(name)) }
            #expect(Set(summary.files) == Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)))
            contents.append(files)
        }
        #expect(contents[0] == contents[1])
        #expect(contents[0]["config.json"] == contents[2]["config.json"])
        #expect(contents[0][WeightStore.indexFileName] == contents[2][WeightStore.indexFileName])
        for name in contents[0].keys where name.hasSuffix(".safetensors") {
            #expect(contents[0][name] != contents[2][name], "\(name)")
        }
    }

    @Test("shards respect the size limit and the index maps every tensor to the shard that holds it")
    func shardsAndIndex() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let limit = 1_000_000
        let generator = try CheckpointGenerator(config: try Self.smallConfig(), seed: 1, shardSize: limit)
        let summary = try generator.write(to: dir)
        let shards = generator.plan.shards
        #expect(shards.count > 3)
        #expect(summary.files == shards.map(\.fileName) + ["config.json", WeightStore.indexFileName])
        #expect(summary.bytes == (try summary.files.reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent($1).path)[.size] as! Int)
        }))

        struct Index: Decodable {
            let metadata: [String: Int]
            let weight_map: [String: String]
        }
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: dir.appendingPathComponent(WeightStore.indexFileName)))
        #expect(index.weight_map.count == generator.tensorCount)
        var total = 0
        for (i, shard) in shards.enumerated() {
            #expect(shard.fileName == SafetensorsShardPlan.shardFileName(i, of: shards.count))
            #expect(shard.payloadBytes <= limit || shard.tensors.count == 1)
            let file = try SafetensorsFile(path: dir.appendingPathComponent(shard.fileName).path)
            #expect(Set(file.tensorNames) == Set(index.weight_map.filter { $0.value == shard.fileName }.keys))
            total += file.entries.values.reduce(0) { $0 + $1.range.count }
        }
        #expect(index.metadata["total_size"] == total)
        #expect(total == generator.plan.totalSize)
    }

    @Test("DefaultModel.ensure generates the tiny model once, atomically, and adds the tokenizer files")
    func defaultModel() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let tokenizer = root.appendingPathComponent("tokenizer")
        try FileManager.default.createDirectory(at: tokenizer, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: tokenizer.appendingPathComponent("tokenizer.json"))

        let target = root.appendingPathComponent("cache/\(DefaultModel.directoryName)")
        #expect(try DefaultModel.ensure(at: target) == target)
        let config = try DeepSeekV4Config.load(directory: target)
        #expect(config == (try DefaultModel.preset.config()))
        let shard = target.appendingPathComponent(SafetensorsShardPlan.shardFileName(0, of: 1))
        let created = try FileManager.default.attributesOfItem(atPath: shard.path)[.modificationDate] as! Date

        try DefaultModel.ensure(at: target, tokenizerDirectory: tokenizer)
        #expect(FileManager.default.fileExists(atPath: target.appendingPathComponent("tokenizer.json").path))
        #expect(try FileManager.default.attributesOfItem(atPath: shard.path)[.modificationDate] as! Date == created)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.deletingLastPathComponent().path) == [DefaultModel.directoryName])

        let stray = root.appendingPathComponent("stray")
        try FileManager.default.createDirectory(at: stray, withIntermediateDirectories: true)
        #expect(throws: CheckpointGeneratorError.incompleteModel(directory: stray.path)) { try DefaultModel.ensure(at: stray) }
    }
}
