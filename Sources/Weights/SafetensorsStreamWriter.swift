// SafetensorsStreamWriter: writes one .safetensors file whose tensors are known up front (name, dtype,
// shape) but whose bytes arrive piece by piece, so a multi-gigabyte shard never has to exist in memory.
// The header is written first (it only needs the sizes); the data follows in the declared order.
//
// Atomicity: everything goes to a hidden temporary file in the destination directory, renamed to the
// final name only by `finish()` after every declared byte has arrived. An interrupted or abandoned writer
// removes its temporary file, so the final name never holds a partial file. There is no fsync: the
// writers are for regenerable files, and a power loss right after `finish()` is out of scope.
//
// The bytes are identical to `SafetensorsWriter`'s for the same tensors and metadata (same header code).
//
// SafetensorsShardPlan, below, splits a checkpoint's tensors into such files and writes their index.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Name, dtype and shape of one tensor of a file being written: everything the header needs.
public struct TensorSpec: Hashable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (the product of the shape; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Payload size in the file.
    public var byteCount: Int { elementCount * dtype.byteSize }
}

/// Writes a .safetensors file from a stream of bytes: declare the tensors, ``write(_:)`` their data in
/// order (in pieces of any size), then ``finish()``.
public final class SafetensorsStreamWriter {
    /// The final location of the file.
    public let url: URL
    /// The tensors in file order.
    public let tensors: [TensorSpec]
    /// Payload bytes declared by the header.
    public let payloadBytes: Int
    /// Header bytes (length prefix included); the file size is `headerBytes + payloadBytes`.
    public let headerBytes: Int

    private let temporaryPath: String
    private var descriptor: Int32
    private var written = 0

    /// Creates the temporary file and writes the header. Throws if a tensor name repeats or the
    /// file cannot be created.
    public init(url: URL, tensors: [TensorSpec], metadata: [String: String] = [:]) throws {
        var seen = Set<String>()
        for t in tensors where !seen.insert(t.name).inserted {
            throw WeightsError.cannotWrite(file: url.path, reason: "tensor '\(t.name)' is declared twice")
        }
        self.url = url
        self.tensors = tensors
        payloadBytes = tensors.reduce(0) { $0 + $1.byteCount }
        // Hidden and tagged with the process id, so concurrent writers into one directory never share it
        // and a directory listing never shows it as a shard.
        temporaryPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw WeightsError.cannotWrite(file: temporaryPath, reason: String(cString: strerror(errno)))
        }
        let header = SafetensorsWriter.header(for: tensors, metadata: metadata)
        headerBytes = header.count
        do {
            try header.withUnsafeBytes { try writeAll($0) }
        } catch {
            cancel()
            throw error
        }
    }

    deinit { cancel() }

    /// Payload bytes still expected before ``finish()``.
    public var remainingBytes: Int { payloadBytes - written }

    /// Appends the next `bytes` of the data region (tensor boundaries need not align with the pieces).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else { throw WeightsError.cannotWrite(file: url.path, reason: "the writer is already closed") }
        guard bytes.count <= remainingBytes else {
            throw WeightsError.cannotWrite(
                file: url.path, reason: "\(bytes.count) more bytes than the \(remainingBytes) the header still expects")
        }
        do {
            try writeAll(bytes)
        } catch {
            cancel()
            throw error
        }
        written += bytes.count
    }

    /// Checks that every declared byte was written, closes the file and renames it to ``url``.
    public func finish() throws {
        guard descriptor >= 0 else { throw WeightsError.cannotWrite(file: url.path, reason: "the writer is already closed") }
        guard remainingBytes == 0 else {
            cancel()
            throw WeightsError.cannotWrite(file: url.path, reason: "\(remainingBytes) bytes of tensor data were never written")
        }
        let closed = close(descriptor)
        descriptor = -1
        guard closed == 0, rename(temporaryPath, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw WeightsError.cannotWrite(file: url.path, reason: reason)
        }
    }

    /// Abandons the file: closes and removes the temporary file (the final name is untouched).
    public func cancel() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(temporaryPath)
    }

    /// write(2) until everything is out: it may write less than asked (large buffers, signals).
    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = posixWrite(descriptor, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw WeightsError.cannotWrite(file: url.path, reason: String(cString: strerror(errno)))
            }
            p += n
            left -= n
        }
    }
}

/// The C `write`, reachable from inside the class whose method has the same name.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

// MARK: - Shards

/// How a list of tensors is split into the shards of a Hugging Face style checkpoint
/// (`model-00001-of-00003.safetensors` …) and the `model.safetensors.index.json` that maps each tensor to
/// its shard — the layout `WeightStore` reads.
///
/// Packing is greedy in the given order: a shard is closed when the next tensor would take its payload
/// past the limit, so tensors that belong together (a layer, an expert) stay adjacent, and a tensor larger
/// than the limit gets a shard of its own. The plan knows nothing of the bytes; writers fill the shards.
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

    /// The files, in order.
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
