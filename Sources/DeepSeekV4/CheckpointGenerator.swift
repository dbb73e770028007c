// CheckpointGenerator: writes a random-weight checkpoint in the official DeepSeek V4 layout (spec §4):
// config.json with the official key set, `model-0000N-of-0000M.safetensors` shards and
// `model.safetensors.index.json`, with the official tensor names, dtypes and shapes (FP8 E4M3 linears with
// 128×128 E8M0 block scales, routed experts as I8-packed FP4 E2M1 with per-32 E8M0 scales, `tid2eid` I64
// on hash-routed layers, `gate.bias` F32 elsewhere, the MTP block `mtp.0.*`). `DeepSeekV4Model(directory:)`
// loads the result with no special cases.
//
// This is the second place that spells checkpoint tensor names, next to DeepSeekV4Model+Loading.swift, on
// purpose: the generator writes the layout from spec §4.2 independently of the loader, and the tests check
// it against the official fixtures' tensor tables and against the full-size totals of spec §4.1.
//
// Streaming: shards are written through `SafetensorsStreamWriter` from two fixed staging buffers that
// worker threads fill chunk by chunk while the other one is being written, so memory stays at 64 MiB
// whatever the model size and generation overlaps the disk writes. Each file is written atomically,
// config.json follows the shards and the index comes last, so a directory with an index is complete.
//
// Scale: the weights are random but sized so activations stay O(1) through every layer and the logits
// vary from token to token (see `Gain`); the model is useful for loading, speed and plumbing tests and
// knows nothing.

import Foundation
import Kernels
import Weights

/// Generates random-weight DeepSeek V4 checkpoints; same config and seed ⇒ byte-identical files.
public struct CheckpointGenerator: Sendable {
    /// Default limit on a shard's payload (the official shards are about 3.5 GB).
    public static let defaultShardSize = 2_000_000_000

    /// The configuration written to config.json and laid out in the shards.
    public let config: DeepSeekV4Config
    /// Seeds every tensor's random streams.
    public let seed: UInt64
    /// Shard payload limit in bytes (a single larger tensor gets a shard alone).
    public let shardSize: Int

    /// Every tensor of the checkpoint with its fill, in file order.
    let tensors: [GeneratedTensor]
    /// The shards and the index.
    public let plan: SafetensorsShardPlan

    /// Validates the config and lays out the tensors; nothing is written yet.
    public init(config: DeepSeekV4Config, seed: UInt64, shardSize: Int = defaultShardSize) throws {
        try config.validate(path: "generator config")
        // The layout of DSpark drafter stages (Flash-0731) is not specified; one MTP block is.
        guard config.dsparkBlockSize == nil, config.numNextnPredictLayers <= 1 else {
            throw CheckpointGeneratorError.invalidOption(
                "num_nextn_predict_layers", "\(config.numNextnPredictLayers)", expected: "0 or 1, without dspark_block_size")
        }
        guard shardSize > 0 else {
            throw CheckpointGeneratorError.invalidOption("shard-size", "\(shardSize)", expected: "a positive number of bytes")
        }
        self.config = config
        self.seed = seed
        self.shardSize = shardSize
        tensors = RandomInitLayout(config: config).tensors()
        plan = SafetensorsShardPlan(tensors: tensors.map(\.spec), maxShardBytes: shardSize)
    }

    /// Logical parameters, counted as in spec §4.1 (290.94 B for Flash): a packed FP4 byte is two
    /// parameters, E8M0 block scales are not parameters.
    public var parameterCount: Int {
        tensors.reduce(0) { sum, t in
            t.spec.dtype == .f8e8m0 ? sum : sum + t.spec.elementCount * (t.fill == .fp4Codes ? 2 : 1)
        }
    }

    /// Number of tensors.
    public var tensorCount: Int { tensors.count }

    /// What ``write(to:progress:)`` produced.
    public struct Summary: Sendable {
        /// File names written into the directory: the shards, config.json, the index.
        public var files: [String]
        /// Bytes of all those files.
        public var bytes: Int
        /// ``CheckpointGenerator/parameterCount``.
        public var parameters: Int
        /// Number of tensors in the shards.
        public var tensors: Int
    }

