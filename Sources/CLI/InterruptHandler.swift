// Ctrl-C for the interactive chat: SIGINT must stop the answer being generated, not the program. The
// default action (terminate) is switched off and the signal is delivered to a Dispatch source instead,
// which calls whatever action the chat has installed for its current state: cancel the answer while one
// streams, remind how to leave while waiting at the prompt.
//
// Dispatch runs the handler on its own queue, not in signal context, so the action may take locks,
// allocate and write freely.

import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
