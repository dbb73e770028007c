// `narwhal chat`: interactive multi-turn chat. The loop reads a line, treats it as a slash command or a
// user message, and streams the answer. Every turn hands the engine the whole conversation; its session
// keeps the KV cache of the previous turn, so only the new tokens are computed.
//
// On a terminal: a prompt, dim reasoning, a line of figures after each answer, Ctrl-C stops the answer
// (at the prompt it says how to leave). With piped input: each line is one user message (slash commands
// work too), no prompt and no colours, answers alone on stdout and everything else on stderr; the chat
// ends at end of input.
//
// Ctrl-C cancels the task that reads the answer's events: reading stops at once and the engine stops
// generating before its next token (a prefill under way finishes in the background). The stopped turn
// stays in the history as far as it got, even when no text came yet: the model then sees what the user
// saw, and the next prompt still extends what the session holds, so its cache stays useful (a prompt
// that departs from the held tokens early would be computed again from the start).

import ArgumentParser
import DeepSeekV4
import Foundation
import Generation
import Tokenizers

extension ReasoningDisplay: ExpressibleByArgument {}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with the model, turn by turn (type /help inside for commands).",
        discussion: """
            Reads messages from the terminal, or one message per line from piped input. Slash commands: \
            \(SlashCommand.summaries.map(\.usage).joined(separator: ", ")). Ctrl-C stops an answer; /quit or \
            Ctrl-D leaves. Without --model, a tiny random-weight test model is used.
            """)

    @OptionGroup(title: "Model") var loading: ModelLoadingOptions
    @OptionGroup(title: "Generation") var generation: GenerationFlags

    @Option(name: .customLong("reasoning"), help: "How reasoning is shown: show, hide or collapse (one line).")
    var reasoningDisplay: ReasoningDisplay = .show

    func run() async throws {
        let mode = try generation.reasoningMode
        let loaded = try ModelLoader.load(loading, contextSize: generation.contextSize)
        let chat = ChatLoop(
            loaded: loaded, flags: generation,
            transcript: ChatTranscript(systemPrompt: generation.system, reasoningMode: mode), display: reasoningDisplay)
        await chat.run()
        // States saved during the chat are written in the background; finish them before exiting.
        loaded.engine.prefixCache?.waitForWrites()
    }
}

/// The read–answer loop of `narwhal chat`.
final class ChatLoop {
    private let engine: Engine<DeepSeekV4Model>
    private let loaded: LoadedModel
    private let flags: GenerationFlags
    private var transcript: ChatTranscript
    private var display: ReasoningDisplay
    private let interactive = standardInputIsTerminal
    private let output = TerminalStream.standardOutput
    /// Notes, figures and errors: the terminal when interactive, stderr when piped (stdout keeps the answers).
    private let notes: TerminalStream
    private let sessionID = "chat"

    // Figures for /stats.
    private var lastReply: Reply?
    private var answers = 0
    private var computedPromptTokens = 0
    private var cachedPromptTokens = 0
    private var generatedTokens = 0

    init(loaded: LoadedModel, flags: GenerationFlags, transcript: ChatTranscript, display: ReasoningDisplay) {
        self.loaded = loaded
        engine = loaded.engine
        self.flags = flags
        self.transcript = transcript
        self.display = display
        notes = interactive ? .standardOutput : .standardError
    }