    /// Writes the checkpoint into `directory` (created if needed). Existing files of the same names are
    /// replaced, other files are left alone. `progress` is called after each shard with the shard's file
    /// name and the payload bytes written so far.
    @discardableResult
    public func write(to directory: URL, progress: ((_ file: String, _ bytesDone: Int) -> Void)? = nil) throws -> Summary {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fills = Dictionary(uniqueKeysWithValues: tensors.map { ($0.spec.name, $0.fill) })
        let staging = StagingBuffers(capacity: Self.stagingBytes)
        var files: [String] = []
        var bytes = 0
        var done = 0
        let metadata = ["format": "pt", "generator": "narwhal make-checkpoint: random weights, seed \(seed)"]
        for shard in plan.shards {
            let writer = try SafetensorsStreamWriter(
                url: directory.appendingPathComponent(shard.fileName), tensors: shard.tensors, metadata: metadata)
            for spec in shard.tensors {
                try stream(spec, fill: fills[spec.name]!, into: writer, staging: staging)
            }
            try staging.flush(to: writer)
            try staging.drain()
            try writer.finish()
            files.append(shard.fileName)
            bytes += writer.headerBytes + writer.payloadBytes
            done += writer.payloadBytes
            progress?(shard.fileName, done)
        }
        let config = config.officialJSON()
        try config.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        let index = plan.indexJSON()
        try index.write(to: directory.appendingPathComponent(WeightStore.indexFileName), options: .atomic)
        files += ["config.json", WeightStore.indexFileName]
        bytes += config.count + index.count
        return Summary(files: files, bytes: bytes, parameters: parameterCount, tensors: tensors.count)
    }

    /// 32 MiB per staging buffer: large writes, and 32 chunks per fill round for the worker threads.
    static let stagingBytes = 32 << 20
    /// Generation chunk: the unit of parallelism and of per-stream seeding (see RandomWeights.swift).
    static let chunkBytes = 1 << 20

    /// Generates one tensor chunk by chunk into the staging buffers, handing each to `writer` when full.
    private func stream(_ spec: TensorSpec, fill: WeightFill, into writer: SafetensorsStreamWriter, staging: StagingBuffers) throws {
        let unit = fill.unitBytes(spec.dtype)
        let units = spec.byteCount / unit
        let unitsPerChunk = max(1, Self.chunkBytes / unit)
        let chunks = (units + unitsPerChunk - 1) / unitsPerChunk
        var next = 0
        while next < chunks {
            if staging.free < unitsPerChunk * unit { try staging.flush(to: writer) }
            // As many whole chunks as fit, filled in parallel, each from its own stream.
            let fitting = max(1, staging.free / (unitsPerChunk * unit))
            let batch = min(fitting, chunks - next)
            let base = UnsafeSendable(staging.end)
            let first = next
            let seed = self.seed
            parallelFor(batch) { j in
                let c = first + j
                let range = (c * unitsPerChunk)..<min(units, (c + 1) * unitsPerChunk)
                var rng = Xoshiro256(seed: chunkSeed(seed: seed, name: spec.name, chunk: c))
                fillChunk(base.value + j * unitsPerChunk * unit, fill: fill, dtype: spec.dtype, units: range, rng: &rng)
            }
            staging.used += (min(units, (first + batch) * unitsPerChunk) - first * unitsPerChunk) * unit
            next += batch
        }
    }
}

/// A tensor to generate: its header entry and what fills it.
struct GeneratedTensor: Sendable {
    let spec: TensorSpec
    let fill: WeightFill
}

/// Two output buffers between the fills and the file: while one is written on a background queue, the
/// fills go on in the other, so generation and I/O overlap (each is about as fast as the other).
private final class StagingBuffers: @unchecked Sendable {
    private let buffers: [UnsafeMutableRawBufferPointer]
    private var current = 0
    /// Bytes filled in the current buffer.
    var used = 0
    private let queue = DispatchQueue(label: "narwhal.checkpoint-writes")
    /// Signalled by each finished write. Writes finish in submission order (serial queue), so with two
    /// buffers the buffer to switch to is in flight exactly when two writes are.
    private let finished = DispatchSemaphore(value: 0)
    private var inFlight = 0
    private let lock = NSLock()
    private var failure: (any Error)?

    init(capacity: Int) {
        buffers = (0..<2).map { _ in .allocate(byteCount: capacity, alignment: 64) }
    }

    deinit {
        while inFlight > 0 {
            finished.wait()
            inFlight -= 1
        }
        for b in buffers { b.deallocate() }
    }

    var free: Int { buffers[current].count - used }
    var end: UnsafeMutableRawPointer { buffers[current].baseAddress! + used }

    /// Queues the filled part of the current buffer for `writer` and continues in the other buffer once
    /// its previous write is done. Throws the error of any earlier write.
    func flush(to writer: SafetensorsStreamWriter) throws {
        if used > 0 {
            let bytes = UnsafeSendable(UnsafeRawBufferPointer(rebasing: buffers[current][0..<used]))
            let target = UnsafeSendable(writer)
            queue.async { [self] in
                do {
                    try target.value.write(bytes.value)
                } catch {
                    lock.lock()
                    failure = failure ?? error
                    lock.unlock()
                }
                finished.signal()
            }
            inFlight += 1
            current = 1 - current
            used = 0
            if inFlight == 2 {
                finished.wait()
                inFlight -= 1
            }
        }
        try rethrowFailure()
    }

    /// Waits for every queued write; throws the first write error.
    func drain() throws {
        while inFlight > 0 {
            finished.wait()
            inFlight -= 1
        }
        try rethrowFailure()
    }

    private func rethrowFailure() throws {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
    }
}
