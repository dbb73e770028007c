// OpenAI Chat Completions at router level: whole responses and exact SSE sequences over scripted
// completions, reasoning, tool calls, usage, log-probabilities, the tool-turn rule, completions and FIM.

import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Tokenizers

@testable import Server

@Suite("Chat Completions")
struct ChatCompletionsTests {
    static let hello = "Hello there!" + Script.eos
    static let reasoning = "Greeting.</think>Hi!" + Script.eos
    static let weather = "Checking the weather.</think>" + Script.toolCall("get_weather", [("city", "Paris")]) + Script.eos

    @Test("a plain answer is one chat.completion with DeepSeek's usage fields")
    func plain() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-v4-flash", "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(response.status == .ok)
            #expect(
                response.text
                    == #"{"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "deepseek-v4-flash", "#
                    + #""choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"}, "logprobs": null, "#
                    + #""finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9, "#
                    + #""prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}, "#
                    + #""prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 5}, "system_fingerprint": "fp_narwhal"}"#)
        }
    }

    @Test("a plain stream sends the role, one delta per token, the finish, the usage chunk and [DONE]")
    func plainStream() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-chat", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            let head = #"{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "deepseek-chat", "system_fingerprint": "fp_narwhal", "choices": "#
            func delta(_ delta: String, _ finish: String = "null") -> String {
                head + #"[{"index": 0, "delta": \#(delta), "logprobs": null, "finish_reason": \#(finish)}], "usage": null}"#
            }
            #expect(
                response.events.map(\.data) == [
                    delta(#"{"role": "assistant", "content": ""}"#),
                    delta(#"{"content": "Hello"}"#),
                    delta(#"{"content": " there"}"#),
                    delta(#"{"content": "!"}"#),
                    delta(#"{"content": ""}"#, #""stop""#),
                    head + #"[], "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9, "#
                        + #""prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}, "#
                        + #""prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 5}}"#,
                    "[DONE]",
                ])
            #expect(response.events.allSatisfy { $0.event == nil })
        }
    }

    @Test("thinking mode streams reasoning_content deltas, then content deltas that close the reasoning")
    func reasoningStream() async throws {
        try await TestServer([Self.reasoning]).withRouter { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-v4-flash", "stream": true, "messages": [{"role": "user", "content": "Hi"}]}"#)
            let deltas = try response.events.dropLast().map { try JSONValue(parsing: $0.data)["choices", 0, "delta"]!.serialized() }
            #expect(
                deltas == [
                    #"{"role": "assistant", "content": null, "reasoning_content": ""}"#,
                    #"{"content": null, "reasoning_content": "Gre"}"#,
                    #"{"content": null, "reasoning_content": "eting"}"#,
                    #"{"content": null, "reasoning_content": "."}"#,
                    #"{"content": "Hi", "reasoning_content": null}"#,
                    #"{"content": "!", "reasoning_content": null}"#,
                    #"{"content": "", "reasoning_content": null}"#,
                ])
            #expect(response.events.last?.data == "[DONE]")
        }
    }

    @Test("a non-streaming reasoning answer carries reasoning_content and counts reasoning tokens")
    func reasoning() async throws {
        try await TestServer([Self.reasoning]).withRouter { client in
            let json = try await client.post(
                "/v1/chat/completions", #"{"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "Hi"}]}"#
            ).json
            #expect(json["choices", 0, "message"] == ["role": "assistant", "content": "Hi!", "reasoning_content": "Greeting."])
            // "Gre", "eting", ".", "</think>"
            #expect(json["usage", "completion_tokens_details", "reasoning_tokens"] == 4)
        }
    }

    @Test("a DSML tool call becomes tool_calls with an id and JSON arguments, finish_reason tool_calls")
    func toolCall() async throws {
        let tools = #"[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]"#
        try await TestServer([Self.weather, Self.weather]).withRouter { client in
            let json = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-v4-flash", "tools": \#(tools), "messages": [{"role": "user", "content": "Weather in Paris?"}]}"#
            ).json
            #expect(
                json["choices", 0, "message"]
                    == [
                        "role": "assistant", "content": "", "reasoning_content": "Checking the weather.",
                        "tool_calls": [
                            ["id": "call_2", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city": "Paris"}"#]]
                        ],
                    ])
            #expect(json["choices", 0, "finish_reason"] == "tool_calls")

            let stream = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-v4-flash", "stream": true, "tools": \#(tools), "messages": [{"role": "user", "content": "Weather in Paris?"}]}"#)
            let chunks = try stream.events.dropLast().map { try JSONValue(parsing: $0.data)["choices", 0]! }
            let toolDeltas = chunks.compactMap { $0["delta", "tool_calls"]?.serialized() }
            #expect(
                toolDeltas == [
                    #"[{"index": 0, "id": "call_4", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]"#,
                    #"[{"index": 0, "function": {"arguments": "{\"city\": \"Paris\"}"}}]"#,
                ])
            #expect(chunks.last?["finish_reason"] == "tool_calls")
        }
    }

    @Test("in thinking mode an assistant tool call without reasoning_content is refused with DeepSeek's 400")
    func toolTurnRule() async throws {
        let turn: @Sendable (String) -> String = { reasoning in
            #"{"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "Weather?"}, "#
                + #"{"role": "assistant", "content": "", \#(reasoning)"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}, "#
                + #"{"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]}"#
        }
        try await TestServer([Self.hello]).withRouter { client in
            let refused = try await client.post("/v1/chat/completions", turn(""))
            #expect(refused.status == .badRequest)
            #expect(
                refused.text
                    == #"{"error": {"message": "The reasoning_content in the thinking mode must be passed back to the API.", "type": "invalid_request_error", "param": null, "code": "invalid_request_error"}}"#
            )
            let accepted = try await client.post("/v1/chat/completions", turn(#""reasoning_content": "", "#))
            #expect(accepted.status == .ok)
        }
    }

    @Test("a conversation that comes back reuses its prefix, and usage says so")
    func prefixReuse() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let first = try await client.post(
                "/v1/chat/completions", #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}]}"#
            ).json
            let second = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!"}, {"role": "user", "content": "And again?"}]}"#
            ).json
            #expect(first["usage", "prompt_cache_hit_tokens"] == 0)
            guard case .integer(let hit)? = second["usage", "prompt_cache_hit_tokens"],
                case .integer(let total)? = second["usage", "prompt_tokens"],
                case .integer(let miss)? = second["usage", "prompt_cache_miss_tokens"]
            else {
                Issue.record("usage fields missing")
                return
            }
            #expect(Int(hit)! >= 4)
            #expect(Int(hit)! + Int(miss)! == Int(total)!)
            #expect(second["usage", "prompt_tokens_details", "cached_tokens"] == .integer(hit))
        }
    }

    @Test("logprobs report the answer's tokens with their alternatives")
    func logprobs() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let json = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-chat", "logprobs": true, "top_logprobs": 2, "messages": [{"role": "user", "content": "Hi"}]}"#
            ).json
            guard case .array(let entries)? = json["choices", 0, "logprobs", "content"] else {
                Issue.record("no logprobs.content")
                return
            }
            #expect(entries.map { $0["token"] } == ["Hello", " there", "!"])
            #expect(entries.allSatisfy { $0["logprob"] == .float(0) })
            #expect(entries.allSatisfy { $0["top_logprobs"]?.arrayValue?.count == 2 })
        }
    }

    @Test("stop sequences end the answer without including it")
    func stopSequence() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let json = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-chat", "stop": [" there"], "messages": [{"role": "user", "content": "Hi"}]}"#
            ).json
            #expect(json["choices", 0, "message", "content"] == "Hello")
            #expect(json["choices", 0, "finish_reason"] == "stop")
        }
    }

    @Test("max_tokens cuts the answer with finish_reason length")
    func maxTokens() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let json = try await client.post(
                "/v1/chat/completions",
                #"{"model": "deepseek-chat", "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}"#
            ).json
            #expect(json["choices", 0, "message", "content"] == "Hello there")
            #expect(json["choices", 0, "finish_reason"] == "length")
            #expect(json["usage", "completion_tokens"] == 2)
        }
    }

    @Test("completions continue a prompt, and FIM fills the hole between prompt and suffix")
    func completions() async throws {
        try await TestServer(["return a + b" + Script.eos]).withRouter { client in
            let json = try await client.post(
                "/v1/completions",
                #"{"model": "deepseek-v4-flash", "prompt": "def add(a, b):\n    ", "suffix": "\n\nprint(add(1, 2))", "max_tokens": 20}"#
            ).json
            #expect(json["object"] == "text_completion")
            #expect(json["choices", 0, "text"] == "return a + b")
            #expect(json["choices", 0, "finish_reason"] == "stop")
            let stream = try await client.post(
                "/beta/completions", #"{"model": "deepseek-v4-flash", "prompt": "x = ", "max_tokens": 3, "stream": true}"#)
            let texts = try stream.events.dropLast().map { try JSONValue(parsing: $0.data)["choices", 0, "text"]! }
            #expect(texts == ["return", " a", " +", ""])
            #expect(stream.events.last?.data == "[DONE]")
        }
        // The prompt layout DeepSeek's FIM uses.
        let request = try CompletionRequest(
            RequestObject(try JSONValue(parsing: #"{"model": "deepseek-v4-flash", "prompt": "A", "suffix": "B"}"#), path: ""),
            configuration: ServerConfiguration())
        #expect(
            TestFiles.tokenizer.decode(try request.promptTokens(TestFiles.tokenizer))
                == "<｜begin▁of▁sentence｜><｜fim▁begin｜>A<｜fim▁hole｜>B<｜fim▁end｜>")
    }

    @Test("models lists the served name and DeepSeek's names")
    func models() async throws {
        try await TestServer([Self.hello]).withRouter { client in
            let json = try await client.execute(uri: "/v1/models", method: .get).json
            let ids = json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(ids == ["narwhal-test", "deepseek-v4-flash", "deepseek-v4-pro", "deepseek-chat", "deepseek-reasoner"])
        }
    }
}
