// ClientConnection: the two ends of a response's life on the client's connection — server-sent events,
// the framing both APIs stream in, and learning that the client went away.
//
// Streaming: OpenAI sends bare `data:` lines ending with `data: [DONE]`; Anthropic names each event
// (`event: message_start` …). A streaming response is committed (status 200, headers sent) only after the
// generation's first event, so refusals before that keep their status codes; what fails later is
// reported inside the stream, in the API's error shape, and the stream ends.
//
// Disconnects: Hummingbird does not cancel a handler when the connection closes; a streaming handler
// would notice only at its next write, and a non-streaming one (or one still waiting in the queue) not
// at all, holding a slot for nobody. So every connection gets a small channel handler that watches for
// the peer closing its side (`inputClosed` — the server allows half-closure — or the channel going
// inactive) and runs the callbacks the connection's current requests registered; the request context
// carries the channel so a handler can find it. HTTP/1 clients do not half-close a connection they still
// expect an answer on, so a closed input means the client is gone.

import Foundation
import Hummingbird
import NIOCore
import Tokenizers

/// Writes one streaming response's events.
struct SSEWriter {
    private var writer: any ResponseBodyWriter

    init(_ writer: any ResponseBodyWriter) { self.writer = writer }

    /// Sends `data` as one event (named when `event` is given).
    mutating func send(_ data: JSONValue, event: String? = nil) async throws {
        try await send(raw: data.serialized(), event: event)
    }

    /// Sends a line of text as the data of one event.
    mutating func send(raw data: String, event: String? = nil) async throws {
        var text = ""
        if let event { text += "event: \(event)\n" }
        text += "data: \(data)\n\n"
        try await writer.write(ByteBuffer(string: text))
    }

    consuming func finish() async throws { try await writer.finish(nil) }
}

extension Response {
    /// A `text/event-stream` response whose events `produce` sends.
    static func eventStream(_ produce: @escaping @Sendable (inout SSEWriter) async throws -> Void) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var sse = SSEWriter(writer)
                try await produce(&sse)
                try await sse.finish()
            })
    }
}

// MARK: - Disconnects

/// The request context of the API server: Hummingbird's basics plus the connection's channel, through
/// which a request registers for the client's disconnect.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Runs `action` once when the client disconnects; returns a function that unregisters it. Does
    /// nothing (and returns a no-op) when the connection has no disconnect handler, as in router tests.
    func onDisconnect(_ action: @escaping @Sendable () -> Void) async -> @Sendable () -> Void {
        guard let handler = try? await channel.pipeline.handler(type: ClientDisconnectHandler.self).get() else {
            return {}
        }
        return handler.register(action)
    }
}

/// Watches one connection for the client going away and tells the requests that registered.
final class ClientDisconnectHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    /// The handler never reads the parts it forwards, so their type does not matter here.
    typealias InboundIn = Never

    /// Guards `disconnected`, `actions` and `nextID`: registration happens on request tasks, the
    /// events on the channel's event loop.
    private let lock = NSLock()
    private var disconnected = false
    private var actions: [Int: @Sendable () -> Void] = [:]
    private var nextID = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    /// Registers `action`; runs it at once if the client is already gone.
    func register(_ action: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        lock.lock()
        if disconnected {
            lock.unlock()
            action()
            return {}
        }
        let id = nextID
        nextID += 1
        actions[id] = action
        lock.unlock()
        return { [weak self] in
            guard let self else { return }
            self.lock.lock()
            self.actions[id] = nil
            self.lock.unlock()
        }
    }

    private func fire() {
        lock.lock()
        disconnected = true
        let pending = actions.values
        actions.removeAll()
        lock.unlock()
        for action in pending { action() }
    }
}
