// SafetensorsFile: one .safetensors file, memory-mapped read-only (never copied into RAM), with its
// tensor table validated against the file before any tensor is handed out.
//
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [b, e]},
// "__metadata__": {...}}, then the data region; offsets are relative to the data region.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only view of one tensor's bytes inside a mapped file.
public struct TensorData: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer
    /// The file the tensor lives in (kept alive while the view is used).
    public let file: SafetensorsFile

    public var elementCount: Int { shape.reduce(1, *) }
}

public final class SafetensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        public let range: Range<Int>  // in the data region
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let base: UnsafeMutableRawPointer?
    private let mappedSize: Int
    private let dataOffset: Int

    /// Header sizes above this are rejected rather than allocated (the real shards have < 1 MB headers).
    static let maxHeaderBytes = 100 << 20

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw WeightsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw WeightsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size >= 8 else { throw WeightsError.truncatedFile(file: path, size: size, needed: 8) }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw WeightsError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = p
        mappedSize = size
        do {
            let headerLength = Int(truncatingIfNeeded: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
            guard headerLength >= 2, headerLength <= Self.maxHeaderBytes else {
                throw WeightsError.malformedHeader(file: path, reason: "header length \(headerLength) is implausible")
            }
            guard 8 + headerLength <= size else {
                throw WeightsError.truncatedFile(file: path, size: size, needed: 8 + headerLength)
            }
            dataOffset = 8 + headerLength
            let header = Data(bytes: p + 8, count: headerLength)
            (entries, metadata) = try Self.parseHeader(header, path: path, dataOffset: dataOffset, fileSize: size)
        } catch {
            munmap(p, size)
            throw error
        }
    }

    deinit {
        if let base { munmap(base, mappedSize) }
    }

    public var tensorNames: [String] { Array(entries.keys) }

    /// Bytes mapped (the whole file).
    public var byteCount: Int { mappedSize }

    /// Reads the whole file into the page cache and maps it, front to back, so that the first tokens do
    /// not wait for the disk; `progress` is told the bytes done after each chunk. Each chunk is populated
    /// with `MADV_POPULATE_READ` where the kernel has it (Linux 5.14+), else by reading one byte per page
    /// after a `MADV_WILLNEED` hint. Nothing is copied: the pages stay file-backed and reclaimable.
    public func prefault(chunkBytes: Int = 64 << 20, progress: (Int) -> Void) {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let chunk = max(page, chunkBytes / page * page)
        var usePopulate = true
        var offset = 0
        while offset < mappedSize {
            let length = min(chunk, mappedSize - offset)
            let start = base + offset
            if usePopulate {
                usePopulate = madvise(start, length, Self.madvPopulateRead) == 0
            }
            if !usePopulate {
                _ = madvise(start, length, Int32(MADV_WILLNEED))
                var sum: UInt8 = 0
                for p in stride(from: 0, to: length, by: page) { sum &+= start.load(fromByteOffset: p, as: UInt8.self) }
                Self.touchSink = sum
            }
            offset += length
            progress(offset)
        }
    }

    /// `MADV_POPULATE_READ` (Linux 5.14); older C headers lack the name. Elsewhere it fails with EINVAL
    /// and the touching fallback runs.
    private static let madvPopulateRead: Int32 = 22
    /// Where the touching loop leaves its sum, so the reads cannot be optimised away.
    nonisolated(unsafe) private static var touchSink: UInt8 = 0

    public func tensor(_ name: String) -> TensorData? {
        guard let e = entries[name], let base else { return nil }
        let start = base + dataOffset + e.range.lowerBound
        return TensorData(
            name: name, dtype: e.dtype, shape: e.shape,
            bytes: UnsafeRawBufferPointer(start: start, count: e.range.count), file: self)
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct RawEntry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    private struct RawHeader: Decodable {
        var entries: [String: RawEntry] = [:]
        var metadata: [String: String] = [:]
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try c.decode(RawEntry.self, forKey: key)
                }
            }
        }
    }

    private static func parseHeader(_ data: Data, path: String, dataOffset: Int, fileSize: Int) throws -> ([String: Entry], [String: String]) {
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw WeightsError.malformedHeader(file: path, reason: "header is not valid JSON (\(context.debugDescription))")
        } catch {
            throw WeightsError.malformedHeader(file: path, reason: "unexpected header layout (\(describe(error)))")
        }
        var entries: [String: Entry] = [:]
        for (name, info) in raw.entries {
            guard let dtype = DType(rawValue: info.dtype) else {
                throw WeightsError.unsupportedDType(file: path, tensor: name, dtype: info.dtype)
            }
            let shape = info.shape
            guard info.data_offsets.count == 2 else {
                throw WeightsError.badOffsets(file: path, tensor: name, reason: "data_offsets must have two entries")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw WeightsError.malformedHeader(file: path, reason: "negative dimension in shape of '\(name)'")
            }
            var count = 1
            for d in shape {
                let (r, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, r <= 1 << 48 else {
                    throw WeightsError.malformedHeader(file: path, reason: "shape of '\(name)' is too large")
                }
                count = r
            }
            let (b, e) = (info.data_offsets[0], info.data_offsets[1])
            guard b >= 0, e >= b else {
                throw WeightsError.badOffsets(file: path, tensor: name, reason: "[\(b), \(e)] is not a valid range")
            }
            guard e - b == count * dtype.byteSize else {
                throw WeightsError.badOffsets(
                    file: path, tensor: name,
                    reason: "\(e - b) bytes for shape \(shape) of \(dtype.rawValue), expected \(count * dtype.byteSize)")
            }
            // A header can put `e` near Int.max: a plain `dataOffset + e` would trap.
            let (end, overflow) = dataOffset.addingReportingOverflow(e)
            guard !overflow, end <= fileSize else {
                throw WeightsError.truncatedFile(file: path, size: fileSize, needed: overflow ? .max : end)
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: b..<e)
        }
        // Tensors must not overlap (a header that lies about offsets could alias two tensors). Empty tensors hold
        // no bytes, so they alias nothing wherever their offset points.
        let sorted = entries.filter { !$0.value.range.isEmpty }.sorted { $0.value.range.lowerBound < $1.value.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.value.range.upperBound > b.value.range.lowerBound {
            throw WeightsError.badOffsets(file: path, tensor: b.key, reason: "overlaps tensor '\(a.key)'")
        }
        return (entries, raw.metadata)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.keyNotFound(_, let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path): \(c.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
