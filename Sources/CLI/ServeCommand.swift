// `narwhal serve`: DeepSeek's API on your own machine — flags → model and engine → buildApplication →
// runService. OpenAI- and Anthropic-compatible clients switch to it by changing their base URL
// (`http://127.0.0.1:8000/v1` and `http://127.0.0.1:8000/anthropic` or `…:8000`).
//
// The model is the checkpoint of `--model`, or the default model (a tiny random-weight V4, generated on
// first use into the cache directory), or with `--replay FILE` scripted completions that need only the
// tokenizer. SIGINT/SIGTERM shut down gracefully: new requests get 503, running generations get the
// grace period, then are cancelled.

import ArgumentParser
import DeepSeekV4
import Foundation
import Generation
import Hummingbird
import Logging
import Server
import Tokenizers

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve DeepSeek's API (OpenAI Chat Completions and Anthropic Messages) over HTTP.",
        discussion: """
            Endpoints: POST /v1/chat/completions, /v1/completions (FIM with "suffix"), /v1/messages, \
            /v1/messages/count_tokens; GET /v1/models, /health, /metrics. Base URLs: OpenAI SDK \
            http://HOST:PORT/v1, Anthropic SDK http://HOST:PORT/anthropic.
            """)

    @OptionGroup var loading: ModelLoadingOptions

    @Option(name: .long, help: "Address to listen on (loopback by default; 0.0.0.0 exposes the server).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on.")
    var port = 8000

    @Option(name: .customLong("api-key"), help: "Require this key (Authorization: Bearer KEY or x-api-key: KEY).")
    var apiKey: String?

    @Option(name: .long, help: "Requests generated at once, batched in one forward pass per step.")
    var parallel = 1

    @Option(name: .long, help: "Requests that may wait for a free slot; more are refused with 429.")
    var queue = 16

    @Option(
        name: .long,
        help: ArgumentHelp("Context limit per request in tokens (prompt + completion). Default: the model's.", valueName: "tokens"))
    var ctx: Int?

    @Option(
        name: .customLong("served-model-name"),
        help: ArgumentHelp(
            "A model name to answer to and list (repeatable); DeepSeek's names are always accepted.", valueName: "name"))
    var servedModelNames: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve the scripted completions of this JSON Lines file instead of a model.",
            discussion: "Each line is {\"text\": \"<raw completion>\"}; lines are used in order, cycling.",
            valueName: "file.jsonl"))
    var replay: String?

    @Option(
        name: .customLong("replay-speed"),
        help: ArgumentHelp("With --replay: tokens per second to simulate (default: as fast as possible).", valueName: "tokens/s"))
    var replaySpeed: Double?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be 1…256") }
        guard queue >= 0 else { throw ValidationError("--queue must be ≥ 0") }
        if let ctx, ctx < 2 { throw ValidationError("--ctx must be at least 2") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        if let replaySpeed, replaySpeed <= 0 { throw ValidationError("--replay-speed must be positive") }
        if replaySpeed != nil && replay == nil { throw ValidationError("--replay-speed needs --replay") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "narwhal.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        let (engine, description, defaultMaxTokens) = try loadEngine(logger: logger)
        let names = servedModelNames.isEmpty ? [description.servedName] : servedModelNames
        var configuration = ServerConfiguration(host: host, port: port, apiKey: apiKey, servedModelNames: names)
        configuration.defaultMaxTokens = defaultMaxTokens
        let startup = "narwhal serve: \(description.model), \(parallel) slot(s) + queue \(queue), "
            + "context \(engine.contextLimit) tokens, KV \(description.kvBudget)"
        logger.info(
            "\(startup)",
            metadata: [
                "model": "\(description.model)", "slots": "\(parallel)", "queue": "\(queue)", "context": "\(engine.contextLimit)",
                "kv_budget": "\(description.kvBudget)", "names": "\(configuration.modelNames.joined(separator: ","))",
                "address": "http://\(host):\(port)", "auth": "\(apiKey == nil ? "off" : "on")",
            ])
        let app = buildApplication(configuration: configuration, engine: engine, logger: logger)
        try await app.runService()
        // Finish the prefix-cache writes still queued (an unfinished one would only leave a temp file).
        (engine as? Engine<DeepSeekV4Model>)?.prefixCache?.waitForWrites()
        (engine as? Engine<ReplayModel>)?.prefixCache?.waitForWrites()
    }

    /// What the startup line says about the model.
    struct Description {
        var model: String
        var servedName: String
        var kvBudget: String
    }

    /// The engine over the replay model, the checkpoint given, or the default model.
    private func loadEngine(logger: Logger) throws -> (any ChatEngine, Description, defaultMaxTokens: Int?) {
        let model = loading.modelOptions.model
        if let replay {
            // Replay needs only a tokenizer: the checkpoint's, else the bundled official one.
            var tokenizerDirectory = try ModelLoader.bundledTokenizerDirectory()
            if let model {
                let directory = URL(fileURLWithPath: (model as NSString).expandingTildeInPath, isDirectory: true)
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path) {
                    tokenizerDirectory = directory
                }
            }
            let tokenizer = try BPETokenizer(directory: tokenizerDirectory)
            let completions = try ReplayModel.completions(contentsOf: URL(fileURLWithPath: replay))
            let replayModel = ReplayModel(
                completions: completions, tokenizer: tokenizer, contextLimit: ctx ?? Self.replayContext,
                stepDelay: replaySpeed.map { 1 / $0 } ?? 0)
            let prefixCache = try loading.prefixCache.open(for: replayModel, logger: logger)
            let engine = Engine(
                model: replayModel, tokenizer: tokenizer, parallel: parallel, queueLimit: queue, prefixCache: prefixCache)
            let description = Description(
                model: "replay of \(completions.count) completion(s) from \(replay)", servedName: ModelNames.flash, kvBudget: "none")
            return (engine, description, nil)
        }
        let loaded = try ModelLoader.load(loading, contextSize: ctx, parallel: parallel, queueLimit: queue, logger: logger)
        let config = loaded.model.config
        // A slot's state at a full context, in the model's cache format; each slot may also hold
        // up to four copy-on-write snapshots for prefix reuse.
        let perSlot = loaded.model.kvBytes(context: loaded.engine.contextLimit)
        let servedName =
            config.hiddenSize == CheckpointPreset.pro.fullConfig.hiddenSize
            ? ModelNames.pro
            : config.hiddenSize == CheckpointPreset.flash.fullConfig.hiddenSize ? ModelNames.flash : loaded.directory.lastPathComponent
        if let limit = loaded.defaultMaxTokens {
            printError(DefaultModelCache.notice(limitsAnswers: false) + " Requests without max_tokens stop after \(limit) tokens.")
        }
        let description = Description(
            model: loaded.isDefaultModel ? "default model (tiny random weights)" : loaded.directory.path, servedName: servedName,
            kvBudget: "≤ \(byteText(perSlot)) per slot, \(byteText(perSlot * parallel)) for \(parallel)")
        return (loaded.engine, description, loaded.defaultMaxTokens)
    }

    /// Replay needs no context limit; this is DeepSeek V4's.
    static let replayContext = 1_048_576
}
