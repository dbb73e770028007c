// SSE: server-sent events, the framing both APIs stream in. OpenAI streams bare `data:` lines ending
// with `data: [DONE]`; Anthropic names each event (`event: message_start` …).
//
// A streaming response is committed (status 200, headers sent) only after the generation's first event,
// so refusals before that keep their status codes. What fails later is reported inside the stream, in
// the API's error shape, and the stream ends.

import Hummingbird
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
