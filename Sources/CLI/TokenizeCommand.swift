// `narwhal tokenize`: text → DeepSeek V4 token ids, or ids → text, for one input or a JSON Lines file.

import ArgumentParser
import Foundation
import Tokenizers

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Turn text into token ids, or token ids into text.",
        discussion: """
            Encoding never adds BOS/EOS; control tokens such as <｜User｜> written in the text become their ids.
            Decoding keeps special tokens and writes U+FFFD for ids that do not form valid UTF-8.

            With --jsonl, each input line {"text": ...} becomes one output line {"ids": [...]} (with --decode:
            {"ids": [...]} → {"text": ...}), in order. A line that cannot be processed yields
            {"error": {"type": ..., "message": ...}} and processing continues; the exit status is then 1.
            """)

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: .long, help: ArgumentHelp("Read JSON Lines from this file ('-' for standard input).", valueName: "file"))
    var jsonl: String?

    @Flag(name: .long, help: "Decode ids to text instead of encoding text.")
    var decode = false

    @Argument(
        help: ArgumentHelp(
            "The text to encode, or with --decode the ids (a JSON array or a comma-separated list).",
            discussion: "Read from standard input when omitted (all of it, including a final newline)."))
    var text: String?

    func validate() throws {
        if jsonl != nil, text != nil { throw ValidationError("give either TEXT or --jsonl, not both") }
    }

    func run() throws {
        let tokenizer = try tokenizerOptions.loadTokenizer()
        if let jsonl {
            let failures = try runJSONLines(path: jsonl, tokenizer: tokenizer)
            if failures > 0 {
                FileHandle.standardError.write(Data("narwhal tokenize: \(failures) line(s) failed\n".utf8))
                throw ExitCode.failure
            }
            return
        }
        let input = try text ?? Self.readStandardInput()
        if decode {
            // The exact text goes to pipes and files; a terminal also gets a newline so the prompt starts afresh.
            print(tokenizer.decode(try Self.parseIDs(input, tokenizer: tokenizer)), terminator: isatty(1) != 0 ? "\n" : "")
        } else {
            print(JSONLines.array(tokenizer.encode(input)))
        }
    }

    /// Processes every line; returns how many failed.
    private func runJSONLines(path: String, tokenizer: BPETokenizer) throws -> Int {
        var output = OutputBuffer()
        var failures = 0
        for line in try JSONLines.readLines(path: path) {
            switch processLine(line, tokenizer: tokenizer) {
            case .success(let result):
                output.writeLine(result)
            case .failure(let error):
                failures += 1
                output.writeLine(JSONLines.errorLine(type: error.type, message: error.message))
            }
        }
        output.flush()
        return failures
    }

    /// Why one JSON Lines record failed.
    private struct LineError: Error {
        var type: String
        var message: String
    }

    private func processLine(_ line: String, tokenizer: BPETokenizer) -> Result<String, LineError> {
        let object: [String: Any]
        switch JSONLines.parseObject(line) {
        case .success(let parsed): object = parsed
        case .failure(let error): return .failure(LineError(type: "invalid_json", message: error.description))
        }
        if decode {
            guard let values = object["ids"] as? [Any] else {
                return .failure(LineError(type: "missing_field", message: "expected {\"ids\": [...]}"))
            }
            var ids: [Int] = []
            for value in values {
                guard let id = value as? Int else {
                    return .failure(LineError(type: "invalid_id", message: "ids must be integers, found \(value)"))
                }
                guard id >= 0, id < tokenizer.vocabularySize else {
                    let error = CLIError.idOutOfRange(id, vocabularySize: tokenizer.vocabularySize)
                    return .failure(LineError(type: "invalid_id", message: error.description))
                }
                ids.append(id)
            }
            return .success("{\"text\": \(JSONLines.quoted(tokenizer.decode(ids)))}")
        }
        guard let text = object["text"] as? String else {
            return .failure(LineError(type: "missing_field", message: "expected {\"text\": \"...\"}"))
        }
        return .success("{\"ids\": \(JSONLines.array(tokenizer.encode(text)))}")
    }

    private static func readStandardInput() throws -> String {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let text = String(validating: data, as: UTF8.self) else {
            throw CLIError.invalidInput("standard input is not valid UTF-8")
        }
        return text
    }

    /// Ids written as a JSON array ("[1, 2]") or a list separated by commas and/or whitespace ("1,2" or "1 2").
    static func parseIDs(_ text: String, tokenizer: BPETokenizer) throws -> [Int] {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if body.hasPrefix("["), body.hasSuffix("]") { body = body.dropFirst().dropLast() }
        var ids: [Int] = []
        for field in body.split(whereSeparator: { $0 == "," || $0.isWhitespace }) {
            guard let id = Int(field) else {
                throw CLIError.invalidInput("'\(field)' is not a token id; expected a JSON array or a comma-separated list of integers")
            }
            guard id >= 0, id < tokenizer.vocabularySize else {
                throw CLIError.idOutOfRange(id, vocabularySize: tokenizer.vocabularySize)
            }
            ids.append(id)
        }
        return ids
    }
}
