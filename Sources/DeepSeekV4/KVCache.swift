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
    }

    /// Number of tokens already processed (the position of the next token).
    public internal(set) var position: Int = 0
    var layers: [Layer]

    init(layers: [Layer]) { self.layers = layers }
}
