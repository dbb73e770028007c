// SafetensorsShardPlan: how a list of tensors is split into the shards of a Hugging Face style checkpoint
// (`model-00001-of-00003.safetensors` …) and the `model.safetensors.index.json` that maps each tensor to
// its shard — the layout `WeightStore` reads.
//
// Packing is greedy in the given order: a shard is closed when the next tensor would take its payload
// past the limit, so tensors that belong together (a layer, an expert) stay adjacent, and a tensor larger
// than the limit gets a shard of its own. The plan knows nothing of the bytes; writers fill the shards.

import Foundation

public struct SafetensorsShardPlan: Sendable {
    /// One output file.
    public struct Shard: Sendable {
        /// File name inside the checkpoint directory, e.g. `model-00001-of-00002.safetensors`.
        public let fileName: String
        /// Tensors in file order.
        public let tensors: [TensorSpec]
        /// Sum of the tensors' byte counts (the file adds its header).
        public var payloadBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
    }

    public let shards: [Shard]

    /// Splits `tensors` (in order) into shards of at most `maxShardBytes` payload bytes each, except
    /// that a single larger tensor gets a shard alone. An empty list gives no shards.
    public init(tensors: [TensorSpec], maxShardBytes: Int) {
        precondition(maxShardBytes > 0, "the shard size limit must be positive")
        var groups: [[TensorSpec]] = []
        var current: [TensorSpec] = []
        var size = 0
        for t in tensors {
            if !current.isEmpty && size + t.byteCount > maxShardBytes {
                groups.append(current)
                current = []
                size = 0
            }
            current.append(t)
            size += t.byteCount
        }
        if !current.isEmpty { groups.append(current) }
        shards = groups.enumerated().map { i, group in
            Shard(fileName: Self.shardFileName(i, of: groups.count), tensors: group)
        }
    }

    /// The Hugging Face shard name: 1-based, both numbers zero-padded to five digits.
    public static func shardFileName(_ index: Int, of count: Int) -> String {
        func pad(_ v: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, 5 - s.count)) + s
        }
        return "model-\(pad(index + 1))-of-\(pad(count)).safetensors"
    }

    /// Total payload bytes, the index's `metadata.total_size`.
    public var totalSize: Int { shards.reduce(0) { $0 + $1.payloadBytes } }

    /// `model.safetensors.index.json`: `{"metadata": {"total_size": N}, "weight_map": {tensor: shard}}`
    /// with the tensor names sorted, so equal plans give byte-identical files.
    public func indexJSON() -> Data {
        var entries: [(String, String)] = []
        for shard in shards {
            for t in shard.tensors { entries.append((t.name, shard.fileName)) }
        }
        entries.sort { $0.0 < $1.0 }
        var text = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {\n"
        text += entries.map { "    \(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ",\n")
        text += "\n  }\n}\n"
        return Data(text.utf8)
    }
}
