// `narwhal run "prompt"`: one question, one answer, for scripts and quick checks. The answer streams to
// stdout; reasoning goes to stderr (dim on a terminal) unless --show-reasoning puts it on stdout before
// the answer; the loading summary and a line of figures go to stderr. With --json, stdout gets only the
// final message as one JSON object (content, reasoning, tool calls, finish reason, usage).
//
// Without a prompt argument, the prompt is read from standard input (all of it), so
// `narwhal run < question.txt` and `cat notes | narwhal run` work.

import ArgumentParser
import Foundation
import Generation
import Tokenizers

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Answer one prompt and exit.",
        discussion: "Without a prompt argument the prompt is read from standard input. Without --model, a tiny random-weight test model is used.")

    @OptionGroup(title: "Model") var loading: ModelLoadingOptions
    @OptionGroup(title: "Generation") var generation: GenerationFlags

    @Argument(help: "The prompt (default: standard input).")
    var prompt: String?

    @Flag(name: .customLong("show-reasoning"), help: "Print the reasoning on stdout before the answer (default: stderr).")
    var showReasoning = false

    @Flag(help: "Print only the final message, as one JSON object, on stdout.")
    var json = false

    func run() async throws {
        let mode = try generation.reasoningMode
        let text = try readPrompt()
        let loaded = try ModelLoader.load(loading, contextSize: generation.contextSize)
        let stderr = TerminalStream.standardError
        if loaded.isDefaultModel {
            let notice = DefaultModelCache.notice(limitsAnswers: generation.maxTokens == nil)
            stderr.write(stderr.styledText(notice, .yellow) + "\n")
        }
        if let warning = mode.contextWarning(contextLimit: loaded.engine.contextLimit) {
            stderr.write(stderr.styledText("warning: ", .yellow) + warning + "\n")
        }

        var conversation = Conversation(
            messages: (generation.system.map { [Message(role: .system, text: $0)] } ?? []) + [Message(role: .user, text: text)])
        conversation.reasoningMode = mode
        let options = generation.options(defaultMaxTokens: loaded.defaultMaxTokens)
        let stream = loaded.engine.generate(conversation, options: options, session: "run")

        let stdout = TerminalStream.standardOutput
        let printer = ReplyPrinter(
            thinkingMode: conversation.thinkingMode, display: .show, content: json ? stderr : stdout,
            reasoning: showReasoning && !json ? stdout : stderr)
        var reply = Reply(thinkingMode: conversation.thinkingMode)
        for try await event in stream {
            if json {
                // Only the prefill bar is shown; the text arrives in the JSON object at the end.
                reply.record(event)
                if case .prefill = event { printer.handle(event) }
            } else {
                printer.handle(event)
            }
        }
        printer.finish()
        if json {
            stdout.write(reply.json.serialized() + "\n")
        } else {
            reply = printer.reply
        }
        stderr.write(stderr.styledText(reply.statsLine, .dim) + "\n")
        // The next run with the same --cache-dir finds this prompt and answer.
        loaded.engine.prefixCache?.waitForWrites()
    }

    /// The prompt argument, or all of standard input.
    private func readPrompt() throws -> String {
        let text: String
        if let prompt {
            text = prompt
        } else {
            guard !standardInputIsTerminal else {
                throw ValidationError("give a prompt: narwhal run \"Why is the sky blue?\" (or pipe one into narwhal run)")
            }
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ValidationError("the prompt is empty") }
        return trimmed
    }
}
