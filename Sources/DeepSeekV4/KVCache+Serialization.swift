// KVCache+Serialization: a cache as bytes, for the prefix cache on disk. The encoding is a thin,
// field-by-field layer over what `KVCache` stores — every stored array is written with its element type
// and count — so a change of the storage format (e.g. FP8/FP4 native rows) changes one field here and the
// version, not a layout spread over the file. Decoding validates every count against the model's config
// and throws a typed error on any mismatch: the bytes come from a file and are never trusted.
//
//   header   "NWKV"  version u32  position u64  layers u32
//   layer    ratio u32  window rows  compressed entries  indexer keys
//            compressor?  indexer compressor?   (presence byte 0/1, then a, g, previous a, previous g)
//   rows     row kind u8 (1 float32, 2 FP8 + BF16 RoPE tail, 3 FP4)  row bytes u32  byte count u64  the bytes
//            exactly as the cache holds them (KVRowLayout)
//   array    element type u8 (1 float32)  count u64  count elements, little-endian
//
// The window ring holds min(position, window) rows, the compressed entries and indexer keys one per complete
// block; every count is checked against the position.
//
// `DeepSeekV4Model.kvCacheIdentity` names everything a saved cache depends on (config, checkpoint files,
// activation quantisation, this format); a cache is only restored into a model with the same identity.

import Foundation
import Kernels

extension KVCache {
    /// Version of the encoding below; bump on any change of the fields or their order.
    public static let serializationVersion: UInt32 = 2
    static let serializationMagic: [UInt8] = Array("NWKV".utf8)

    /// Element types of the stored float arrays (compressor state).
    enum ElementType: UInt8 {
        case float32 = 1
    }

    /// The state as bytes (see the layout at the top of the file).
    public func encoded() -> [UInt8] {
        var w = KVCacheWriter()
        w.bytes += Self.serializationMagic
        w.u32(Self.serializationVersion)
        w.u64(UInt64(position))
        w.u32(UInt32(layers.count))
        for layer in layers {
            w.u32(UInt32(layer.compressor?.ratio ?? 0))
            w.rows(layer.windowRows)
            w.rows(layer.compressed)
            w.rows(layer.indexerKeys)
            for state in [layer.compressor, layer.indexerCompressor] {
                guard let state else { w.bytes.append(0); continue }
                w.bytes.append(1)
                w.floats(state.a)
                w.floats(state.g)
                w.floats(state.previousA)
                w.floats(state.previousG)
            }
        }
        return w.bytes
    }
}

/// Why bytes are not a cache of this model.
public enum KVCacheDecodingError: Error, Equatable, CustomStringConvertible {
    case notACache
    case unsupportedVersion(UInt32)
    case truncated
    case layerCount(expected: Int, found: Int)
    case ratio(layer: Int, expected: Int, found: Int)
    case elementType(layer: Int, field: String, found: UInt8)
    case rowLayout(layer: Int, field: String)
    case count(layer: Int, field: String, expected: Int, found: Int)
    case badPresence(layer: Int, field: String)
    case position(Int)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .notACache: "not a KV cache (bad magic)"
        case .unsupportedVersion(let v): "KV cache encoding version \(v) is not \(KVCache.serializationVersion), the one this build reads"
        case .truncated: "the KV cache bytes end early"
        case .layerCount(let e, let f): "the KV cache has \(f) layers, the model \(e)"
        case .ratio(let l, let e, let f): "layer \(l) of the KV cache has compression ratio \(f), the model \(e)"
        case .elementType(let l, let field, let t): "layer \(l) \(field): unknown element type \(t)"
        case .rowLayout(let l, let field): "layer \(l) \(field): rows in another layout than this model's KV format"
        case .count(let l, let field, let e, let f): "layer \(l) \(field): \(f) values, expected \(e)"
        case .badPresence(let l, let field): "layer \(l) \(field): presence byte is neither 0 nor 1"
        case .position(let p): "KV cache position \(p) is out of range"
        case .trailingBytes(let n): "\(n) bytes follow the KV cache"
        }
    }
}

extension DeepSeekV4Model {
    /// A cache from ``KVCache/encoded()`` bytes, checked against this model's config.
    public func decodeKVCache(_ bytes: [UInt8]) throws(KVCacheDecodingError) -> KVCache {
        var r = KVCacheReader(bytes: bytes)
        guard try r.take(4).elementsEqual(KVCache.serializationMagic) else { throw .notACache }
        let version = try r.u32()
        guard version == KVCache.serializationVersion else { throw .unsupportedVersion(version) }
        let rawPosition = try r.u64()
        guard rawPosition <= UInt64(Int32.max) else { throw .position(Int(clamping: rawPosition)) }
        let position = Int(rawPosition)
        let layerCount = Int(try r.u32())
        guard layerCount == config.numHiddenLayers else { throw .layerCount(expected: config.numHiddenLayers, found: layerCount) }
        let cache = makeCache()
        cache.position = position
        for (l, layer) in cache.layers.enumerated() {
            let ratio = config.compressRatios[l]
            let found = Int(try r.u32())
            guard found == ratio else { throw .ratio(layer: l, expected: ratio, found: found) }
            let blocks = ratio > 0 ? position / ratio : 0
            layer.windowRows = try r.rows(layer: l, field: "window", like: layer.windowRows, count: min(position, layer.window))
            layer.compressed = try r.rows(layer: l, field: "compressed", like: layer.compressed, count: blocks)
            layer.indexerKeys = try r.rows(layer: l, field: "indexer keys", like: layer.indexerKeys, count: ratio == 4 ? blocks : 0)
            layer.compressor = try r.state(layer: l, field: "compressor", like: layer.compressor)
            layer.indexerCompressor = try r.state(layer: l, field: "indexer compressor", like: layer.indexerCompressor)
        }
        guard r.remaining == 0 else { throw .trailingBytes(r.remaining) }
        return cache
    }
}

