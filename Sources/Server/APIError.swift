// APIError: every way a request can fail, mapped in this one place to an HTTP status and to the error
// body of each API family.
//
// Status codes follow DeepSeek's error-code page: 400 for a body that cannot be read (bad JSON, wrong
// types, missing fields — DeepSeek answers these with "Failed to deserialize the JSON body into the target
// type: <path>: …", which we mirror), 401 authentication, 422 for parameters with invalid values, 429 when
// every slot is busy and the queue is full, 500 for our own failures and 503 while shutting down. A body
// over the size limit is 413, the HTTP status for it (Anthropic's `request_too_large`).
//
// OpenAI shape:    {"error": {"message": …, "type": …, "param": …, "code": …}}
// Anthropic shape: {"type": "error", "error": {"type": …, "message": …}}

import Generation
import Hummingbird
import Tokenizers

/// Which API a request came in on; decides the error body's shape.
enum APIFamily: Sendable {
    case openAI
    case anthropic
}

/// A failed request, with what the client should know about it.
enum APIError: Error, Equatable, CustomStringConvertible {
    /// The body is not JSON.
    case invalidJSON(String)
    /// The JSON does not have the request's shape: `path` names the field (`messages[2].content`).
    case invalidBody(path: String, problem: String)
    /// A field has a value out of its range or not among its choices (422).
    case invalidParameter(param: String, message: String)
    /// A well-formed request that cannot be served as asked (400).
    case invalidRequest(param: String?, message: String)
    /// The model name is not one this server answers to.
    case unknownModel(String)
    /// The prompt does not fit in the context.
    case contextTooLong(tokens: Int, limit: Int)
    /// The body exceeds the configured limit.
    case bodyTooLarge(limit: Int)
    /// No or a wrong API key.
    case unauthorized(String)
    /// No such endpoint.
    case notFound(String)
    /// All slots are generating and the queue is full.
    case busy(String)
    /// The server is shutting down.
    case shuttingDown
    /// The generation was cancelled: the client went away, or the server shut down while it ran.
    case cancelled
    /// A failure on our side.
    case internalError(String)

    /// The rule of DeepSeek's thinking mode for tool turns, with DeepSeek's own message.
    static let reasoningContentMissing = APIError.invalidRequest(
        param: nil, message: "The reasoning_content in the thinking mode must be passed back to the API.")

    /// The status on `family`'s endpoints: Anthropic's API has no 422, invalid values are a 400 there.
    func status(for family: APIFamily) -> HTTPResponse.Status {
        if family == .anthropic, case .invalidParameter = self { return .badRequest }
        return status
    }

    /// The status on DeepSeek's OpenAI-compatible endpoints.
    var status: HTTPResponse.Status {
        switch self {
        case .invalidJSON, .invalidBody, .invalidRequest, .unknownModel, .contextTooLong: .badRequest
        case .invalidParameter: .unprocessableContent
        case .bodyTooLarge: .contentTooLarge
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .busy: .tooManyRequests
        case .shuttingDown, .cancelled: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    var description: String { message }

    var message: String {
        switch self {
        case .invalidJSON(let reason): "Failed to parse the request body as JSON: \(reason)"
        case .invalidBody(let path, let problem):
            "Failed to deserialize the JSON body into the target type: \(path.isEmpty ? "" : path + ": ")\(problem)"
        case .invalidParameter(_, let message), .invalidRequest(_, let message): message
        case .unknownModel(let name):
            "Model Not Exist: '\(name)'; GET /v1/models lists the names this server answers to"
        case .contextTooLong(let tokens, let limit):
            "This model's maximum context length is \(limit) tokens. However, you requested \(tokens) tokens. "
                + "Please reduce the length of the messages (or start the server with a larger --ctx)."
        case .bodyTooLarge(let limit): "The request body is larger than the server's limit of \(limit) bytes."
        case .unauthorized(let message): message
        case .notFound(let path): "No endpoint \(path); see /v1/chat/completions, /v1/completions, /v1/messages."
        case .busy(let message): message
        case .shuttingDown: "The server is shutting down; retry on another instance or after it restarts."
        case .cancelled: "The generation was cancelled (the client disconnected, or the server is shutting down)."
        case .internalError(let message): "Internal server error: \(message)"
        }
    }

    /// The OpenAI `error.type`.
    private var openAIType: String {
        switch self {
        case .unauthorized: "authentication_error"
        case .busy: "rate_limit_error"
        case .internalError, .shuttingDown, .cancelled: "server_error"
        default: "invalid_request_error"
        }
    }

    /// The OpenAI `error.code`.
    private var openAICode: String {
        switch self {
        case .unknownModel: "model_not_found"
        case .contextTooLong: "context_length_exceeded"
        case .unauthorized: "invalid_api_key"
        case .busy: "rate_limit_exceeded"
        case .shuttingDown, .cancelled: "service_unavailable"
        case .internalError: "internal_error"
        default: "invalid_request_error"
        }
    }

    /// The parameter at fault, for OpenAI's `error.param`.
    private var param: String? {
        switch self {
        case .invalidBody(let path, _): path.isEmpty ? nil : path
        case .invalidParameter(let param, _): param
        case .invalidRequest(let param, _): param
        case .unknownModel: "model"
        case .contextTooLong: "messages"
        default: nil
        }
    }

    /// The Anthropic `error.type`.
    private var anthropicType: String {
        switch self {
        case .unauthorized: "authentication_error"
        case .notFound: "not_found_error"
        case .bodyTooLarge: "request_too_large"
        case .busy: "rate_limit_error"
        case .shuttingDown, .cancelled: "overloaded_error"
        case .internalError: "api_error"
        default: "invalid_request_error"
        }
    }

    /// The error body in `family`'s shape.
    func body(for family: APIFamily) -> JSONValue {
        switch family {
        case .openAI:
            [
                "error": [
                    "message": .string(message), "type": .string(openAIType), "param": param.map(JSONValue.string) ?? .null,
                    "code": .string(openAICode),
                ]
            ]
        case .anthropic:
            ["type": "error", "error": ["type": .string(anthropicType), "message": .string(message)]]
        }
    }

    /// The whole HTTP response for `family`.
    func response(for family: APIFamily) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if case .busy = self { headers[.retryAfter] = "1" }
        let text = body(for: family).serialized()
        return Response(status: status(for: family), headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Maps any error met while serving a request to what the client is told. Errors of the layers below
    /// keep their messages; anything unexpected becomes a 500 that names it.
    init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as GenerationError:
            switch error {
            case .busy: self = .busy(error.description)
            case .contextTooLong(let tokens, let limit): self = .contextTooLong(tokens: tokens, limit: limit)
            case .invalidParameter(let name, let expected):
                self = .invalidParameter(param: name, message: "Invalid \(name): expected \(expected).")
            case .emptyPrompt: self = .invalidRequest(param: "prompt", message: "The prompt is empty.")
            case .model(let message): self = .internalError(message)
            }
        case let error as ChatFormatError:
            // The chat format rejects what it cannot render (unknown roles, content parts outside tool
            // results, …): the request is at fault.
            self = .invalidRequest(param: "messages", message: "Invalid messages: \(error.message)")
        case is CancellationError:
            self = .cancelled
        default:
            self = .internalError(String(describing: error))
        }
    }
}
