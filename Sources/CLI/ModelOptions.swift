// `--model DIR` for every command that loads a model, and the default model used without it: a tiny
// random-weight DeepSeek V4 with the full vocabulary, generated on first use into the user's cache
// directory (a few seconds, once) with the bundled tokenizer files copied next to it. It lets every
// command run on a fresh machine; its answers are noise, and the commands say so.

import ArgumentParser
import DeepSeekV4
import Foundation

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
