// Loading a model for the commands that generate (chat, run, serve): resolve the directory (or the
// default model), check what people get wrong before anything heavy happens, print a one-line summary,
// page the weights in with a progress bar, and hand back an Engine.
//
// Without `--model`, every model command uses the default model: a tiny random-weight DeepSeek V4 with
// the full vocabulary, generated on first use into the user's cache directory (a few seconds, once) with
// the bundled tokenizer files copied next to it. It lets every command run on a fresh machine; its
// answers are noise, and the commands say so.
//
// Order matters for the user's time: every check that can fail (directory, config, weight files,
// tokenizer, RAM) runs on headers and file sizes only, before the first weight page is read. The
// estimate compares the weights' bytes with physical memory: weights are memory-mapped, so a model that
// does not fit is "loaded" at once and then reads the disk for every token, which looks like a hang.
// `--no-memory-check` skips the refusal for people who know what they are doing.

import ArgumentParser
import DeepSeekV4
import Foundation
import Generation
import Logging
import Tokenizers
import Weights

struct ModelOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Checkpoint directory: config.json, the *.safetensors shards and tokenizer.json, as published on Hugging Face.",
            discussion: "Default: a tiny random-weight test model, generated on first use into the cache directory.",
            valueName: "dir"))
    var model: String?

    /// The checkpoint directory to use: `--model`, or the default model (generated if needed).
    func directory() throws -> URL {
        if let model { return URL(fileURLWithPath: (model as NSString).expandingTildeInPath, isDirectory: true) }
        return try DefaultModelCache.ensure()
    }
}

/// Where the default model lives and how it gets there.
enum DefaultModelCache {
    /// The default model's directory name inside the cache directory (versioned by the generator).
    static var directoryName: String { DefaultModel.directoryName }

    /// Narwhal's cache directory: `$NARWHAL_CACHE_DIR`, else `$XDG_CACHE_HOME/narwhal`, else
    /// `~/.cache/narwhal`.
    static var cacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let dir = environment["NARWHAL_CACHE_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: (dir as NSString).expandingTildeInPath, isDirectory: true)
        }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("narwhal", isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/narwhal", isDirectory: true)
    }

    /// The default model's directory, generated first if it is not there yet.
    static func ensure() throws -> URL {
        let directory = cacheDirectory.appendingPathComponent(directoryName, isDirectory: true)
        let stderr = TerminalStream.standardError
        if !FileManager.default.fileExists(atPath: directory.path) {
            stderr.write(stderr.styledText(
                "Generating the default model (a tiny random-weight DeepSeek V4, once) into \(directory.path)…", .dim) + "\n")
        }
        do {
            return try DefaultModel.ensure(at: directory, tokenizerDirectory: try ModelLoader.bundledTokenizerDirectory())
        } catch {
            throw CLIError.defaultModel(directory: directory.path, reason: "\(error)")
        }
    }

    /// Answer length on the default model unless --max-tokens says otherwise: random weights almost
    /// never produce the end-of-sentence token, so an answer would otherwise run to the end of the context.
    static let answerTokenLimit = 256

    /// Says what the default model is and how to use a real one; `limitsAnswers` adds that answers are
    /// cut at ``answerTokenLimit`` tokens.
    static func notice(limitsAnswers: Bool) -> String {
        "This is Narwhal's default model: a tiny DeepSeek V4 with random weights, for trying the commands. Its "
            + "answers are noise" + (limitsAnswers ? " and stop after \(answerTokenLimit) tokens (--max-tokens to change)" : "")
            + ". To chat with DeepSeek V4, download the official checkpoint (every file of "
            + "deepseek-ai/DeepSeek-V4-Flash or -Pro on Hugging Face) and pass its directory with --model DIR."
    }
}

/// Prints to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// `--model` and the loading switches of the generating commands.
struct ModelLoadingOptions: ParsableArguments {
    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .customLong("no-memory-check"), help: "Load even when the weights look larger than this machine's memory.")
    var noMemoryCheck = false

    @OptionGroup(title: "Prefix cache") var prefixCache: PrefixCacheOptions
}

/// A model ready to generate, and what the front ends say about it.
struct LoadedModel {
    let engine: Engine<DeepSeekV4Model>
    let directory: URL
    /// True for the random-weight default model.
    let isDefaultModel: Bool
    /// The one-line summary printed at start.
    let summary: String

    var model: DeepSeekV4Model { engine.model }

    /// The answer length when the user gives none: bounded on the random-weight default model only.
    var defaultMaxTokens: Int? { isDefaultModel ? DefaultModelCache.answerTokenLimit : nil }
}

enum ModelLoader {
    /// The shortest context worth serving.
    static let minimumContext = 1024

    /// Bytes of KV cache one slot may use out of `free` bytes: a tenth stays for working memory, and each slot
    /// is counted twice because its snapshots (copy-on-write) can come to a second full copy.
    static func kvBudget(free: Int, parallel: Int) -> Int { free / 10 * 9 / (2 * max(1, parallel)) }

