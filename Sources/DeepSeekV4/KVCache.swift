// KVCache: the per-sequence decode state of every attention layer (spec §3.8).
//
//   window      ring buffer of the last `sliding_window` KV rows (D values each); position p sits at row p mod W
//   compressed  compressed attention entries, one per complete block of `ratio` tokens (CSA and HCA layers)
//   indexerKeys compressed lightning-indexer keys (CSA layers)
//   compressor  the incomplete tail of the current block (+ the previous block for the overlapping kind)
//
// Rows are stored in the cache's `Format`, fixed when the cache is made:
//   .native   a kv row / compressed entry is its D − R non-RoPE values in FP8 E4M3 with an E8M0 scale per 64 plus
//             its R RoPE values in BF16; an indexer key is FP4 E2M1 with an E8M0 scale per 32. In quant mode the
//             reference has already rounded the non-RoPE values to FP8 and the indexer keys to FP4, so those parts
//             are stored exactly; the RoPE values are rounded to BF16 when they are produced (the reference's
//             buffers are BF16), so rows read from the current call equal rows read back from the cache.
//   .float32  every value float32, exactly what was computed (noquant mode, debugging, the float32 goldens).
// A fresh cache is the reference's state at the start of a sequence (compressor rows 0 / −∞), which the
// reference itself never resets between sequences.
//
// `KVCache.Footprint` (second half) sizes this state for a config without allocating it.

import Kernels

/// Rows of one kind of cached vector, encoded in one layout. Copy-on-write, so cache snapshots are cheap.
struct KVRows {
    let layout: KVRowLayout
    private(set) var bytes: [UInt8] = []

    init(_ layout: KVRowLayout) { self.layout = layout }

    /// Rows already encoded in `layout` (a whole number of rows; the caller checks).
    init(_ layout: KVRowLayout, bytes: [UInt8]) {
        precondition(bytes.count % layout.rowBytes == 0, "KVRows: \(bytes.count) bytes are not whole rows")
        self.layout = layout
        self.bytes = bytes
    }

    var count: Int { bytes.count / layout.rowBytes }

    /// Appends the encoded row x: (width).
    mutating func append(_ x: UnsafePointer<Float>) {
        let n = layout.rowBytes, start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: n))
        bytes.withUnsafeMutableBufferPointer { layout.encode(x, into: $0.baseAddress! + start) }
    }

    mutating func append(_ x: [Float]) { x.withUnsafeBufferPointer { append($0.baseAddress!) } }

    /// Overwrites row i with x: (width).
    mutating func set(_ i: Int, _ x: UnsafePointer<Float>) {
        let n = layout.rowBytes
        bytes.withUnsafeMutableBufferPointer { layout.encode(x, into: $0.baseAddress! + i * n) }
    }

    /// Grows to `rows` rows (zeros), for the window ring while the sequence is shorter than the window.
    mutating func grow(to rows: Int) {
        if rows > count { bytes.append(contentsOf: repeatElement(0, count: (rows - count) * layout.rowBytes)) }
    }

    /// Decodes rows `range` into out: (range.count, width).
    func decode(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let n = layout.rowBytes, w = layout.width
        bytes.withUnsafeBufferPointer { b in
            for (k, i) in range.enumerated() { layout.decode(b.baseAddress! + i * n, into: out + k * w) }
        }
    }

    /// Rows `range` decoded: (range.count · width) floats.
    func decoded(_ range: Range<Int>) -> [Float] {
        [Float](unsafeUninitializedCapacity: range.count * layout.width) { buffer, initialized in
            decode(range, into: buffer.baseAddress!)
            initialized = range.count * layout.width
        }
    }
}

public final class KVCache {
    public final class Layer {
        let window: Int
        let format: Format
        /// The window ring: min(position, W) rows, position p at row p mod W.
        var windowRows: KVRows
        var compressed: KVRows
        var compressor: Compressor.State?
        var indexerKeys: KVRows
        var indexerCompressor: Compressor.State?

