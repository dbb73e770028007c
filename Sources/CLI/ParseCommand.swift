// ParseCommand.swift
//
// `narwhal parse`: completions parsed into assistant messages, for comparison with the official
// parser. Each input line is `{"text": …, "thinking_mode": …}` (other keys are ignored, so the golden
// file parse.jsonl can be fed as is); each output line is `{"result": {"role", "content",
// "reasoning_content", "tool_calls"}}` with OpenAI-style tool calls (`arguments` as a JSON string),
// or `{"error": {"type": …, "message": …}}`.

import ArgumentParser
import Tokenizers

struct ParseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Parse model completions (reasoning, content, tool calls) from JSON lines.")

    @Option(name: .long, help: "Input file, one {\"text\", \"thinking_mode\"} object per line ('-' for stdin).")
    var jsonl: String

    func run() async throws {
        try JSONLines.process(jsonl) { line throws(ChatFormatError) in
            guard case .object(let fields) = line else {
                throw ChatFormatError(.typeError, "each line must be a JSON object with 'text' and 'thinking_mode'")
            }
            guard let text = fields["text"], let mode = fields["thinking_mode"] else {
                throw ChatFormatError(.keyError, "each line needs 'text' and 'thinking_mode'")
            }
            guard case .string(let completion) = text else {
                throw ChatFormatError(.typeError, "'text' must be a string, not \(text.pythonTypeName)")
            }
            // Like the official parser, any mode other than the string "thinking" reads as chat.
            let thinkingMode = ThinkingMode(rawValue: mode.stringValue ?? mode.serialized())
            let parsed = try CompletionParser.parse(text: completion, thinkingMode: thinkingMode)
            return ["result": parsed.officialJSON]
        }
    }
}
