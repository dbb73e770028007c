// Errors the command-line front end reports itself; library errors (e.g. `TokenizerError`) carry their own
// messages and pass through unchanged. swift-argument-parser prints `description` and exits with status 1.

/// Problems the command-line front end reports itself (library errors carry their own messages).
enum CLIError: Error, CustomStringConvertible {
    case missingResource(String)
    case invalidInput(String)
    case idOutOfRange(Int, vocabularySize: Int)
    case benchmarkMismatch(String)
    case defaultModel(directory: String, reason: String)

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
        case .defaultModel(let directory, let reason):
            "cannot prepare the default model in \(directory): \(reason); hint: set NARWHAL_CACHE_DIR to a writable "
                + "directory with 100 MB free, or pass --model DIR"
        }
    }
}
