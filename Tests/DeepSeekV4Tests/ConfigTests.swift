// Tests of config.json decoding and validation: unsupported model types and every out-of-range value fail
// with a ConfigError naming the key, and the official configs (plus a V4-Flash-0731-like one) load.
// `ConfigFixture` at the end is shared with the other suites of this file's author (inventory, checkpoint
// errors).

import Foundation
import Testing

@testable import DeepSeekV4

@Suite("DeepSeekV4Config")
struct ConfigTests {
    @Test("loads the official Flash and Pro configs")
    func loadsOfficialConfigs() throws {
        let flash = try ConfigFixture.official("flash")
        #expect(flash.hiddenSize == 4096 && flash.numHiddenLayers == 43 && flash.nRoutedExperts == 256)
        #expect(flash.compressRatios.count == 44)
        #expect(flash.mtpBlocksUsed == 1)
        let pro = try ConfigFixture.official("pro")
        #expect(pro.hiddenSize == 7168 && pro.numHiddenLayers == 61 && pro.nRoutedExperts == 384)
        #expect(pro.compressRatios.count == 62)
        #expect(pro.attentionKind(layer: 0) == .heavilyCompressed)
        #expect(pro.attentionKind(layer: 2) == .compressedSparse)
    }

    @Test("rejects model_type deepseek_v41 with a message naming V4.1")
    func rejectsV41() throws {
        let error = try ConfigFixture.decodeError { $0["model_type"] = "deepseek_v41" }
        guard case .unsupportedModel(_, let type, _) = error else {
            Issue.record("expected unsupportedModel, got \(String(describing: error))")
            return
        }
        #expect(type == "deepseek_v41")
        #expect(error?.description.contains("V4.1") == true)
    }

    @Test("rejects unknown, missing or non-string model types", arguments: ["deepseek_v3", "llama", "", "4"])
    func rejectsUnknownModelTypes(_ type: String) throws {
        let error = try ConfigFixture.decodeError { config in
            switch type {
            case "": config.removeValue(forKey: "model_type")
            case "4": config["model_type"] = 4
            default: config["model_type"] = type
            }
        }
        guard case .unsupportedModel(_, let reported, _) = error else {
            Issue.record("expected unsupportedModel, got \(String(describing: error))")
            return
        }
        #expect(reported == (type.isEmpty ? "(missing)" : type))
    }

    /// One edit of the official Flash config and the key its error must name.
    struct BadValue: Sendable, CustomTestStringConvertible {
        let key: String
        let edit: @Sendable (inout [String: Any]) -> Void
        var testDescription: String { key }

        static func set(_ key: String, _ value: some Sendable) -> BadValue {
            BadValue(key: key) { $0[key] = value }
        }
    }

    static let badValues: [BadValue] = [
        .set("num_key_value_heads", 2),
        .set("compress_ratios", [0, 0, 4, 128, 0]),
        .set("compress_ratios", [Int](repeating: 4, count: 43) + [-1]),
        .set("head_dim", 500),
        .set("head_dim", 64),
        .set("o_groups", 7),
        .set("scoring_func", "softmax"),
        .set("n_shared_experts", 2),
        .set("num_experts_per_tok", 300),
        .set("num_hash_layers", 44),
        .set("hidden_size", 4100),
        .set("hidden_size", 1 << 20),
        .set("n_routed_experts", 1 << 20),
        .set("max_position_embeddings", 1 << 40),
        .set("index_head_dim", 96),
        .set("expert_dtype", "fp16"),
        .set("tie_word_embeddings", true),
        .set("hidden_act", "gelu"),
        .set("rms_norm_eps", 0),
        BadValue(key: "rope_scaling.type") { config in
            var scaling = config["rope_scaling"] as! [String: Any]
            scaling["type"] = "linear"
            config["rope_scaling"] = scaling
        },
        BadValue(key: "quantization_config.weight_block_size") { config in
            var q = config["quantization_config"] as! [String: Any]
            q["weight_block_size"] = [64, 64]
            config["quantization_config"] = q
        },
        BadValue(key: "vocab_size") { $0.removeValue(forKey: "vocab_size") },
        BadValue(key: "rope_scaling") { $0.removeValue(forKey: "rope_scaling") },
        .set("num_hidden_layers", "43"),
    ]

