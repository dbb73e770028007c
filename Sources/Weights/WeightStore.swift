// WeightStore: a checkpoint directory as one name → tensor table. Reads either
// model.safetensors.index.json + its shards (the official layout) or a single model.safetensors, checks
// that the index and the shards agree, and hands out tensors through typed lookups that check dtype and
// shape. It records which tensors were taken so the loader can report the ones nobody used.

import Foundation

public final class WeightStore: @unchecked Sendable {
    public let directory: URL
    public let files: [SafetensorsFile]
    /// tensor name → file holding it
    private let location: [String: SafetensorsFile]
    private var taken = Set<String>()
    private let lock = NSLock()

    public static let indexFileName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let indexURL = directory.appendingPathComponent(Self.indexFileName)
        let singleURL = directory.appendingPathComponent(Self.singleFileName)
        if fm.fileExists(atPath: indexURL.path) {
            let weightMap = try Self.readIndex(indexURL)
            var opened: [String: SafetensorsFile] = [:]
            var location: [String: SafetensorsFile] = [:]
            for shard in Set(weightMap.values).sorted() {
                let url = directory.appendingPathComponent(shard)
                guard fm.fileExists(atPath: url.path) else {
                    throw WeightsError.missingShard(file: url.path, referencedBy: indexURL.path)
                }
                opened[shard] = try SafetensorsFile(path: url.path)
            }
            for (name, shard) in weightMap {
                let file = opened[shard]!
                guard file.entries[name] != nil else { throw WeightsError.tensorNotInShard(tensor: name, file: file.path) }
                location[name] = file
            }
            // A tensor present in a shard but absent from the index is an inconsistency too.
            for file in opened.values {
                for name in file.tensorNames where location[name] == nil {
                    throw WeightsError.malformedIndex(
                        file: indexURL.path, reason: "tensor '\(name)' in '\(file.path)' is not listed in the weight_map")
                }
            }
            self.files = opened.keys.sorted().map { opened[$0]! }
            self.location = location
        } else if fm.fileExists(atPath: singleURL.path) {
            let file = try SafetensorsFile(path: singleURL.path)
            self.files = [file]
            self.location = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, file) })
        } else {
            throw WeightsError.noCheckpoint(directory: directory.path)
        }
    }

    private static func readIndex(_ url: URL) throws -> [String: String] {
        struct Index: Decodable { let weight_map: [String: String] }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw WeightsError.cannotOpen(file: url.path, reason: error.localizedDescription)
        }
        guard let index = try? JSONDecoder().decode(Index.self, from: data) else {
            throw WeightsError.malformedIndex(file: url.path, reason: "expected a JSON object with a 'weight_map' of name → shard file")
        }
        for shard in Set(index.weight_map.values) where shard.isEmpty || shard.contains("/") || shard.hasPrefix(".") {
            throw WeightsError.malformedIndex(file: url.path, reason: "shard name '\(shard)' is not a plain file name")
        }
        return index.weight_map
    }

    public var tensorNames: [String] { Array(location.keys) }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// Metadata of a tensor without taking it.
    public func info(_ name: String) -> SafetensorsFile.Entry? { location[name]?.entries[name] }

    /// Checks that a tensor exists with one of `dtypes` and the given shape, without taking it.
    public func check(_ name: String, dtype dtypes: [DType], shape: [Int]) throws(WeightsError) {
        guard let file = location[name], let e = file.entries[name] else { throw WeightsError.missingTensor(name: name) }
        guard dtypes.contains(e.dtype) else {
            throw WeightsError.wrongDType(tensor: name, file: file.path, expected: dtypes.map(\.rawValue), actual: e.dtype.rawValue)
        }
        guard e.shape == shape else { throw WeightsError.wrongShape(tensor: name, file: file.path, expected: shape, actual: e.shape) }
    }

    /// Takes a tensor, checking its dtype (one of `dtypes`) and its shape.
    public func tensor(_ name: String, dtype dtypes: [DType], shape: [Int]) throws -> TensorData {
        try check(name, dtype: dtypes, shape: shape)
        guard let t = location[name]?.tensor(name) else { throw WeightsError.missingTensor(name: name) }
        lock.lock()
        taken.insert(name)
        lock.unlock()
        return t
    }

    public func tensor(_ name: String, dtype: DType, shape: [Int]) throws -> TensorData {
        try tensor(name, dtype: [dtype], shape: shape)
    }

    /// Tensors present in the checkpoint that no lookup has taken, sorted.
    public var untakenNames: [String] {
        lock.lock()
        defer { lock.unlock() }
        return location.keys.filter { !taken.contains($0) }.sorted()
    }

    /// Reads every shard into memory in order (see ``SafetensorsFile/prefault(chunkBytes:progress:)``);
    /// `progress(done, total)` counts bytes over all shards.
    public func prefault(progress: (Int, Int) -> Void) {
        let total = files.reduce(0) { $0 + $1.byteCount }
        var before = 0
        for file in files {
            file.prefault { progress(before + $0, total) }
            before += file.byteCount
        }
    }

    /// Payload bytes per dtype over all tensors.
    public var bytesByDType: [DType: Int] {
        var out: [DType: Int] = [:]
        for (name, file) in location {
            let e = file.entries[name]!
            out[e.dtype, default: 0] += e.range.count
        }
        return out
    }
}
