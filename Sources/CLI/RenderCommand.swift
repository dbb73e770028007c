// RenderCommand.swift
//
// `narwhal render`: chat prompts from JSON lines, for comparison with the official encoder. Each input
// line holds the keyword arguments of the official `encode_messages(...)` (`messages`,
// `thinking_mode`, and optionally `reasoning_effort`, `drop_thinking`, `add_default_bos_token`,
// `context`), i.e. the `input` objects of the chat golden file encode.jsonl. Each output line is
// `{"prompt": …, "ids": […]}` or `{"error": {"type": …, "message": …}}`.

import ArgumentParser
import Foundation
import Tokenizers

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render chat prompts (text and token ids) from JSON lines of encoder arguments.")

    @Option(name: .long, help: "Directory with tokenizer.json and tokenizer_config.json (a checkpoint works).")
    var model: String?

    @Option(name: .long, help: "Input file, one JSON object of encode_messages arguments per line ('-' for stdin).")
    var jsonl: String

    func run() async throws {
        let tokenizer = try loadTokenizer()
        try JSONLines.process(jsonl) { arguments throws(ChatFormatError) in
            let conversation = try Conversation(encoderArguments: arguments)
            let prompt = try DeepSeekV4ChatFormat.encode(conversation)
            return ["prompt": .string(prompt), "ids": .array(tokenizer.encode(prompt).map { .integer(String($0)) })]
        }
    }

    /// The tokenizer of `--model`, or the one bundled with the executable.
    private func loadTokenizer() throws -> BPETokenizer {
        if let model {
            return try BPETokenizer(directory: URL(fileURLWithPath: model))
        }
        guard let bundled = Bundle.module.resourceURL?.appendingPathComponent("Resources/tokenizer"),
            FileManager.default.fileExists(atPath: bundled.appendingPathComponent("tokenizer.json").path)
        else {
            throw ValidationError(
                "this build has no bundled tokenizer; pass --model DIR (a folder with tokenizer.json)")
        }
        return try BPETokenizer(directory: bundled)
    }
}