    /// The official DeepSeek V4 vocabulary size, shared by Flash and Pro (and the default model), for
    /// which the bundled tokenizer is the right one.
    static let officialVocabularySize = 129_280

    /// Loads the model `options` name (or the default model), with the context limit `contextSize`, into
    /// an engine with `parallel` slots and room for `queueLimit` waiting requests (the server's).
    /// Notes and the summary go to stderr.
    static func load(
        _ options: ModelLoadingOptions, contextSize: Int?, parallel: Int = 1, queueLimit: Int = 16,
        logger: Logger = PrefixCacheOptions.standardErrorLogger
    ) throws -> LoadedModel {
        let stderr = TerminalStream.standardError
        let isDefault = options.modelOptions.model == nil
        let directory = try options.modelOptions.directory()
        try checkDirectory(directory)

        let inventory = try ModelInventory.load(directory: directory)
        guard let checkpoint = inventory.checkpoint else { throw LoadingError.noWeights(directory: directory.path) }
        if let error = checkpoint.comparison.error { throw LoadingError.checkpointMismatch(directory: directory.path, error) }
        let config = inventory.config
        if let contextSize, contextSize > config.maxPositionEmbeddings {
            throw LoadingError.contextBeyondModel(requested: contextSize, limit: config.maxPositionEmbeddings)
        }

        let tokenizer = try loadTokenizer(directory: directory, config: config, notes: stderr)

        let memory = SystemMemory.current
        let weightBytes = inventory.usedWeightBytes
        if weightBytes > memory.physical && !options.noMemoryCheck {
            throw LoadingError.notEnoughMemory(weights: weightBytes, physical: memory.physical)
        }
        let model = try DeepSeekV4Model(directory: directory)
        var context = contextSize ?? config.maxPositionEmbeddings
        // Bound the context so that every slot's KV cache fits beside the weights: a long request then ends
        // at the context limit (a clear error or finish reason) instead of the machine running out of memory.
        var limitedByMemory = false
        if !options.noMemoryCheck, weightBytes < memory.available {
            let budget = kvBudget(free: memory.available - weightBytes, parallel: parallel)
            let fitted = model.largestContext(fittingKVBytes: budget, upTo: context)
            guard fitted >= min(Self.minimumContext, context) else {
                throw LoadingError.notEnoughMemoryForKV(free: memory.available - weightBytes, perToken: model.kvBytes(context: 1024) / 1024)
            }
            limitedByMemory = fitted < context
            context = fitted
        }
        model.maxContext = context
        let kvBytes = model.kvBytes(context: context)

        let parameters = inventory.parameters
        var parts = [
            isDefault ? "default model (tiny random-weight test model)" : "model \(directory.lastPathComponent)",
            "\(paramText(parameters.total)) params (\(paramText(parameters.active)) active)",
            "weights \(byteText(weightBytes))",
            "KV (\(model.cacheFormat.rawValue)) ≤ \(byteText(kvBytes)) at \(grouped(context)) tokens" + (parallel > 1 ? " per slot" : ""),
        ]
        parts.append("RAM \(byteText(memory.available)) free of \(byteText(memory.physical))")
        let summary = parts.joined(separator: " · ")
        stderr.write(stderr.styledText(summary, .dim) + "\n")
        if weightBytes > memory.physical {
            stderr.write(warning("the weights are larger than this machine's memory; expect every token to read the disk", stderr))
        } else if limitedByMemory {
            stderr.write(stderr.styledText(
                "note: context limited to \(grouped(context)) tokens so that \(parallel) slot(s) of KV cache fit in free memory; "
                    + "longer requests get a context-length error (--no-memory-check lifts the limit)", .dim) + "\n")
        }

        if weightBytes < memory.available {
            // Paging in a model that does not fit would only push out the pages just read.
            let bar = ProgressBar(label: "loading weights", unit: .bytes)
            model.prefaultWeights { done, total in bar.update(done, of: total) }
            bar.finish()
        }
        let prefixCache = try options.prefixCache.open(for: model, logger: logger)
        if let prefixCache {
            stderr.write(stderr.styledText(
                "prefix cache: \(prefixCache.directory.path), \(byteText(prefixCache.storedBytes)) in "
                    + "\(prefixCache.storedPrefixLengths.count) state(s), budget \(byteText(prefixCache.budgetBytes))", .dim) + "\n")
        }
        return LoadedModel(
            engine: Engine(model: model, tokenizer: tokenizer, parallel: parallel, queueLimit: queueLimit, prefixCache: prefixCache),
            directory: directory, isDefaultModel: isDefault,
            summary: summary)
    }

