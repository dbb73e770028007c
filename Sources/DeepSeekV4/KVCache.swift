// KVCache: the per-sequence decode state of every attention layer (spec §3.8).
//
//   window      ring buffer of the last `sliding_window` KV rows (D values each); position p sits at row p mod W
//   compressed  compressed attention entries, one per complete block of `ratio` tokens (CSA and HCA layers)
//   indexerKeys compressed lightning-indexer keys (CSA layers)
//   compressor  the incomplete tail of the current block (+ the previous block for the overlapping kind)
//
// Values are stored as float32 holding exactly what the reference stores (already rounded to FP8/FP4
// where the reference rounds). A fresh cache is the reference's state at the start of a sequence
// (compressor rows 0 / −∞), which the reference itself never resets between sequences.

import Kernels

public final class KVCache {
    public final class Layer {
        let window: Int
        let headDim: Int
        var windowRows: [Float]
        var compressed: [Float] = []
        var compressedCount: Int { compressed.count / headDim }
        var compressor: Compressor.State?
        var indexerKeys: [Float] = []
        var indexerCompressor: Compressor.State?

        init(window: Int, headDim: Int, ratio: Int, attentionWidth: Int, indexerWidth: Int) {
            self.window = window
            self.headDim = headDim
            windowRows = [Float](repeating: 0, count: window * headDim)
            if ratio > 0 {
                compressor = Compressor.State(ratio: ratio, width: attentionWidth)
            }
            if ratio == 4 {
                indexerCompressor = Compressor.State(ratio: ratio, width: indexerWidth)
            }
        }

        init(copying other: Layer) {
            window = other.window
            headDim = other.headDim
            windowRows = other.windowRows
            compressed = other.compressed
            compressor = other.compressor
            indexerKeys = other.indexerKeys
            indexerCompressor = other.indexerCompressor
        }

        /// Bytes held (float32 storage as used now).
        var byteCount: Int {
            4 * (windowRows.count + compressed.count + indexerKeys.count
                + (compressor.map { $0.a.count * 2 + $0.previousA.count * 2 } ?? 0)
                + (indexerCompressor.map { $0.a.count * 2 + $0.previousA.count * 2 } ?? 0))
        }
    }

    /// Number of tokens already processed (the position of the next token).
    public internal(set) var position: Int = 0
    var layers: [Layer]

    init(layers: [Layer]) { self.layers = layers }

    /// An independent copy of the state (a snapshot to return to). Storage is copy-on-write, so a
    /// snapshot costs little until one of the two caches moves on.
    public func copy() -> KVCache {
        let c = KVCache(layers: layers.map { Layer(copying: $0) })
        c.position = position
        return c
    }

    /// Bytes of state held.
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }
}