private struct KVCacheWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }

    mutating func rows(_ rows: KVRows) {
        bytes.append(rows.layout.kindCode)
        u32(UInt32(rows.layout.rowBytes))
        u64(UInt64(rows.bytes.count))
        bytes += rows.bytes
    }

    mutating func floats(_ values: [Float]) {
        bytes.append(KVCache.ElementType.float32.rawValue)
        u64(UInt64(values.count))
        #if _endian(little)
        values.withUnsafeBytes { bytes += $0 }
        #else
        for v in values { u32(v.bitPattern) }
        #endif
    }
}

private struct KVCacheReader {
    let bytes: [UInt8]
    var offset = 0
    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) throws(KVCacheDecodingError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .truncated }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    mutating func u32() throws(KVCacheDecodingError) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() throws(KVCacheDecodingError) -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `count` rows in the layout of `template` (the fresh cache's, so the model's format).
    mutating func rows(layer: Int, field: String, like template: KVRows, count: Int) throws(KVCacheDecodingError) -> KVRows {
        let kind = try take(1).first!
        let rowBytes = try u32()
        guard kind == template.layout.kindCode, rowBytes == UInt32(template.layout.rowBytes) else {
            throw .rowLayout(layer: layer, field: field)
        }
        let found = try u64()
        let expected = count * template.layout.rowBytes
        guard found == UInt64(expected) else {
            throw .count(layer: layer, field: field, expected: count, found: Int(clamping: found) / template.layout.rowBytes)
        }
        return KVRows(template.layout, bytes: Array(try take(expected)))
    }

    /// An array that must hold exactly `count` values (what the config implies).
    mutating func floats(layer: Int, field: String, count: Int) throws(KVCacheDecodingError) -> [Float] {
        let type = try take(1).first!
        guard type == KVCache.ElementType.float32.rawValue else { throw .elementType(layer: layer, field: field, found: type) }
        let found = try u64()
        guard found == UInt64(count) else { throw .count(layer: layer, field: field, expected: count, found: Int(clamping: found)) }
        let raw = try take(4 * count)
        #if _endian(little)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            raw.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            initialized = count
        }
        #else
        return stride(from: raw.startIndex, to: raw.endIndex, by: 4).map { i in
            Float(bitPattern: raw[i..<(i + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) })
        }
        #endif
    }

    /// A compressor state shaped like the fresh one `template` (nil: the layer has none).
    mutating func state(layer: Int, field: String, like template: Compressor.State?) throws(KVCacheDecodingError)
        -> Compressor.State?
    {
        let present = try take(1).first!
        guard present <= 1 else { throw .badPresence(layer: layer, field: field) }
        guard var s = template else {
            if present == 1 { throw .count(layer: layer, field: field, expected: 0, found: 1) }
            return nil
        }
        guard present == 1 else { throw .count(layer: layer, field: field, expected: 1, found: 0) }
        s.a = try floats(layer: layer, field: field + " a", count: s.a.count)
        s.g = try floats(layer: layer, field: field + " g", count: s.g.count)
        s.previousA = try floats(layer: layer, field: field + " previous a", count: s.previousA.count)
        s.previousG = try floats(layer: layer, field: field + " previous g", count: s.previousG.count)
        return s
    }
}

extension DeepSeekV4Model {
    /// Everything a saved cache's validity depends on, as text (hashed by the prefix cache): the config.json
    /// bytes, the checkpoint files' names and sizes, the activation quantisation and the KV storage format
    /// with its encoding version. Any change makes earlier caches foreign.
    public var kvCacheIdentity: String {
        var parts = [
            "deepseek-v4",
            "kv=\(cacheFormat.rawValue)/v\(KVCache.serializationVersion)",
            "activations=\(quantizeActivations ? "fp8" : "float32")",
        ]
        let configURL = store.directory.appendingPathComponent("config.json")
        if let data = try? Data(contentsOf: configURL) {
            parts.append("config=" + String(decoding: data, as: UTF8.self))
        } else {
            parts.append("config=" + String(decoding: config.officialJSON(), as: UTF8.self))
        }
        for file in store.files {
            parts.append("shard=\((file.path as NSString).lastPathComponent):\(file.byteCount)")
        }
        return parts.joined(separator: "\n")
    }
}

extension KVRowLayout {
    /// The row kind as stored in the encoding.
    var kindCode: UInt8 {
        switch kind {
        case .float32: 1
        case .fp8: 2
        case .fp4: 3
        }
    }
}
