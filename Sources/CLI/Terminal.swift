// The terminal side of the interactive commands: unbuffered writes to stdout and stderr, ANSI styles only
// where they belong (a terminal, no NO_COLOR, no TERM=dumb), a one-line progress bar on stderr, and
// Ctrl-C handling for the chat.
//
// Why unbuffered writes: streamed tokens must appear as they come, but C stdio (and so `print`) buffers
// a pipe fully and a terminal by line. Every write here goes straight to the file descriptor, so text
// on stdout and stderr also comes out in the order it was written. Code that streams must not mix in
// `print`.

import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One output stream (stdout or stderr) and whether it is a terminal that takes ANSI styles.
struct TerminalStream: Sendable {
    let descriptor: Int32
    /// True when the stream is a terminal.
    let isTerminal: Bool
    /// True when ANSI styles may be used.
    let styled: Bool

    static let standardOutput = TerminalStream(descriptor: STDOUT_FILENO)
    static let standardError = TerminalStream(descriptor: STDERR_FILENO)

    init(descriptor: Int32) {
        self.descriptor = descriptor
        isTerminal = isatty(descriptor) == 1
        let environment = ProcessInfo.processInfo.environment
        let colorOff = !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
        styled = isTerminal && !colorOff
    }

    /// Writes `text` at once (no buffering). Errors (a closed pipe) are ignored: there is no one left to
    /// tell.
    func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                systemWrite(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// `text` in `style` when styles are on, else as it is.
    func styledText(_ text: String, _ style: ANSIStyle) -> String {
        styled && !text.isEmpty ? style.rawValue + text + ANSIStyle.reset.rawValue : text
    }

    /// Writes `text` in `style` (when styles are on).
    func write(_ text: String, _ style: ANSIStyle) {
        write(styledText(text, style))
    }
}

/// `write(2)` under a name that does not clash with `TerminalStream.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}

/// The SGR sequences the CLI uses.
enum ANSIStyle: String {
    case reset = "\u{1B}[0m"
    case bold = "\u{1B}[1m"
    /// Dim grey: reasoning, statistics, notes.
    case dim = "\u{1B}[2;90m"
    case red = "\u{1B}[31m"
    case yellow = "\u{1B}[33m"
    /// Erases the current line (after a carriage return).
    static let clearLine = "\r\u{1B}[2K"
}

/// Whether standard input is a terminal (interactive use) or a pipe or file.
var standardInputIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and redrawn at most ten
/// times a second; `finish()` erases it.
final class ProgressBar {
    private let stream: TerminalStream
    private let label: String
    private let unit: Unit
    private var lastDraw: ContinuousClock.Instant?
    private var drawn = false

    enum Unit {
        case bytes
        case tokens
    }

    init(label: String, unit: Unit, stream: TerminalStream = .standardError) {
        self.label = label
        self.unit = unit
        self.stream = stream
    }

    /// Shows `done` of `total`.
    func update(_ done: Int, of total: Int) {
        guard stream.isTerminal, total > 0 else { return }
        let now = ContinuousClock.now
        if let lastDraw, now - lastDraw < .milliseconds(100), done < total { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let amount = switch unit {
        case .bytes: "\(byteText(done)) / \(byteText(total))"
        case .tokens: "\(grouped(done)) / \(grouped(total)) tokens"
        }
        let percent = String(format: "%3.0f%%", fraction * 100)
        stream.write(ANSIStyle.clearLine + stream.styledText("\(label) \(bar) \(percent)  \(amount)", .dim))
        drawn = true
    }

    /// Erases the bar (if it was drawn).
    func finish() {
        if drawn { stream.write(ANSIStyle.clearLine) }
        drawn = false
    }
}

// MARK: - Ctrl-C
//
// SIGINT must stop the answer being generated, not the program. The default action (terminate) is
// switched off and the signal is delivered to a Dispatch source instead, which calls whatever action the
// chat has installed for its current state: cancel the answer while one streams, remind how to leave
// while waiting at the prompt. Dispatch runs the handler on its own queue, not in signal context, so
// the action may take locks, allocate and write freely.

/// Routes SIGINT to a replaceable action for as long as it lives.
final class InterruptHandler: @unchecked Sendable {
    private let source: any DispatchSourceSignal
    private let lock = NSLock()
    private var action: (@Sendable () -> Void)?

    /// Takes over SIGINT; `fallback` runs when no action is installed.
    init(fallback: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "narwhal.sigint"))
        source.setEventHandler { [weak self] in
            guard let self else { return }
            let action = self.lock.withLock { self.action }
            (action ?? fallback)()
        }
        source.resume()
    }

    deinit {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    /// Runs `body` with `action` answering Ctrl-C; the previous action is restored afterwards.
    func whileRunning<T>(onInterrupt action: @escaping @Sendable () -> Void, _ body: () async throws -> T)
        async rethrows -> T
    {
        let previous = lock.withLock { () -> (@Sendable () -> Void)? in
            let previous = self.action
            self.action = action
            return previous
        }
        defer { lock.withLock { self.action = previous } }
        return try await body()
    }
}

/// Seconds in a `Duration`.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// "12.3" style formatting.
func decimal(_ value: Double, _ digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}
