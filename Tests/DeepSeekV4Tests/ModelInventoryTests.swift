// Tests of the arithmetic behind `narwhal inspect`: parameter counts, weight bytes and KV-cache sizes
// reproduce the figures of spec §3.8 and §4.1 from the official configs alone, and on the tiny fixture
// checkpoints the config arithmetic equals the sums over the real tensors.

import Foundation
import Testing
import Weights

@testable import DeepSeekV4

@Suite("ModelInventory")
struct ModelInventoryTests {
    static let gib = Double(1 << 30)
    static let million = 1 << 20

    /// `x` in units of `unit`, rounded to `decimals` as the spec rounds ("284.3 B" → 284.3).
    static func rounded(_ x: Int, unit: Double, decimals: Int) -> Double {
        let scale = pow(10, Double(decimals))
        return (Double(x) / unit * scale).rounded() / scale
    }

    @Test("counts 284.3 B total and 13.8 B active parameters for Flash, MTP excluded")
    func flashParameters() throws {
        let p = ModelInventory(config: try ConfigFixture.official("flash")).parameters
        #expect(Self.rounded(p.total, unit: 1e9, decimals: 1) == 284.3)
        #expect(Self.rounded(p.active, unit: 1e9, decimals: 1) == 13.8)
        #expect(Self.rounded(p.activeExcludingEmbedding, unit: 1e9, decimals: 1) == 13.3)
        #expect(Self.rounded(p.total + p.mtp, unit: 1e9, decimals: 2) == 290.94)
        #expect(p.embedding == 129_280 * 4096)
    }

    @Test("counts 1.573 T total and 49.8 B active parameters for Pro, MTP excluded")
    func proParameters() throws {
        let p = ModelInventory(config: try ConfigFixture.official("pro")).parameters
        #expect(Self.rounded(p.total, unit: 1e12, decimals: 3) == 1.573)
        #expect(Self.rounded(p.total, unit: 1e9, decimals: 1) == 1573.0)
        #expect(Self.rounded(p.active, unit: 1e9, decimals: 1) == 49.8)
        #expect(Self.rounded(p.activeExcludingEmbedding, unit: 1e9, decimals: 1) == 48.9)
        // The third-party "safetensors metadata total" the spec quotes, MTP included.
        #expect(p.total + p.mtp == 1_598_839_674_782)
    }

    @Test("reproduces the checkpoint byte totals, tensor counts and dtype counts from config.json alone",
          arguments: [
            ("flash", 159_609_485_896, 69_187, [DType.bf16: 433, .f32: 417, .f8e4m3: 375, .f8e8m0: 34_167, .i64: 3, .i8: 33_792]),
            ("pro", 864_704_792_696, 145_116, [DType.bf16: 619, .f32: 590, .f8e4m3: 528, .f8e8m0: 71_952, .i64: 3, .i8: 71_424]),
          ])
    func officialBytes(model: String, bytes: Int, tensors: Int, dtypeCounts: [DType: Int]) throws {
        let inventory = ModelInventory.init(config: try ConfigFixture.official(model))
        #expect(inventory.weightSource == .config)
        #expect(inventory.weightBytes == bytes)
        #expect(inventory.usedWeightBytes == bytes)
        #expect(inventory.tensorCount == tensors)
        let counts = inventory.layout.tensors.reduce(into: [DType: Int]()) { $0[$1.dtype, default: 0] += 1 }
        #expect(counts == dtypeCounts)
    }

    @Test("sizes the KV cache at 1M tokens as the spec does: 3.43 / 4.91 GiB native, 6.72 / 9.62 GiB BF16",
          arguments: [("flash", 3.43, 6.72), ("pro", 4.91, 9.62)])
    func officialKVCache(model: String, nativeGiB: Double, bf16GiB: Double) throws {
        let inventory = ModelInventory(config: try ConfigFixture.official(model))
        let native = inventory.kvCache(.native)
        #expect(native.entryBytes == 583)
        #expect(native.indexerEntryBytes == 68)
        let nativeAt1M = Double(native.bytes(context: Self.million)) / Self.gib
        #expect(abs(nativeAt1M - nativeGiB) / nativeGiB < 0.01, "\(nativeAt1M) GiB")
        let bf16At1M = Double(inventory.kvCache(.bf16).bytes(context: Self.million)) / Self.gib
        #expect(abs(bf16At1M - bf16GiB) / bf16GiB < 0.01, "\(bf16At1M) GiB")
        // The per-token figure is the amortised compressed part; with the fixed windows it gives the same total.
        let fromPerToken = Double(native.bytesPerToken * Self.million + native.windowBytes) / Self.gib
        #expect(abs(fromPerToken - nativeGiB) / nativeGiB < 0.01)
    }

    @Test("computes the Flash KV figures from the layer schedule by hand")
    func flashKVByHand() throws {
        let native = ModelInventory(config: try ConfigFixture.official("flash")).kvCache(.native)
        // 21 CSA layers add (583 + 68) bytes every 4 tokens, 20 HCA layers 583 bytes every 128 tokens.
        let csa: Int = 583 + 68, hca: Int = 583
        let perToken: Double = Double(21 * csa) / 4 + Double(20 * hca) / 128
        #expect(native.compressedBytesPerToken == perToken)
        #expect(native.bytesPerToken == 3509)
        let window: Int = 43 * 128 * hca
        #expect(native.windowBytes == window)
        let atMillion: Int = 21 * 262_144 * csa + 20 * 8192 * hca + window
        #expect(native.bytes(context: Self.million) == atMillion)
        // Before the window fills, and with incomplete blocks (only complete ones are stored).
        let at7: Int = 43 * 7 * hca + 21 * csa
        #expect(native.bytes(context: 7) == at7)
        let at130: Int = window + 21 * 32 * csa + 20 * hca
        #expect(native.bytes(context: 130) == at130)
    }

