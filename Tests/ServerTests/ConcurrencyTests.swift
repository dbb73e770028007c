// Many clients: 429 beyond the slots and the queue, parallel slots decoding together, and clients that
// disconnect — streaming, non-streaming or still queued — giving their slot or queue place back at once.
// The disconnect tests run a live server on a loopback port and talk to it over a raw socket, so the
// client can vanish mid-response.

import Foundation
import Generation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing
import Server
import Tokenizers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Concurrency")
struct ConcurrencyTests {
    /// A long answer: about 400 tokens, so a generation is still running when the test acts.
    static let long = String(repeating: "tick ", count: 400) + Script.eos
    static let chatBody = #"{"model": "deepseek-chat", "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#
    static let shortBody = #"{"model": "deepseek-chat", "max_tokens": 2, "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#

    @Test("beyond the slots and the queue, requests are refused with 429 in each API's shape")
    func busy() async throws {
        let server = TestServer([Self.long], parallel: 1, queue: 0, stepDelay: 0.01)
        try await server.withRouter { client in
            let holder = Task {
                try await client.post(
                    "/v1/chat/completions", #"{"model": "deepseek-chat", "max_tokens": 60, "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#)
            }
            try await waitForMetric(client, "narwhal_requests_in_flight 1.0")
            try await Task.sleep(for: .milliseconds(100))
            let refused = try await client.post("/v1/chat/completions", Self.chatBody)
            #expect(refused.status == .tooManyRequests)
            #expect(try refused.json["error", "type"] == "rate_limit_error")
            #expect(refused.headers[.retryAfter] == "1")
            let anthropic = try await client.post(
                "/v1/messages", #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(anthropic.status == .tooManyRequests)
            #expect(try anthropic.json["error", "type"] == "rate_limit_error")
            #expect(try await holder.value.status == .ok)
        }
    }

    @Test("parallel slots decode together: concurrent requests share forward steps")
    func parallelSlots() async throws {
        let replay = ReplayModel(
            completions: ["one two three four five six seven eight nine ten" + Script.eos], tokenizer: TestFiles.tokenizer,
            contextLimit: 4096, stepDelay: 0.02)
        let model = BatchRecordingModel(replay)
        let server = TestServer(engine: Engine(model: model, tokenizer: TestFiles.tokenizer, parallel: 4))
        try await server.withRouter { client in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await client.post("/v1/chat/completions", Self.chatBody).status.code }
                }
                for try await status in group { #expect(status == 200) }
            }
        }
        // 4 × (prompt + 11 tokens) one sequence at a time would take 48 steps. How many are shared depends
        // on timing (a sequence still sampling when the batcher's short window closes joins the next step),
        // that steps are shared does not.
        #expect((model.batchSizes.max() ?? 0) >= 2, "\(model.batchSizes)")
        #expect(model.batchSizes.count < 48, "\(model.batchSizes)")
    }

    @Test("a streaming client that disconnects frees its slot at once")
    func streamingDisconnect() async throws {
        let server = TestServer([Self.long, "ok" + Script.eos], parallel: 1, queue: 0, stepDelay: 0.02)
        try await server.application.test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.post("/v1/chat/completions", #"{"model": "deepseek-chat", "stream": true, "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#)
            #expect(await connection.read(until: "data: ").contains("data: "))
            connection.close()
            // The 400-token answer would hold the only slot for 8 s.
            try await expectSlotFreed(client)
        }
    }

    @Test("a non-streaming client that disconnects while its answer is generated frees its slot")
    func nonStreamingDisconnect() async throws {
        let server = TestServer([Self.long, "ok" + Script.eos], parallel: 1, queue: 0, stepDelay: 0.02)
        try await server.application.test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.post("/v1/messages", #"{"model": "x", "max_tokens": 1000, "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#)
            try await waitForMetric(client, "narwhal_requests_in_flight 1.0")
            try await Task.sleep(for: .milliseconds(200))
            connection.close()
            try await expectSlotFreed(client)
        }
    }

