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
