// Synthetic caches for benchmarks: a cache that looks as if `context` tokens had been processed — full
// window ring, ⌊context/ratio⌋ compressed entries and indexer keys of realistic magnitude, compressor
// tails — without computing them. Decode speed at a long context depends on these sizes, not on the
// values, and prefilling 32K tokens to measure one decode step would take far longer than the step.

import Foundation

extension DeepSeekV4Model {
    /// A cache holding `context` positions of pseudo-random state (seeded, so runs compare).
    public func syntheticCache(context: Int, seed: UInt64 = 1) -> KVCache {
        let cache = makeCache()
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        // Rows are encoded in the cache's format like computed ones (FP8/FP4 rounding included).
        func fill(_ rows: inout KVRows, count: Int) {
            var row = [Float](repeating: 0, count: rows.layout.width)
            for _ in 0..<count {
                for i in row.indices { row[i] = next() }
                rows.append(row)
            }
        }
        for (l, layer) in cache.layers.enumerated() {
            let ratio = config.compressRatios[l]
            fill(&layer.windowRows, count: min(context, config.slidingWindow))
            if ratio > 0 { fill(&layer.compressed, count: context / ratio) }
            if ratio == 4 { fill(&layer.indexerKeys, count: context / ratio) }
        }
        cache.position = context
        return cache
    }
}
