// The prefix cache on disk through the API: a new server over the same cache directory (a restart)
// reports the repeated prompt as cached on its very first request, in both APIs' usage fields.

import Foundation
import Generation
import Logging
import Server
import Testing

@Suite("Prefix cache across server restarts")
struct PrefixCacheServerTests {
    static let hello = "Hello there!" + Script.eos

    /// A server over a fresh replay model and engine whose prefix cache is `directory`.
    static func server(_ directory: URL) throws -> (TestServer, PrefixCache) {
        var logger = Logger(label: "narwhal.prefix-cache.test")
        logger.logLevel = .critical
        let model = ReplayModel(completions: [hello], tokenizer: TestFiles.tokenizer, contextLimit: 4096)
        let cache = try PrefixCache(directory: directory, model: model, logger: logger)
        let engine = Engine(model: model, tokenizer: TestFiles.tokenizer, prefixCache: cache)
        return (TestServer(engine: engine), cache)
    }

    static let openAIBody =
        #"{"model": "deepseek-chat", "messages": [{"role": "system", "content": "You are a terse assistant who answers in one line."}, {"role": "user", "content": "Hi"}]}"#
    static let anthropicBody =
        #"{"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "You are a terse assistant who answers in one line.", "messages": [{"role": "user", "content": "Hi"}]}"#

    @Test("the first request after a restart is a cache hit (OpenAI and Anthropic usage)")
    func restart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-server-prefix-\(UUID().uuidString)")
        // The Anthropic part uses its own directory: its prompt shares a prefix with the OpenAI one, which
        // would (rightly) be a hit on its first request.
        let anthropicDirectory = directory.appendingPathExtension("anthropic")
        defer {
            try? FileManager.default.removeItem(at: directory)
            try? FileManager.default.removeItem(at: anthropicDirectory)
        }

        let (first, firstCache) = try Self.server(directory)
        try await first.withRouter { client in
            let response = try await client.post("/v1/chat/completions", Self.openAIBody).json
            #expect(response["usage", "prompt_cache_hit_tokens"] == 0)
            #expect(response["choices", 0, "message", "content"] == "Hello there!")
        }
        firstCache.waitForWrites()

        let (second, _) = try Self.server(directory)
        try await second.withRouter { client in
            let response = try await client.post("/v1/chat/completions", Self.openAIBody).json
            #expect(response["choices", 0, "message", "content"] == "Hello there!")
            guard case .integer(let hit)? = response["usage", "prompt_cache_hit_tokens"],
                case .integer(let miss)? = response["usage", "prompt_cache_miss_tokens"],
                case .integer(let total)? = response["usage", "prompt_tokens"]
            else {
                Issue.record("usage fields missing")
                return
            }
            // All but the last prompt token, whose logits must be computed.
            #expect(Int(miss) == 1)
            #expect(Int(hit)! + 1 == Int(total)!)
            #expect(response["usage", "prompt_tokens_details", "cached_tokens"] == .integer(hit))
        }

        // Anthropic: the first request of another restart, with a prompt saved by an Anthropic request.
        let (third, thirdCache) = try Self.server(anthropicDirectory)
        try await third.withRouter { client in
            let response = try await client.post("/v1/messages", Self.anthropicBody).json
            #expect(response["usage", "cache_read_input_tokens"] == 0)
        }
        thirdCache.waitForWrites()
        let (fourth, _) = try Self.server(anthropicDirectory)
        try await fourth.withRouter { client in
            let response = try await client.post("/v1/messages", Self.anthropicBody).json
            #expect(response["usage", "input_tokens"] == 1)
            guard case .integer(let read)? = response["usage", "cache_read_input_tokens"] else {
                Issue.record("usage fields missing")
                return
            }
            #expect(Int(read)! > 10)
        }
    }
}
