// Errors in each API's own shape and status: unreadable bodies, wrong types, invalid values, unknown
// models, prompts beyond the context, bodies over the limit, authentication, unknown paths — and no
// body at all makes the server fail (every answer below 500).

import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Tokenizers

@testable import Server

@Suite("Errors")
struct ErrorTests {
    static let hello = "Hello!" + Script.eos
    static let chat = "/v1/chat/completions"
    static let messages = "/v1/messages"

    /// Status and OpenAI error body of a chat completions request.
    func openAIError(_ client: any TestClientProtocol, _ body: String, headers: HTTPFields = [:]) async throws
        -> (HTTPResponse.Status, JSONValue)
    {
        let response = try await client.post(Self.chat, body, headers: headers)
        return (response.status, try response.json)
    }

    @Test("unreadable JSON is a 400 in both shapes")
    func invalidJSON() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let openAI = try await client.post(Self.chat, #"{"model": "#)
            #expect(openAI.status == .badRequest)
            #expect(try openAI.json["error", "type"] == "invalid_request_error")
            #expect(try openAI.json["error", "message"]?.stringValue?.hasPrefix("Failed to parse the request body as JSON") == true)
            let anthropic = try await client.post(Self.messages, "not json")
            #expect(anthropic.status == .badRequest)
            #expect(try anthropic.json["type"] == "error")
            #expect(try anthropic.json["error", "type"] == "invalid_request_error")
        }
    }

    @Test("a field of the wrong type or a missing field is a 400 naming the field")
    func wrongTypes() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let (status, json) = try await openAIError(client, #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": 5}]}"#)
            #expect(status == .badRequest)
            #expect(
                json["error", "message"]
                    == "Failed to deserialize the JSON body into the target type: messages[0].content: invalid type: integer `5`, expected a string or a sequence of content parts"
            )
            #expect(json["error", "param"] == "messages[0].content")
            let (missing, body) = try await openAIError(client, #"{"messages": []}"#)
            #expect(missing == .badRequest)
            #expect(body["error", "message"] == "Failed to deserialize the JSON body into the target type: missing field `model`")
            let (notObject, _) = try await openAIError(client, "[1, 2]")
            #expect(notObject == .badRequest)
        }
    }

    @Test("values out of range are a 422 naming the parameter")
    func invalidValues() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let cases = [
                (#""temperature": 3"#, "temperature"), (#""top_p": 1.5"#, "top_p"), (#""presence_penalty": -3"#, "presence_penalty"),
                (#""max_tokens": 0"#, "max_tokens"), (#""n": 2"#, "n"), (#""logprobs": true, "top_logprobs": 21"#, "top_logprobs"),
                (#""reasoning_effort": "extreme""#, "reasoning_effort"), (#""thinking": {"type": "sometimes"}"#, "thinking.type"),
                (#""response_format": {"type": "yaml"}"#, "response_format.type"),
            ]
            for (field, param) in cases {
                let (status, json) = try await openAIError(
                    client, #"{"model": "deepseek-chat", \#(field), "messages": [{"role": "user", "content": "Hi"}]}"#)
                #expect(status == .unprocessableContent, "\(field)")
                #expect(json["error", "param"] == .string(param), "\(field)")
            }
        }
    }

    @Test("an unknown model is a 400 on OpenAI's endpoints, while Anthropic's maps any name to the model")
    func unknownModel() async throws {
        try await TestServer([Self.hello, Self.hello]).withRouter { client in
            let (status, json) = try await openAIError(client, #"{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(status == .badRequest)
            #expect(json["error", "code"] == "model_not_found")
            let anthropic = try await client.post(
                Self.messages, #"{"model": "claude-opus-4-1", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(anthropic.status == .ok)
        }
    }

    @Test("a prompt beyond the context is a 400 saying so")
    func contextTooLong() async throws {
        try await TestServer([Self.hello], context: 32).withRouter { client in
            let long = String(repeating: "word ", count: 100)
            let (status, json) = try await openAIError(
                client, #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "\#(long)"}]}"#)
            #expect(status == .badRequest)
            #expect(json["error", "code"] == "context_length_exceeded")
            #expect(json["error", "message"]?.stringValue?.contains("maximum context length is 32 tokens") == true)
            let anthropic = try await client.post(
                Self.messages, #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "\#(long)"}]}"#)
            #expect(anthropic.status == .badRequest)
            #expect(try anthropic.json["error", "type"] == "invalid_request_error")
        }
    }

    @Test("a body over the limit is a 413")
    func bodyTooLarge() async throws {
        var server = TestServer([Self.hello])
        server.configuration.maxRequestBodyBytes = 1000
        try await server.withRouter { client in
            let big = String(repeating: "x", count: 5000)
            let (status, json) = try await openAIError(client, #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "\#(big)"}]}"#)
            #expect(status == .contentTooLarge)
            #expect(json["error", "message"]?.stringValue?.contains("1000 bytes") == true)
            let anthropic = try await client.post(Self.messages, #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "\#(big)"}]}"#)
            #expect(try anthropic.json["error", "type"] == "request_too_large")
        }
    }

    @Test("with a key configured, requests need it: Bearer or x-api-key; health and metrics stay open")
    func authentication() async throws {
        let body = #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}]}"#
        try await TestServer([Self.hello], apiKey: "sk-local").withRouter { client in
            let (missing, json) = try await openAIError(client, body)
            #expect(missing == .unauthorized)
            #expect(json["error", "type"] == "authentication_error")
            let (wrong, wrongJSON) = try await openAIError(client, body, headers: [.authorization: "Bearer sk-wrong"])
            #expect(wrong == .unauthorized)
            #expect(wrongJSON["error", "message"] == "Authentication Fails, Your api key: ****rong is invalid")
            let (right, _) = try await openAIError(client, body, headers: [.authorization: "Bearer sk-local"])
            #expect(right == .ok)

            let anthropicBody = #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}"#
            let refused = try await client.post(Self.messages, anthropicBody)
            #expect(refused.status == .unauthorized)
            #expect(try refused.json == ["type": "error", "error": ["type": "authentication_error", "message": "x-api-key header is required"]])
            let apiKey = try await client.post(Self.messages, anthropicBody, headers: [HTTPFields.Element.Name("x-api-key")!: "sk-local"])
            #expect(apiKey.status == .ok)
            let models = try await client.execute(uri: "/v1/models", method: .get)
            #expect(models.status == .unauthorized)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
        }
    }

    @Test("unknown paths are a 404 in the shape of the API they look like")
    func notFound() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let openAI = try await client.execute(uri: "/v1/embeddings", method: .post)
            #expect(openAI.status == .notFound)
            #expect(try openAI.json["error", "type"] == "invalid_request_error")
            let anthropic = try await client.execute(uri: "/anthropic/v1/messages/batches", method: .post)
            #expect(anthropic.status == .notFound)
            #expect(try anthropic.json["error", "type"] == "not_found_error")
        }
    }

    /// Bodies a careless or hostile client might send; none may crash the server or be answered 5xx.
    static let oddBodies: [String] = [
        "", "null", "[]", "\"text\"", "123", "{}", #"{"model": null}"#, #"{"model": 1, "messages": {}}"#,
        #"{"model": "deepseek-chat", "messages": null}"#, #"{"model": "deepseek-chat", "messages": [null]}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "wizard", "content": "x"}]}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "tools": [{"function": {"name": ""}}]}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999999999999999}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "seed": -1, "max_tokens": 1}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "tool", "content": "x"}]}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "\u0000\ud800"}], "max_tokens": 1}"#,
        #"{"model": "deepseek-chat", "messages": [{"role": "assistant", "content": "x", "prefix": true}], "max_tokens": 1}"#,
        String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
        #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image"}]}]}"#,
        #"{"model": "x", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_result"}]}]}"#,
        #"{"model": "x", "max_tokens": 5, "messages": []}"#,
        #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "tool", "name": "nope"}}"#,
        #"{"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search_20250305", "name": "web"}]}"#,
    ]

    @Test("no request body makes the server fail, and each answer is in the endpoint's shape")
    func oddBodiesNeverFail() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            for uri in ["/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/messages/count_tokens"] {
                for body in Self.oddBodies {
                    let response = try await client.post(uri, body)
                    #expect(response.status.code < 500, "\(uri) \(body.prefix(80)) → \(response.status.code) \(response.text)")
                    if response.status != .ok {
                        let json = try? response.json
                        #expect(json?["error"] != nil, "\(uri) \(body.prefix(80)) → \(response.text)")
                    }
                }
            }
            // Random bytes, mutated from a valid body: bounded and seeded so failures reproduce.
            var generator = SplitMix(seed: 7)
            let valid = Array(#"{"model": "deepseek-chat", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}"#.utf8)
            for _ in 0..<150 {
                var bytes = valid
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                let response = try await client.post("/v1/chat/completions", String(decoding: bytes, as: UTF8.self))
                #expect(response.status.code < 500, "\(String(decoding: bytes, as: UTF8.self)) → \(response.text)")
            }
        }
    }
}

/// A small seeded generator for the fuzz loop.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