    @Test("a queued client that disconnects leaves the queue")
    func queuedDisconnect() async throws {
        let server = TestServer([Self.long], parallel: 1, queue: 1, stepDelay: 0.02)
        try await server.application.test(.live) { client in
            let holder = try RawConnection(port: client.port!)
            holder.post("/v1/chat/completions", #"{"model": "deepseek-chat", "stream": true, "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#)
            #expect(await holder.read(until: "data: ").contains("data: "))
            let waiter = try RawConnection(port: client.port!)
            waiter.post("/v1/chat/completions", Self.chatBody)
            try await waitForHealth(client, queued: 1)
            waiter.close()
            try await waitForHealth(client, queued: 0)
            holder.close()
        }
    }

    @Test("a graceful shutdown lets a running stream go on for the grace period, then ends it with a 503 event")
    func gracefulShutdown() async throws {
        // A 2000-token answer: 40 s at the replay's pace, far beyond the 1 s grace period.
        var server = TestServer([String(repeating: "tick ", count: 2000) + Script.eos], stepDelay: 0.02)
        let port = try RawConnection.freePort()
        server.configuration.port = port
        let group = ServiceGroup(
            configuration: .init(services: [server.application], logger: Logger(label: "narwhal.test.shutdown")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let connection = try await RawConnection.connecting(port: port)
            connection.post("/v1/chat/completions", #"{"model": "deepseek-chat", "stream": true, "temperature": 0, "messages": [{"role": "user", "content": "Count"}]}"#)
            #expect(await connection.read(until: "data: ").contains("data: "))
            let clock = ContinuousClock()
            let start = clock.now
            await group.triggerGracefulShutdown()
            let rest = await connection.read(until: "service_unavailable")
            #expect(rest.contains("The server is shutting down"))
            #expect(clock.now - start < .seconds(15))
            connection.close()
            try await tasks.next()
        }
    }

    /// Polls until a fresh short request gets the single slot (it would be refused with 429 while the
    /// disconnected client's generation ran on).
    func expectSlotFreed(_ client: any TestClientProtocol) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let response = try await client.post("/v1/chat/completions", Self.shortBody)
            if response.status == .ok { return }
            #expect(response.status == .tooManyRequests)
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the slot was not freed within 15 s of the disconnect")
    }

    func waitForMetric(_ client: any TestClientProtocol, _ line: String) async throws {
        for _ in 0..<1500 {
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            if metrics.split(separator: "\n").contains(where: { $0 == line }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("metric line '\(line)' never appeared")
    }

    func waitForHealth(_ client: any TestClientProtocol, queued: Int) async throws {
        for _ in 0..<1500 {
            let health = try await client.execute(uri: "/health", method: .get).json
            if health["queued"] == .integer(String(queued)) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the queue never held \(queued) request(s)")
    }
}

/// The replay model, recording the size of every batched step.
final class BatchRecordingModel: LanguageModel, @unchecked Sendable {
    let base: ReplayModel
    private let lock = NSLock()
    private var sizes: [Int] = []

    init(_ base: ReplayModel) { self.base = base }

    var batchSizes: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return sizes
    }

    var vocabularySize: Int { base.vocabularySize }
    var contextLimit: Int { base.contextLimit }
    func makeCache() -> ReplayModel.Cache { base.makeCache() }
    func copy(_ cache: ReplayModel.Cache) -> ReplayModel.Cache { base.copy(cache) }

    func forward(_ tokens: [Int], cache: ReplayModel.Cache, progress: ((Int) -> Void)?) throws -> [Float] {
        try forwardBatch([(tokens, cache)])[0]
    }

    func forwardBatch(_ batch: [(tokens: [Int], cache: ReplayModel.Cache)]) throws -> [[Float]] {
        lock.lock()
        sizes.append(batch.count)
        lock.unlock()
        return try base.forwardBatch(batch)
    }
}

/// A bare HTTP/1.1 client over a loopback TCP socket, so a test can drop the connection mid-response.
/// Its calls block, so `read` runs on a thread of its own: blocking one of the few threads that run
/// Swift tasks would starve the server under test.
final class RawConnection: @unchecked Sendable {
    let socket: Int32

    /// A loopback port nobody listens on right now.
    static func freePort() throws -> Int {
        let probe = try RawConnection(listeningOn: 0)
        defer { probe.close() }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe.socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Connects, retrying for up to 5 s while the server starts.
    static func connecting(port: Int) async throws -> RawConnection {
        for _ in 0..<500 {
            if let connection = try? RawConnection(port: port) { return connection }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try RawConnection(port: port)
    }

    /// A socket bound to a loopback port (0: any free one), not listening.
    private init(listeningOn port: Int) throws {
        socket = Self.makeSocket()
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    private static func makeSocket() -> Int32 {
        #if canImport(Glibc)
        Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    init(port: Int) throws {
        socket = Self.makeSocket()
        var address = Self.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close()
            throw POSIXError(.ECONNREFUSED)
        }
        // Reads give up after 30 s rather than hang a test (generous: the whole suite loads the machine).
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func post(_ path: String, _ body: String) {
        let request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        _ = request.withCString { send(socket, $0, strlen($0), 0) }
    }

    /// Reads until `marker` arrives (or the connection ends, or 30 s pass without data); returns all read.
    func read(until marker: String) async -> String {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.readBlocking(until: marker)) }.start()
        }
    }

    private func readBlocking(until marker: String) -> String {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !text.contains(marker) {
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            text += String(decoding: buffer[..<count], as: UTF8.self)
        }
        return text
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(socket)
        #else
        _ = Darwin.close(socket)
        #endif
    }
}