    @Test("counts the compressors' float32 state: 8·r·c floats per overlapping, 2·r·c per HCA compressor")
    func compressorState() throws {
        let flash = try ConfigFixture.official("flash")
        let csa = 8 * 4 * 512 + 8 * 4 * 128, hca = 2 * 128 * 512
        #expect(KVCache.compressorStateBytes(config: flash) == 4 * (21 * csa + 20 * hca))
    }

    @Test("adds weights, KV cache, compressor state and working set into the memory estimate")
    func memoryEstimate() throws {
        let inventory = ModelInventory(config: try ConfigFixture.official("flash"))
        let m = inventory.memoryEstimate(context: Self.million)
        #expect(m.weightBytes == 159_609_485_896)
        #expect(m.kvCacheBytes == inventory.kvCache(.native).bytes(context: Self.million))
        #expect(m.totalBytes == m.weightBytes + m.kvCacheBytes + m.compressorStateBytes + m.workingSetBytes)
        // A prefill chunk of 512 tokens costs hundreds of MiB of float32 activations, far less than the weights.
        #expect((100 << 20) < m.workingSetBytes && m.workingSetBytes < (2 << 30))
        #expect(inventory.memoryEstimate(context: 10).workingSetBytes < m.workingSetBytes)
    }

    @Test("reports a V4-Flash-0731-like config's drafter stages as unused and counts the backbone alone")
    func flash0731() throws {
        let flash = ModelInventory(config: try ConfigFixture.official("flash"))
        let v0731 = ModelInventory(config: try ConfigFixture.decode(ConfigFixture.flash0731))
        #expect(v0731.unusedDrafterStages == 3)
        #expect(v0731.parameters.mtp == 0)
        #expect(v0731.parameters.total == flash.parameters.total)
        #expect(v0731.parameters.active == flash.parameters.active)
        #expect(!v0731.layout.tensors.contains { $0.name.hasPrefix("mtp.") })
        #expect(v0731.kvCache(.native) == flash.kvCache(.native))
    }

    /// Parameters summed over the real tensors of a checkpoint: elements, two per I8 byte, no scales.
    static func parameterSum(_ store: WeightStore, where include: (String) -> Bool) -> Int {
        store.tensorNames.filter { include($0) && !$0.hasSuffix(".scale") }.reduce(0) { sum, name in
            let entry = store.info(name)!
            let elements = entry.shape.reduce(1, *)
            return sum + (entry.dtype == .i8 ? 2 * elements : elements)
        }
    }

    @Test("counts for the tiny fixtures equal the sums over their checkpoint tensors", arguments: ["tiny-flash", "tiny-pro"])
    func tinyFixturesMatchTheirFiles(_ name: String) throws {
        let directory = try ConfigFixture.directory(name)
        let store = try WeightStore(directory: directory)
        let config = try DeepSeekV4Config.load(directory: directory)
        let fromConfig = ModelInventory(config: config)
        #expect(fromConfig.parameters.total == Self.parameterSum(store) { !$0.hasPrefix("mtp.") })
        #expect(fromConfig.parameters.mtp == Self.parameterSum(store) { $0.hasPrefix("mtp.") })
        #expect(fromConfig.weightBytesByDType == store.bytesByDType)
        #expect(fromConfig.tensorCount == store.tensorNames.count)

        // The layout names exactly the checkpoint's tensors, with their dtypes and shapes.
        let fromFiles = try ModelInventory.load(directory: directory)
        #expect(fromFiles.weightSource == .checkpoint)
        #expect(fromFiles.checkpoint?.comparison == CheckpointComparison())
        #expect(fromFiles.weightBytes == fromConfig.weightBytes)
        #expect(fromFiles.parameters == fromConfig.parameters)
    }

    @Test("counts the tiny Flash fixture's active parameters: dense, embedding and 3 of 8 experts")
    func tinyActiveParameters() throws {
        let directory = try ConfigFixture.directory("tiny-flash")
        let store = try WeightStore(directory: directory)
        let inventory = ModelInventory(config: try DeepSeekV4Config.load(directory: directory))
        let routed = Self.parameterSum(store) { $0.hasPrefix("layers.") && $0.contains(".ffn.experts.") }
        let others = Self.parameterSum(store) { !$0.hasPrefix("mtp.") && !$0.contains(".ffn.experts.") }
        #expect(inventory.parameters.active == others + routed * 3 / 8)
        #expect(inventory.parameters.embedding == 1024 * 128)
    }

    @Test("works from config.json alone when no weights are present")
    func configOnlyDirectory() throws {
        let dir = try ConfigFixture.configOnlyDirectory("pro")
        defer { try? FileManager.default.removeItem(at: dir) }
        let inventory = try ModelInventory.load(directory: dir)
        #expect(inventory.checkpoint == nil)
        #expect(inventory.weightSource == .config)
        #expect(inventory.weightBytes == 864_704_792_696)
        #expect(inventory.layers(.compressedSparse).count == 30)
        #expect(inventory.layers(.heavilyCompressed).count == 31)
        #expect(inventory.layers(.slidingWindow).isEmpty)
        #expect(inventory.heavilyCompressedRatios == [128])
    }
}
