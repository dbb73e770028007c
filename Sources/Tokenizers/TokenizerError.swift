// Errors from loading tokenizer files. Each case names the file and the JSON path involved, and each message ends
// with what to check. Loading either succeeds with a tokenizer that reproduces the reference exactly, or throws one
// of these: a tokenizer.json whose pipeline differs from DeepSeek V4's is rejected, never approximated.

import Foundation

/// Why a tokenizer could not be loaded.
public enum TokenizerError: Error, CustomStringConvertible, Sendable {
    /// A required file does not exist.
    case missingFile(URL)
    /// A file exists but could not be read.
    case unreadableFile(URL, reason: String)
    /// A file is not valid JSON; `line` and `column` are 1-based.
    case malformedJSON(URL, line: Int, column: Int, reason: String)
    /// A required member is absent, e.g. `model.vocab`.
    case missingField(URL, path: String)
    /// A member has the wrong type or an impossible value.
    case invalidField(URL, path: String, expected: String)
    /// A member has a valid value that this implementation does not reproduce.
    case unsupported(URL, path: String, found: String, supported: String)
    /// The vocabulary, merges and added tokens contradict each other.
    case inconsistentVocabulary(URL, detail: String)

    public var description: String {
        switch self {
        case .missingFile(let url):
            "\(url.path) not found; hint: pass the directory that holds tokenizer.json "
                + "(a DeepSeek V4 checkpoint directory works)."
        case .unreadableFile(let url, let reason):
            "cannot read \(url.path): \(reason); hint: check the file's permissions and that it is a regular file."
        case .malformedJSON(let url, let line, let column, let reason):
            "\(url.path) is not valid JSON (line \(line), column \(column)): \(reason); "
                + "hint: the file may be truncated or a Git LFS pointer; download it again."
        case .missingField(let url, let path):
            "\(url.path) has no '\(path)'; hint: is this a Hugging Face tokenizers file (format 1.0)?"
        case .invalidField(let url, let path, let expected):
            "'\(path)' in \(url.path) should be \(expected); hint: the file may be damaged; download it again."
        case .unsupported(let url, let path, let found, let supported):
            "'\(path)' in \(url.path) is \(found), but only \(supported) is supported; "
                + "hint: this tokenizer implements the DeepSeek V4 tokenizer.json exactly; use that file."
        case .inconsistentVocabulary(let url, let detail):
            "\(url.path): \(detail); hint: the vocabulary and merges do not belong together; "
                + "use the tokenizer.json shipped with the checkpoint."
        }
    }

    /// A malformed-JSON error with the byte offset of a syntax error turned into a line and column.
    static func malformedJSON(_ url: URL, bytes: [UInt8], error: TokenizerJSON.SyntaxError) -> TokenizerError {
        var line = 1
        var lineStart = 0
        for index in 0..<min(error.offset, bytes.count) where bytes[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        return .malformedJSON(url, line: line, column: error.offset - lineStart + 1, reason: error.reason)
    }
}