    func run() async {
        let interactive = interactive
        let output = output
        let prompt = promptText
        // Ctrl-C at the prompt (no answer running): a reminder on a terminal; piped, it ends the chat.
        let interrupts = InterruptHandler {
            guard interactive else { exit(130) }
            output.write("\n" + output.styledText("(Ctrl-C stops an answer; to leave, type /quit or press Ctrl-D)", .dim) + "\n" + prompt)
        }
        if loaded.isDefaultModel { note(DefaultModelCache.notice(limitsAnswers: flags.maxTokens == nil), .yellow) }
        if interactive {
            note("Chatting in \(transcript.reasoningMode.displayName) mode. /help lists the commands; "
                + "Ctrl-C stops an answer; /quit or Ctrl-D leaves.")
        }
        warnAboutContext()

        while true {
            if interactive { output.write(prompt) }
            guard let line = readLine(strippingNewline: true) else {
                if interactive { output.write("\n") }
                return
            }
            let input: ChatInput
            do {
                input = try ChatInput(parsing: line)
            } catch {
                note("\(error)", .red)
                continue
            }
            switch input {
            case .message(let text):
                if !text.isEmpty { await answer(text, interrupts: interrupts) }
            case .command(let command):
                if !perform(command) { return }
            }
        }
    }

    private var promptText: String { output.styledText(">>> ", .bold) }

    // MARK: Answering

    private func answer(_ text: String, interrupts: InterruptHandler) async {
        if engine.isBusy(session: sessionID) {
            // An answer stopped during its prefill finishes that prefill first (its tokens are reused).
            note("(finishing the previous prompt first…)")
            await engine.waitUntilIdle(session: sessionID)
        }
        transcript.messages.append(Message(role: .user, text: text))
        let conversation = transcript.conversation
        // Known up front so that an answer stopped by Ctrl-C still reports its prompt and cache use.
        let promptTokens = try? engine.promptTokens(conversation).count
        // Live token counts cost a log-sum-exp over the vocabulary per token: only the collapsed
        // reasoning line shows them, so only it asks for them.
        let options = flags.options(perTokenEvents: display == .collapse, defaultMaxTokens: loaded.defaultMaxTokens)
        let stream = engine.generate(conversation, options: options, session: sessionID)
        let display = display
        let output = output
        let reader = Task { () async throws -> Reply in
            let printer = ReplyPrinter(
                thinkingMode: conversation.thinkingMode, promptTokens: promptTokens, display: display, content: output,
                reasoning: output)
            // A cancelled reader gets no more events: the loop ends early and the reply stays incomplete.
            do {
                for try await event in stream { printer.handle(event) }
            } catch {
                printer.finish()
                throw error
            }
            printer.finish()
            var reply = printer.reply
            reply.stop()
            return reply
        }
        do {
            let reply = try await interrupts.whileRunning(onInterrupt: { reader.cancel() }) { try await reader.value }
            record(reply)
            if reply.finishReason == nil { note("[stopped]") }
            transcript.messages.append(reply.message)
            note(reply.statsLine)
        } catch let error as GenerationError {
            transcript.messages.removeLast()
            var message = "\(error)"
            if case .contextTooLong = error { message += "; or type /reset to start a new conversation" }
            note("error: " + message, .red)
        } catch {
            transcript.messages.removeLast()
            note("error: \(error)", .red)
        }
    }

    private func record(_ reply: Reply) {
        lastReply = reply
        answers += 1
        generatedTokens += reply.tokenCount
        if let usage = reply.usage {
            cachedPromptTokens += usage.cachedPromptTokens
            computedPromptTokens += usage.promptTokens - usage.cachedPromptTokens
        } else if let prefill = reply.prefill, let prompt = reply.promptTokens {
            // Stopped without token counts: the prefill still says what was computed.
            cachedPromptTokens += prompt - prefill.total
            computedPromptTokens += prefill.total
        }
    }

    // MARK: Commands