        init(window: Int, format: Format, headDim: Int, ropeDim: Int, ratio: Int, indexerWidth: Int) {
            self.window = window
            self.format = format
            let rowLayout = format.rowLayout(width: headDim, ropeDim: ropeDim)
            windowRows = KVRows(rowLayout)
            compressed = KVRows(rowLayout)
            indexerKeys = KVRows(format.indexerLayout(width: indexerWidth))
            if ratio > 0 {
                compressor = Compressor.State(ratio: ratio, width: headDim)
            }
            if ratio == 4 {
                indexerCompressor = Compressor.State(ratio: ratio, width: indexerWidth)
            }
        }

        init(copying other: Layer) {
            window = other.window
            format = other.format
            windowRows = other.windowRows
            compressed = other.compressed
            compressor = other.compressor
            indexerKeys = other.indexerKeys
            indexerCompressor = other.indexerCompressor
        }

        /// Bytes held: the encoded rows plus the compressors' float32 pooling state.
        var byteCount: Int {
            windowRows.bytes.count + compressed.bytes.count + indexerKeys.bytes.count
                + 4 * ((compressor.map { $0.a.count * 2 + $0.previousA.count * 2 } ?? 0)
                    + (indexerCompressor.map { $0.a.count * 2 + $0.previousA.count * 2 } ?? 0))
        }
    }

    /// Number of tokens already processed (the position of the next token).
    public internal(set) var position: Int = 0
    var layers: [Layer]

    init(layers: [Layer]) { self.layers = layers }

    /// The storage format of the rows.
    public var format: Format { layers.first?.format ?? .float32 }

    /// An independent copy of the state (a snapshot to return to). Storage is copy-on-write, so a
    /// snapshot costs little until one of the two caches moves on.
    public func copy() -> KVCache {
        let c = KVCache(layers: layers.map { Layer(copying: $0) })
        c.position = position
        return c
    }

    /// Bytes of state held (the encoded rows and the compressors' state; array capacity slack not counted).
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }
}

extension KVCache.Format {
    /// Whether a `KVCache` can hold its rows in this format (`.bf16` only sizes the reference's buffers).
    public var isStorable: Bool { self != .bf16 }

    /// Layout of a kv row / compressed entry of `width` values whose last `ropeDim` are the RoPE dims.
    func rowLayout(width: Int, ropeDim: Int) -> KVRowLayout {
        precondition(isStorable, "a KVCache stores rows as native or float32")
        return KVRowLayout(self == .native ? .fp8(bf16Tail: ropeDim) : .float32, width: width)
    }

    /// Layout of a lightning-indexer key of `width` values.
    func indexerLayout(width: Int) -> KVRowLayout {
        precondition(isStorable, "a KVCache stores rows as native or float32")
        return KVRowLayout(self == .native ? .fp4 : .float32, width: width)
    }
}

// MARK: - Footprint
//
// How many bytes this state takes for a config (spec §3.8), for planning hardware from config.json alone:
// the window is a fixed cost once the context is that long; each compressed layer adds one entry every
// `ratio` tokens, CSA layers also an indexer key. Three formats: `native` is the low-precision layout the
// reference rounds its values to (what Narwhal stores in quant mode): a kv row is (D − R) FP8 values with one E8M0
// scale per 64 of them plus the R RoPE values in BF16 — 448 + 7 + 64·2 = 583 bytes for D = 512, R = 64; an
// indexer key is the whole rotated vector in FP4 (two per byte) with one E8M0 scale per 32 values — 64 + 4
// = 68 bytes for 128 dims.
//
// The MTP block's own window (one more ratio-0 layer) is not counted: the spec's figures cover the main
// layers, and the MTP block only runs when speculative decoding does.

extension KVCache {
    /// The byte format of the cached kv rows, compressed entries and indexer keys.
    public enum Format: String, Sendable, CaseIterable {
        /// FP8 non-RoPE values + E8M0 scale per 64 + BF16 RoPE values; FP4 indexer keys + E8M0 scale per 32
        case native
        /// every value BF16, the reference implementation's buffers
        case bf16
        /// every value float32 (noquant mode, or forced when loading)
        case float32
    }