    /// The directory exists and has a config.json; otherwise says what a checkpoint directory holds.
    static func checkDirectory(_ directory: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw LoadingError.missingDirectory(directory.path)
        }
        guard isDirectory.boolValue else { throw LoadingError.notADirectory(directory.path) }
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path) else {
            throw LoadingError.noConfig(directory: directory.path)
        }
    }

    /// The checkpoint's tokenizer.json, or the bundled official one when the checkpoint has none and its
    /// vocabulary is the official one (the tokenizer is the same for Flash and Pro).
    static func loadTokenizer(directory: URL, config: DeepSeekV4Config, notes: TerminalStream) throws -> BPETokenizer {
        let tokenizer: BPETokenizer
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path) {
            tokenizer = try BPETokenizer(directory: directory)
        } else if config.vocabSize == officialVocabularySize {
            tokenizer = try BPETokenizer(directory: try bundledTokenizerDirectory())
            notes.write(notes.styledText(
                "note: no tokenizer.json in \(directory.path); using the bundled official DeepSeek V4 tokenizer "
                    + "(identical for Flash and Pro)", .dim) + "\n")
        } else {
            throw LoadingError.noTokenizer(directory: directory.path, vocabularySize: config.vocabSize)
        }
        // The chat format's special tokens have ids above 128,000: a smaller vocabulary cannot chat.
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw LoadingError.vocabularyMismatch(tokenizer: tokenizer.vocabularySize, model: config.vocabSize)
        }
        return tokenizer
    }

    /// The official DeepSeek V4 tokenizer files shipped as a resource of the executable.
    static func bundledTokenizerDirectory() throws -> URL {
        guard let resources = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw CLIError.missingResource("Resources/tokenizer")
        }
        return resources.appendingPathComponent("tokenizer", isDirectory: true)
    }

    private static func warning(_ text: String, _ stream: TerminalStream) -> String {
        stream.styledText("warning: ", .yellow) + text + "\n"
    }
}

/// Physical and available memory, from /proc/meminfo where there is one.
struct SystemMemory {
    var physical: Int
    /// Memory the kernel can hand out without swapping (MemAvailable), or the physical memory when unknown.
    var available: Int

    static var current: SystemMemory {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        var available = physical
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            available = kilobytes * 1024
        }
        return SystemMemory(physical: physical, available: min(available, physical))
    }
}

/// Problems people hit when pointing Narwhal at a model, each with what to do.
enum LoadingError: Error, CustomStringConvertible {
    case missingDirectory(String)
    case notADirectory(String)
    case noConfig(directory: String)
    case noWeights(directory: String)
    case checkpointMismatch(directory: String, WeightsError)
    case noTokenizer(directory: String, vocabularySize: Int)
    case vocabularyMismatch(tokenizer: Int, model: Int)
    case notEnoughMemory(weights: Int, physical: Int)
    case contextBeyondModel(requested: Int, limit: Int)
    case notEnoughMemoryForKV(free: Int, perToken: Int)

    static let downloadHint =
        "download every file of deepseek-ai/DeepSeek-V4-Flash (or -Pro) from Hugging Face into one directory and pass it with --model DIR"

    var description: String {
        switch self {
        case .missingDirectory(let path):
            "the model directory '\(path)' does not exist; hint: \(Self.downloadHint)"
        case .notADirectory(let path):
            "'\(path)' is a file, not a directory; hint: pass the directory that holds config.json and the *.safetensors files"
        case .noConfig(let directory):
            "'\(directory)' has no config.json, so it is not a checkpoint directory (or the download is incomplete); "
                + "hint: \(Self.downloadHint)"
        case .noWeights(let directory):
            "'\(directory)' has config.json but no weights (model.safetensors.index.json and its shards); "
                + "hint: the download is incomplete — \(Self.downloadHint)"
        case .checkpointMismatch(let directory, let error):
            "the checkpoint in '\(directory)' is incomplete or does not match its config.json: \(error)"
        case .noTokenizer(let directory, let vocabularySize):
            "'\(directory)' has no tokenizer.json, and its vocabulary (\(grouped(vocabularySize)) ids) is not the "
                + "official 129,280, so the bundled DeepSeek V4 tokenizer does not fit; "
                + "hint: copy the tokenizer.json (and tokenizer_config.json) that belongs to these weights into it"
        case .vocabularyMismatch(let tokenizer, let model):
            "the tokenizer has \(grouped(tokenizer)) ids but the model only \(grouped(model)); the chat format's special "
                + "tokens would be out of range; hint: use a checkpoint with the full DeepSeek V4 vocabulary "
                + "(the default model has it: leave out --model)"
        case .notEnoughMemory(let weights, let physical):
            "the weights need \(byteText(weights)) but this machine has \(byteText(physical)) of memory: every token "
                + "would read the disk (minutes per token); hint: use a machine with more RAM, "
                + "or pass --no-memory-check to load anyway"
        case .notEnoughMemoryForKV(let free, let perToken):
            "after the weights, \(byteText(free)) of memory are free: not enough KV cache (about \(perToken) bytes per token) "
                + "for \(ModelLoader.minimumContext) tokens; hint: fewer --parallel slots, or --no-memory-check to try anyway"
        case .contextBeyondModel(let requested, let limit):
            "--ctx \(grouped(requested)) is longer than the model's max_position_embeddings (\(grouped(limit))); "
                + "hint: use --ctx \(limit) or less"
        }
    }
}
