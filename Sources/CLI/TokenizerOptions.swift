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
            guard let resources = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
                throw CLIError.missingResource("Resources/tokenizer")
            }
            return resources.appendingPathComponent("tokenizer", isDirectory: true)
        }
    }

    func loadTokenizer() throws -> BPETokenizer {
        try BPETokenizer(directory: directory)
    }
}

/// Problems the command-line front end reports itself (library errors carry their own messages).
enum CLIError: Error, CustomStringConvertible {
    case missingResource(String)
    case invalidInput(String)
    case idOutOfRange(Int, vocabularySize: Int)
    case benchmarkMismatch(String)

    var description: String {
        switch self {
        case .missingResource(let name):
            "the bundled resource \(name) is missing next to the narwhal executable; "
                + "hint: pass --model DIR, or reinstall narwhal together with its resource bundle."
        case .invalidInput(let message):
            message
        case .idOutOfRange(let id, let size):
            "token id \(id) is out of range; the vocabulary has ids 0..<\(size). "
                + "hint: were these ids produced by a different tokenizer?"
        case .benchmarkMismatch(let message):
            message
        }
    }
}
