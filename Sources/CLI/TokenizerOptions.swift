// `--model DIR` for the commands that need only the tokenizer, and where the tokenizer comes from without it.

import ArgumentParser
import Foundation
import Tokenizers

/// Options that locate tokenizer.json: a directory given with `--model`, or the DeepSeek V4 files bundled with
/// the `narwhal` executable.
struct TokenizerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Directory holding tokenizer.json (and tokenizer_config.json); a checkpoint directory works.",
            discussion: "Without it, the official DeepSeek V4 tokenizer files bundled with narwhal are used.",
            valueName: "dir"))
    var model: String?

    /// The directory the tokenizer is read from.
    var directory: URL {
        get throws {
            if let model { return URL(fileURLWithPath: model, isDirectory: true) }
            return try ModelLoader.bundledTokenizerDirectory()
        }
    }

    func loadTokenizer() throws -> BPETokenizer {
        try BPETokenizer(directory: directory)
    }
}
