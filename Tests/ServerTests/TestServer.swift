// Test support: the API server over the replay model (a scripted engine running the real Engine,
// tokenizer, parser and API layers), with deterministic ids and clock so whole responses can be compared,
// and helpers to send requests and read SSE bodies.

import Foundation
import Generation
import Hummingbird
import HummingbirdTesting
import Logging
import Server
import Testing
import Tokenizers

enum TestFiles {
    /// The repository checkout the tests run from. The official tokenizer is read from the CLI's
    /// resources there rather than copied into this target (6 MB).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let tokenizerDirectory = repository.appendingPathComponent("Sources/CLI/Resources/tokenizer")
    static let tokenizer = try! BPETokenizer(directory: tokenizerDirectory)
    static let pythonDirectory = repository.appendingPathComponent("Tests/ServerTests/Python")
}

/// Model output spellings used by the scripts.
enum Script {
    static let eos = "<｜end▁of▁sentence｜>"
    /// A DSML block calling `name` with string parameters, as the model writes it after its answer text.
    static func toolCall(_ name: String, _ parameters: [(String, String)]) -> String {
        var text = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"\(name)\">\n"
        for (key, value) in parameters {
            text += "<｜DSML｜parameter name=\"\(key)\" string=\"true\">\(value)</｜DSML｜parameter>\n"
        }
        return text + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>"
    }
}

/// Hands out `prefix-1`, `prefix-2`, … so responses are reproducible.
final class SequentialIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func make(_ prefix: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        return "\(prefix)\(next)"
    }
}

/// A server over scripted completions.
struct TestServer {
    let engine: any ChatEngine
    var configuration: ServerConfiguration

    /// The fixed `created` time.
    static let created = 1_700_000_000

    init(
        _ completions: [String], parallel: Int = 1, queue: Int = 16, stepDelay: Double = 0, apiKey: String? = nil,
        context: Int = 4096
    ) {
        let model = ReplayModel(
            completions: completions, tokenizer: TestFiles.tokenizer, contextLimit: context, stepDelay: stepDelay)
        self.init(engine: Engine(model: model, tokenizer: TestFiles.tokenizer, parallel: parallel, queueLimit: queue), apiKey: apiKey)
    }

    init(engine: any ChatEngine, apiKey: String? = nil) {
        self.engine = engine
        let ids = SequentialIDs()
        configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, apiKey: apiKey, servedModelNames: ["narwhal-test"],
            shutdownGracePeriod: .seconds(1), makeID: { ids.make($0) },
            now: { Date(timeIntervalSince1970: TimeInterval(TestServer.created)) })
    }

    var application: some ApplicationProtocol {
        var logger = Logger(label: "narwhal.server.test")
        logger.logLevel = .warning
        return buildApplication(configuration: configuration, engine: engine, logger: logger)
    }

    /// Runs `test` against the router (no sockets).
    func withRouter(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await application.test(.router, test)
    }
}

extension TestClientProtocol {
    /// POSTs a JSON body.
    func post(_ uri: String, _ body: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: JSONValue { get throws { try JSONValue(parsing: text) } }

    /// The body's server-sent events: (event name, data) in order.
    var events: [(event: String?, data: String)] {
        text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            var event: String?
            var data = ""
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            return (event, data)
        }
    }
}

extension JSONValue {
    /// The value at a path of keys and indices: `value["choices", 0, "delta"]`.
    subscript(_ path: any PathElement...) -> JSONValue? {
        var current: JSONValue? = self
        for element in path {
            switch (current, element) {
            case (.object(let object)?, let key as String): current = object[key]
            case (.array(let array)?, let index as Int): current = index < array.count ? array[index] : nil
            default: return nil
            }
        }
        return current
    }
}

protocol PathElement {}
extension String: PathElement {}
extension Int: PathElement {}
