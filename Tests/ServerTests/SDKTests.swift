// End to end with the official `openai` and `anthropic` Python SDKs: each test starts the server in
// process on a free loopback port — over a replay file next to its script, or over the tiny
// random-weight default model — and runs `python3 Python/<script>.py --base-url …` as a subprocess,
// passing when the script exits 0 (the scripts' docstrings list what they check).
//
// The SDKs come from pip (`pip install openai anthropic`; `.ci/run` does it). Without them these tests
// are skipped locally, and fail in CI (where `CI` is set) so a missing install cannot pass unnoticed.

import DeepSeekV4
import Foundation
import Generation
import Hummingbird
import HummingbirdTesting
import Server
import Testing

@Suite("Official SDKs")
struct SDKTests {
    static let apiKey = "sk-narwhal-test"

    /// Whether python3 can import both SDKs (or CI, where their absence must fail the tests).
    static let enabled: Bool = {
        if ProcessInfo.processInfo.environment["CI"] != nil { return true }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import openai, anthropic"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test("the openai SDK: plain, streaming, reasoning, tools round trip, FIM, logprobs, errors", .enabled(if: enabled))
    func openAI() async throws {
        try await run("openai_sdk", on: try replayServer("openai_sdk"), extra: ["--model-name", "narwhal-test"])
    }

    @Test("the anthropic SDK: thinking, the event sequence, the stream helper, tool use, stop sequences, count_tokens", .enabled(if: enabled))
    func anthropic() async throws {
        try await run("anthropic_sdk", on: try replayServer("anthropic_sdk"))
    }

    @Test("many clients through the SDKs: concurrent streams, 429 in both shapes, disconnects free slots", .enabled(if: enabled))
    func concurrency() async throws {
        try await run("concurrency_sdk", on: try replayServer("concurrency_sdk", parallel: 2, queue: 0, stepDelay: 0.02))
    }

    @Test("both SDKs against the real model (the tiny random-weight default model)", .enabled(if: enabled))
    func realModel() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-server-tests")
            .appendingPathComponent(DefaultModel.directoryName)
        let directory = try DefaultModel.ensure(at: cache, tokenizerDirectory: TestFiles.tokenizerDirectory)
        let model = try DeepSeekV4Model(directory: directory)
        model.maxContext = 4096
        let engine = Engine(model: model, tokenizer: TestFiles.tokenizer, parallel: 2, queueLimit: 4)
        try await run("real_model_sdk", on: TestServer(engine: engine, apiKey: Self.apiKey))
    }

    /// A server replaying `<name>.jsonl` from the scripts' folder.
    func replayServer(_ name: String, parallel: Int = 1, queue: Int = 16, stepDelay: Double = 0) throws -> TestServer {
        let completions = try ReplayModel.completions(
            contentsOf: TestFiles.pythonDirectory.appendingPathComponent("\(name).jsonl"))
        let model = ReplayModel(completions: completions, tokenizer: TestFiles.tokenizer, contextLimit: 8192, stepDelay: stepDelay)
        let engine = Engine(model: model, tokenizer: TestFiles.tokenizer, parallel: parallel, queueLimit: queue)
        return TestServer(engine: engine, apiKey: Self.apiKey)
    }

    /// Starts `server` on a loopback port and runs the script against it; fails with its output unless
    /// it exits 0 within two minutes.
    func run(_ script: String, on server: TestServer, extra: [String] = []) async throws {
        try await server.application.test(.live) { client in
            let port = try #require(client.port)
            let arguments = [
                TestFiles.pythonDirectory.appendingPathComponent("\(script).py").path,
                "--base-url", "http://127.0.0.1:\(port)", "--api-key", Self.apiKey,
            ] + extra
            let (status, output) = try await Self.python(arguments, timeout: .seconds(120))
            #expect(status == 0, "\(script).py exited \(status):\n\(output)")
        }
    }

    /// Runs python3 with `arguments` without blocking a task thread; returns the exit status and the
    /// combined output (kept in a file, so a chatty script cannot fill a pipe and stall).
    static func python(_ arguments: [String], timeout: Duration) async throws -> (Int32, String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-sdk-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardOutput = handle
        process.standardError = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
            Task {
                try? await Task.sleep(for: timeout)
                if process.isRunning { process.terminate() }
            }
        }
        return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}
