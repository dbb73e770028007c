// ReplyPrinter: one answer's events, written to the terminal as they stream — shared by `chat` and
// `run`. Reasoning is shown distinctly: dim grey on a terminal; between `<think>` and `</think>` lines
// when it shares a plain stream with the answer (a pipe), so a reader can still tell the two apart; on
// its own stream (`run` sends it to stderr) as it is. It can also be hidden, or collapsed to one line
// that counts the tokens, live on a terminal.
//
// A long prefill shows a progress bar on stderr (terminals only) that disappears with the first token.

import Generation
import Tokenizers

final class ReplyPrinter {
    /// Prefills shorter than this many computed tokens finish too fast to need a bar.
    static let prefillBarThreshold = 128

    private(set) var reply: Reply
    private let display: ReasoningDisplay
    private let content: TerminalStream
    private let reasoningStream: TerminalStream
    private var prefillBar: ProgressBar?

    private enum Section { case none, reasoning, answer }
    private var section = Section.none
    /// The last character written to each stream, to end lines and sections cleanly.
    private var lastContentCharacter: Character = "\n"
    private var lastReasoningCharacter: Character = "\n"
    private var lastLiveUpdate: ContinuousClock.Instant?

    /// - Parameters:
    ///   - display: how reasoning is shown
    ///   - content: where the answer goes (stdout)
    ///   - reasoning: where reasoning goes (stdout, or stderr for `run`)
    ///   - promptTokens: the prompt's length, if known (usage of a reply stopped early)
    init(thinkingMode: ThinkingMode, promptTokens: Int? = nil, display: ReasoningDisplay, content: TerminalStream,
         reasoning: TerminalStream) {
        reply = Reply(thinkingMode: thinkingMode, promptTokens: promptTokens)
        self.display = display
        self.content = content
        reasoningStream = reasoning
    }

    private var sharesStream: Bool { content.descriptor == reasoningStream.descriptor }

    /// Takes in and shows the next event.
    func handle(_ event: GenerationEvent) {
        reply.record(event)
        switch event {
        case .prefill(let done, let total):
            if prefillBar == nil && total >= Self.prefillBarThreshold {
                prefillBar = ProgressBar(label: "prompt", unit: .tokens)
            }
            prefillBar?.update(done, of: total)
            return
        case .logprobs:
            endPrefill()
            if reply.isReasoning && display == .collapse { showLiveCount() }
            return
        default: endPrefill()
        }
        switch event {
        case .reasoning(let text):
            showReasoning(text)
        case .content(let text):
            enterAnswer()
            write(text)
        case .toolCall(let call):
            enterAnswer()
            if lastContentCharacter != "\n" { write("\n") }
            write(content.styledText("[tool call] \(call.name)(\(call.arguments))", .bold) + "\n")
        case .finish, .prefill, .logprobs, .stopSequence:
            break
        }
    }

    /// Closes the open section and the last line (after `.finish`, or when stopped early).
    func finish() {
        endPrefill()
        if section == .reasoning { closeReasoning() }
        if lastContentCharacter != "\n" { write("\n") }
    }

    // MARK: Sections

    private func endPrefill() {
        prefillBar?.finish()
        prefillBar = nil
    }

    private func showReasoning(_ text: String) {
        if section == .none {
            section = .reasoning
            if display == .show && sharesStream && !reasoningStream.styled { writeReasoning("<think>\n") }
        }
        switch display {
        case .show: writeReasoning(reasoningStream.styledText(text, .dim), last: text.last)
        case .collapse: showLiveCount()
        case .hide: break
        }
    }

    private func enterAnswer() {
        if section == .reasoning { closeReasoning() }
        section = .answer
    }

    private func closeReasoning() {
        switch display {
        case .show:
            if lastReasoningCharacter != "\n" { writeReasoning("\n") }
            if sharesStream {
                writeReasoning(reasoningStream.styled ? "\n" : "</think>\n\n")
            }
        case .collapse:
            let line = "[thought for \(grouped(reply.reasoningTokenCount)) tokens]"
            let clear = reasoningStream.isTerminal ? ANSIStyle.clearLine : ""
            writeReasoning(clear + reasoningStream.styledText(line, .dim) + "\n" + (sharesStream ? "\n" : ""))
        case .hide:
            break
        }
        section = .answer
    }

    /// "[thinking… N tokens]", redrawn in place on a terminal at most ten times a second.
    private func showLiveCount() {
        guard reasoningStream.isTerminal else { return }
        let now = ContinuousClock.now
        if let lastLiveUpdate, now - lastLiveUpdate < .milliseconds(100) { return }
        lastLiveUpdate = now
        let line = "[thinking… \(grouped(reply.reasoningTokenCount)) tokens]"
        reasoningStream.write(ANSIStyle.clearLine + reasoningStream.styledText(line, .dim))
    }

    private func write(_ text: String) {
        guard !text.isEmpty else { return }
        content.write(text)
        lastContentCharacter = text.last!
        if sharesStream { lastReasoningCharacter = lastContentCharacter }
    }

    /// Writes to the reasoning stream; `last` is the last visible character when `text` ends in a style code.
    private func writeReasoning(_ text: String, last: Character? = nil) {
        guard !text.isEmpty else { return }
        reasoningStream.write(text)
        lastReasoningCharacter = last ?? text.last!
        if sharesStream { lastContentCharacter = lastReasoningCharacter }
    }
}

// MARK: - Statistics

extension Reply {
    /// One line of figures after an answer: tokens, cache use, prefill and decode speed, why it ended.
    var statsLine: String {
        let speed = speed()
        if finishReason == nil, tokenCount == 0, let prefill, prefill.done < prefill.total {
            return "stopped while reading the prompt (\(grouped(prefill.done)) of \(grouped(prefill.total)) tokens computed)"
        }
        // A stopped answer without per-token events has only a lower bound on its token count.
        let about = isTokenCountExact ? "" : "≈"
        var parts: [String] = []
        var tokens = "\(about)\(grouped(tokenCount)) tokens"
        if reasoningTokenCount > 0 { tokens += " (\(about)\(grouped(reasoningTokenCount)) reasoning)" }
        parts.append(tokens)
        if let usage {
            var prompt = "prompt \(grouped(usage.promptTokens)): \(grouped(usage.cachedPromptTokens)) cached"
            let computed = usage.promptTokens - usage.cachedPromptTokens
            prompt += ", \(grouped(computed)) computed"
            if let rate = speed.prefillTokensPerSecond { prompt += " at \(decimal(rate)) tok/s" }
            parts.append(prompt)
        } else if let rate = speed.prefillTokensPerSecond {
            parts.append("prefill \(decimal(rate)) tok/s")
        }
        if let rate = speed.decodeTokensPerSecond { parts.append("decode \(about)\(decimal(rate)) tok/s") }
        parts.append(finishReason.map { "finish: \($0.rawValue)" } ?? "stopped")
        return parts.joined(separator: " · ")
    }
}