    /// The size of one sequence's attention state for a config, main layers only.
    public struct Footprint: Sendable, Equatable {
        public let format: Format
        /// Bytes of one kv row (window row or compressed entry).
        public let entryBytes: Int
        /// Bytes of one lightning-indexer key (CSA layers).
        public let indexerEntryBytes: Int
        /// Rows of the sliding window of every layer.
        public let windowRows: Int
        /// Compression ratio of each main layer (0 = sliding window only).
        public let ratios: [Int]

        public init(config c: DeepSeekV4Config, format: Format) {
            self.format = format
            let rope = c.qkRopeHeadDim
            switch format {
            case .native:
                // Scales: one per 64 FP8 values (spec §3.4 step 7) and one per 32 FP4 values (§3.5 step 3).
                entryBytes = KVRowLayout(.fp8(bf16Tail: rope), width: c.headDim).rowBytes
                indexerEntryBytes = KVRowLayout(.fp4, width: c.indexHeadDim).rowBytes
            case .bf16:
                entryBytes = 2 * c.headDim
                indexerEntryBytes = 2 * c.indexHeadDim
            case .float32:
                entryBytes = 4 * c.headDim
                indexerEntryBytes = 4 * c.indexHeadDim
            }
            windowRows = c.slidingWindow
            ratios = Array(c.compressRatios.prefix(c.numHiddenLayers))
        }

        /// Bytes a layer adds per compressed block: the entry, plus the indexer key on CSA layers.
        func blockBytes(ratio: Int) -> Int {
            AttentionKind(ratio: ratio) == .compressedSparse ? entryBytes + indexerEntryBytes : entryBytes
        }

        /// The full windows of all layers: the fixed cost of any context of at least `windowRows` tokens.
        public var windowBytes: Int { windowBytes(context: windowRows) }

        /// Compressed bytes per token, amortised: each compressed layer adds one block every `ratio` tokens.
        public var compressedBytesPerToken: Double {
            ratios.filter { $0 > 0 }.reduce(0) { $0 + Double(blockBytes(ratio: $1)) / Double($1) }
        }

        /// ``compressedBytesPerToken`` rounded up to whole bytes, so that plans made with it never fall short.
        public var bytesPerToken: Int { Int(compressedBytesPerToken.rounded(.up)) }

        /// Window rows held after `context` tokens, all layers.
        public func windowBytes(context: Int) -> Int {
            ratios.count * min(windowRows, context) * entryBytes
        }

        /// Compressed entries (and indexer keys) held after `context` tokens: only complete blocks count.
        public func compressedBytes(context: Int) -> Int {
            ratios.filter { $0 > 0 }.reduce(0) { $0 + (context / $1) * blockBytes(ratio: $1) }
        }

        /// Everything cached after `context` tokens.
        public func bytes(context: Int) -> Int { windowBytes(context: context) + compressedBytes(context: context) }
    }

    /// Bytes of the compressors' float32 pooling state of one sequence (independent of the context): the rows of
    /// the block being filled — and, for the overlapping ratio-4 kind, of the previous block — for both the
    /// projected values and the gates (spec §3.8 "Compressor state"). Main layers only.
    public static func compressorStateBytes(config c: DeepSeekV4Config) -> Int {
        func state(ratio: Int, width: Int) -> Int {
            let overlapping = AttentionKind(ratio: ratio) == .compressedSparse
            let rowsPerBlock = overlapping ? 2 * ratio : ratio
            let projectionWidth = overlapping ? 2 * width : width
            return 2 * rowsPerBlock * projectionWidth * MemoryLayout<Float>.size
        }
        return c.compressRatios.prefix(c.numHiddenLayers).reduce(0) { total, ratio in
            switch AttentionKind(ratio: ratio) {
            case .slidingWindow: total
            case .compressedSparse: total + state(ratio: ratio, width: c.headDim) + state(ratio: ratio, width: c.indexHeadDim)
            case .heavilyCompressed: total + state(ratio: ratio, width: c.headDim)
            }
        }
    }
}
