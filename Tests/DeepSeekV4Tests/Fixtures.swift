// Access to the golden fixtures of the official reference (see Fixtures/README.md).

import DeepSeekV4
import Foundation
import Kernels
import Weights

enum Fixtures {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func directory(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// Loaded models are shared across tests (loading maps the files; forward passes do not mutate them).
    nonisolated(unsafe) private static var models: [String: DeepSeekV4Model] = [:]
    private static let lock = NSLock()

    /// A fresh model object per call would be cheap too, but `quantizeActivations` and the KV format are per
    /// model, so each (fixture, mode, format) gets its own instance. The golden comparisons use float32 caches
    /// (the goldens keep every value in float32); `.native` is what a loaded model uses in quant mode.
    static func model(_ name: String, quantize: Bool, kvFormat: KVCache.Format = .float32) throws -> DeepSeekV4Model {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(name)/\(quantize)/\(kvFormat)"
        if let m = models[key] { return m }
        let m = try DeepSeekV4Model(directory: directory(name), kvFormat: kvFormat)
        m.quantizeActivations = quantize
        models[key] = m
        return m
    }
}

/// golden.json + golden.safetensors of one model fixture.
struct Golden {
    struct Mode {
        let decodeInputIDs: [Int]
        let greedyIDs: [Int]
        let mtpInputIDs: [Int]
        let noiseFloorPrefill: Double
    }

    struct Prompt {
        let index: Int
        let ids: [Int]
        let quant: Mode
        let noquant: Mode
        func mode(_ quantize: Bool) -> Mode { quantize ? quant : noquant }
    }

    let name: String
    let prompts: [Prompt]
    let tensors: SafetensorsFile

    init(_ name: String) throws {
        self.name = name
        let dir = Fixtures.directory(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("golden.json"))) as! [String: Any]
        prompts = (json["prompts"] as! [[String: Any]]).map { p in
            let floor = p["noise_floor"] as! [String: Any]
            func mode(_ key: String) -> Mode {
                let m = p[key] as! [String: Any]
                let nf = floor[key] as! [String: Any]
                return Mode(
                    decodeInputIDs: m["decode_input_ids"] as! [Int], greedyIDs: m["greedy_ids"] as! [Int],
                    mtpInputIDs: m["mtp_input_ids"] as! [Int], noiseFloorPrefill: (nf["prefill_max_rel"] as! NSNumber).doubleValue)
            }
            return Prompt(index: p["index"] as! Int, ids: p["ids"] as! [Int], quant: mode("quant"), noquant: mode("noquant"))
        }
        tensors = try SafetensorsFile(path: dir.appendingPathComponent("golden.safetensors").path)
    }

    func key(_ prompt: Int, _ quantize: Bool, _ tensor: String) -> String {
        "prompt\(prompt)." + (quantize ? "" : "noquant.") + tensor
    }

    func has(_ prompt: Int, _ quantize: Bool, _ tensor: String) -> Bool {
        tensors.entries[key(prompt, quantize, tensor)] != nil
    }

    /// A golden tensor as floats, with its shape.
    func tensor(_ prompt: Int, _ quantize: Bool, _ tensor: String) -> (shape: [Int], values: [Float]) {
        let t = self.tensors.tensor(key(prompt, quantize, tensor))!
        let values = (0..<t.elementCount).map { t.bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        return (t.shape, values)
    }
}

/// max |a − b| / max |b|
func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
        num = max(num, Double(abs(x - y)))
        den = max(den, Double(abs(y)))
    }
    return den == 0 ? num : num / den
}

func relativeError(_ a: [Float], _ b: [Float]) -> Double { relativeError(a[...], b[...]) }

func argmax(_ x: [Float]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}