    /// Carries out a command; false means leave.
    private func perform(_ command: SlashCommand) -> Bool {
        switch command {
        case .quit:
            return false
        case .help:
            let width = SlashCommand.summaries.map(\.usage.count).max() ?? 0
            for (usage, summary) in SlashCommand.summaries {
                note("  " + usage.padding(toLength: width + 2, withPad: " ", startingAt: 0) + summary)
            }
            note("  Start a message with // to send a leading /. Ctrl-C stops an answer.")
        case .mode(let mode):
            transcript.reasoningMode = mode
            note("reasoning mode: \(mode.displayName)")
            warnAboutContext()
        case .reasoning(let choice):
            if let choice { display = choice }
            note("reasoning is \(display == .show ? "shown" : display == .hide ? "hidden" : "collapsed to one line")")
        case .reset:
            transcript.reset()
            engine.reset(session: sessionID)
            note("conversation cleared" + (transcript.systemPrompt == nil ? "" : " (the system prompt stays)"))
        case .system(let text):
            transcript.systemPrompt = text
            note(text == nil ? "system prompt cleared" : "system prompt set; it applies from the next answer")
        case .save(let path):
            do {
                try transcript.write(to: fileURL(path))
                note("saved \(transcript.messages.count) message(s) to \(path)")
            } catch {
                note("error: \(error)", .red)
            }
        case .load(let path):
            do {
                transcript = try ChatTranscript.read(from: fileURL(path), currentMode: transcript.reasoningMode)
                var summary = "loaded \(transcript.messages.count) message(s) from \(path); "
                    + "mode \(transcript.reasoningMode.displayName)"
                if transcript.systemPrompt != nil { summary += ", with a system prompt" }
                note(summary)
                warnAboutContext()
            } catch {
                note("error: \(error)", .red)
            }
        case .stats:
            showStats()
        }
        return true
    }

    private func fileURL(_ path: String) -> URL {
        URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
    }

    private func showStats() {
        let limit = engine.contextLimit
        func line(_ label: String, _ value: String) {
            note("  " + label.padding(toLength: 13, withPad: " ", startingAt: 0) + value)
        }
        if let reply = lastReply, let usage = reply.usage {
            let held = usage.promptTokens + usage.completionTokens
            line("context", "\(grouped(held)) of \(grouped(limit)) tokens after the last answer "
                + "(prompt \(grouped(usage.promptTokens)) + answer \(grouped(usage.completionTokens)))")
        } else {
            line("context", "limit \(grouped(limit)) tokens")
        }
        // The history as the next turn renders it: with a user message after it, the reasoning of the
        // earlier answers is left out.
        var next = transcript.conversation
        next.messages.append(Message(role: .user, text: ""))
        if !transcript.messages.isEmpty, let history = try? engine.promptTokens(next) {
            line("next prompt", "\(grouped(history.count)) tokens before your message")
        }
        if let reply = lastReply {
            line("last answer", reply.statsLine)
            let speed = reply.speed()
            let prefill = speed.prefillTokensPerSecond.map { "\(decimal($0)) tok/s" } ?? "nothing computed"
            let about = reply.isTokenCountExact ? "" : "≈"
            let decode = speed.decodeTokensPerSecond.map { "\(about)\(decimal($0)) tok/s" } ?? "–"
            line("speed", "prefill \(prefill) · decode \(decode)")
        }
        line("this chat", "\(answers) answer(s) · prompt tokens: \(grouped(cachedPromptTokens)) from the cache, "
            + "\(grouped(computedPromptTokens)) computed · \(grouped(generatedTokens)) generated")
        let s = flags.sampling
        var settings = "\(transcript.reasoningMode.displayName) · reasoning \(display.rawValue) · temperature \(s.temperature)"
            + " · top-p \(s.topP)"
        if s.topK > 0 { settings += " · top-k \(s.topK)" }
        if s.minP > 0 { settings += " · min-p \(s.minP)" }
        if let seed = s.seed { settings += " · seed \(seed)" }
        line("settings", settings)
        line("model", loaded.summary)
    }

    // MARK: Output

    private func warnAboutContext() {
        if let warning = transcript.reasoningMode.contextWarning(contextLimit: engine.contextLimit) {
            note("warning: " + warning, .yellow)
        }
    }

    /// A line for the user: dim (or in `style`) on a terminal; on stderr when input is piped.
    private func note(_ text: String, _ style: ANSIStyle = .dim) {
        notes.write(notes.styledText(text, style) + "\n")
    }
}
