// Application+build: the API server as a Hummingbird application — routes, authentication, health and
// metrics — built from a configuration and a `ChatEngine`. Kept apart from `main` so tests build the
// same application over a scripted engine and drive it through Hummingbird's test client.
//
// Routes (each OpenAI path also without `/v1`, as DeepSeek's base URL works with and without it):
//   POST /v1/chat/completions                 OpenAI Chat Completions (also /beta/…, DeepSeek's beta base)
//   POST /v1/completions                      completions and FIM (prompt + suffix; also /beta/…)
//   GET  /v1/models                           the names the model answers to
//   POST /v1/messages                         Anthropic Messages (also /anthropic/v1/…, /anthropic/…)
//   POST /v1/messages/count_tokens            Anthropic token counting
//   GET  /health, GET /metrics                no authentication

import Foundation
import Generation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Tokenizers

/// Builds the API server for `engine`; run it with `runService()` (SIGINT/SIGTERM shut it down
/// gracefully: new requests are refused, running generations get the configured grace period).
public func buildApplication(
    configuration: ServerConfiguration, engine: any ChatEngine, logger: Logger = Logger(label: "narwhal.server")
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, engine: engine, logger: logger)
    return Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [ClientDisconnectHandler()])),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "narwhal"),
        logger: logger)
}

/// The router of ``buildApplication(configuration:engine:logger:)``.
public func buildRouter(
    configuration: ServerConfiguration, engine: any ChatEngine, logger: Logger = Logger(label: "narwhal.server")
) -> Router<APIRequestContext> {
    let state = ServerState(configuration: configuration, engine: engine, logger: logger)
    let router = Router(context: APIRequestContext.self)
    router.add(middleware: NotFoundMiddleware())

    for prefix in ["/v1", "", "/beta", "/beta/v1"] {
        router.post("\(prefix)/chat/completions") { request, context in
            await state.serve("chat_completions", .openAI, request) {
                try await state.chatCompletion(request, context: context)
            }
        }
        router.post("\(prefix)/completions") { request, context in
            await state.serve("completions", .openAI, request) {
                try await state.completion(request, context: context)
            }
        }
    }
    for path in ["/v1/models", "/models"] {
        router.get(RouterPath(path)) { request, _ in
            await state.serve("models", .openAI, request) { state.models() }
        }
    }
    for prefix in ["/v1", "/anthropic/v1", "/anthropic"] {
        router.post("\(prefix)/messages") { request, context in
            await state.serve("messages", .anthropic, request) {
                try await state.message(request, context: context)
            }
        }
        router.post("\(prefix)/messages/count_tokens") { request, _ in
            await state.serve("count_tokens", .anthropic, request) {
                try await state.countTokens(request)
            }
        }
    }
    router.get("/health") { _, _ in state.health() }
    router.get("/metrics") { _, _ in state.metricsText() }
    return router
}

/// What the request handlers share: the engine, the configuration, the metrics.
final class ServerState: Sendable {
    let configuration: ServerConfiguration
    let engine: any ChatEngine
    let metrics = ServerMetrics()
    let logger: Logger

    init(configuration: ServerConfiguration, engine: any ChatEngine, logger: Logger) {
        self.configuration = configuration
        self.engine = engine
        self.logger = logger
    }

    var tokenizer: BPETokenizer { engine.tokenizer }

    /// Seconds since 1970 for `created` fields.
    var created: Int { Int(configuration.now().timeIntervalSince1970) }

    func id(_ prefix: String) -> String { configuration.makeID(prefix) }

    /// Runs one API request: refuses it while shutting down or without the right key, maps any error to
    /// `family`'s error response, counts it, logs failures.
    func serve(_ endpoint: String, _ family: APIFamily, _ request: Request, _ handler: () async throws -> Response) async
        -> Response
    {
        let response: Response
        do {
            if Task.isShuttingDownGracefully { throw APIError.shuttingDown }
            try authorize(request, family)
            response = try await handler()
        } catch {
            let apiError = APIError(error)
            let status = apiError.status(for: family).code
            logger.log(level: status >= 500 ? .error : .info, "\(request.method) \(request.uri.path) → \(status): \(apiError.message)")
            response = apiError.response(for: family)
        }
        metrics.requestAnswered(endpoint: endpoint, status: response.status.code)
        return response
    }

    /// Checks the API key when one is configured. OpenAI clients send `Authorization: Bearer KEY`,
    /// Anthropic clients `x-api-key: KEY`; both are accepted on both APIs, Bearer first (as DeepSeek).
    func authorize(_ request: Request, _ family: APIFamily) throws(APIError) {
        guard let key = configuration.apiKey else { return }
        let bearer = request.headers[.authorization].flatMap { value -> String? in
            let parts = value.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : nil
        }
        let apiKeyHeader = request.headers.first { $0.name.canonicalName == "x-api-key" }?.value
        guard let given = bearer ?? apiKeyHeader else {
            throw APIError.unauthorized(
                family == .openAI
                    ? "Authentication Fails (no API key provided; send Authorization: Bearer KEY)"
                    : "x-api-key header is required")
        }
        // Compare without an early exit, so timing does not tell how much of a guess was right.
        let a = Array(given.utf8), b = Array(key.utf8)
        var difference = a.count ^ b.count
        for i in 0..<min(a.count, b.count) { difference |= Int(a[i] ^ b[i]) }
        guard difference == 0 else {
            throw APIError.unauthorized(
                family == .openAI
                    ? "Authentication Fails, Your api key: ****\(given.suffix(4)) is invalid"
                    : "invalid x-api-key")
        }
    }

    /// Checks a prompt against the context before it is queued: a generation needs at least one
    /// position beyond the prompt.
    func checkContext(promptTokens: Int) throws(APIError) {
        if promptTokens + 1 > engine.contextLimit {
            throw APIError.contextTooLong(tokens: promptTokens + 1, limit: engine.contextLimit)
        }
    }

    /// `GET /v1/models`: every accepted name, in OpenAI's list shape.
    func models() -> Response {
        let created = JSONValue.integer(String(self.created))
        let data = configuration.modelNames.map { name -> JSONValue in
            ["id": .string(name), "object": "model", "created": created, "owned_by": "narwhal"]
        }
        return Response.json(["object": "list", "data": .array(data)])
    }
}

extension Response {
    /// A JSON response.
    static func json(_ body: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }
}

/// Answers requests for unknown paths with an error body in the shape of the API the path belongs to.
struct NotFoundMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            let family: APIFamily = path.contains("/messages") || path.hasPrefix("/anthropic") ? .anthropic : .openAI
            return APIError.notFound(path).response(for: family)
        }
    }
}