    @Test("rejects each out-of-range, missing or mistyped value with a ConfigError naming the key", arguments: badValues)
    func rejectsBadValue(_ bad: BadValue) throws {
        let error = try ConfigFixture.decodeError(bad.edit)
        switch error {
        case .invalidValue(_, let key, _, _)?:
            #expect(key == bad.key)
        case .malformed(_, let reason)?:
            #expect(reason.contains("'\(bad.key)'"), "\(reason)")
        default:
            Issue.record("expected invalidValue or malformed for \(bad.key), got \(String(describing: error))")
        }
        #expect(error?.description.contains(bad.key) == true)
    }

    @Test("rejects a file that is not a JSON object, and a missing file")
    func rejectsNonJSONAndMissingFile() throws {
        #expect(throws: ConfigError.malformed(path: "x.json", reason: "not a JSON object")) {
            try DeepSeekV4Config.decode(Data("[1, 2".utf8), path: "x.json")
        }
        let empty = try ConfigFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: ConfigError.missingFile(path: empty.appendingPathComponent("config.json").path)) {
            try DeepSeekV4Config.load(directory: empty)
        }
    }

    @Test("loads a V4-Flash-0731-like config and runs none of its drafter stages")
    func loadsFlash0731() throws {
        let config = try ConfigFixture.decode(ConfigFixture.flash0731)
        #expect(config.dsparkBlockSize == 5)
        #expect(config.numNextnPredictLayers == 3)
        #expect(config.compressRatios.count == 46)
        #expect(config.mtpBlocksUsed == 0)
    }
}

/// Config fixtures: the official configs and edited copies of them, and scratch directories.
enum ConfigFixture {
    static var fixtures: URL {
        get throws { try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil)) }
    }

    /// A fixture directory, e.g. "tiny-flash" or "configs/pro".
    static func directory(_ name: String) throws -> URL { try fixtures.appendingPathComponent(name) }

    /// The official config.json of "flash" or "pro" as a JSON object.
    static func officialJSON(_ model: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory("configs/\(model)").appendingPathComponent("config.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func official(_ model: String) throws -> DeepSeekV4Config {
        try DeepSeekV4Config.load(directory: directory("configs/\(model)"))
    }

    /// The official Flash config with the changes of V4-Flash-0731 (spec §7): a DSpark drafter of three
    /// stages and compress_ratios padded to 46 entries.
    static let flash0731: @Sendable (inout [String: Any]) -> Void = { config in
        config["dspark_block_size"] = 5
        config["num_nextn_predict_layers"] = 3
        config["compress_ratios"] = (config["compress_ratios"] as! [Int]) + [0, 0]
    }

    /// Decodes the official Flash config after `edit`.
    static func decode(_ edit: (inout [String: Any]) -> Void) throws -> DeepSeekV4Config {
        var json = try officialJSON("flash")
        edit(&json)
        return try DeepSeekV4Config.decode(try JSONSerialization.data(withJSONObject: json), path: "config.json")
    }

    /// The ConfigError decoding the edited Flash config throws (nil if it loads).
    static func decodeError(_ edit: (inout [String: Any]) -> Void) throws -> ConfigError? {
        do {
            _ = try decode(edit)
            return nil
        } catch let error as ConfigError {
            return error
        }
    }

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes the edited official Flash config as config.json into a fresh directory (no weights).
    static func configOnlyDirectory(_ model: String = "flash", _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        var json = try officialJSON(model)
        edit(&json)
        let dir = try temporaryDirectory()
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }
}
