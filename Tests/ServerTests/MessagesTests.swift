// Anthropic Messages at router level: the message object, the standard event sequence with thinking,
// text and tool_use blocks, stop reasons, usage with cache reads, count_tokens and tool_result turns.

import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Tokenizers

@testable import Server

@Suite("Messages")
struct MessagesTests {
    static let reasoning = "Greeting.</think>Hi!" + Script.eos
    static let weather = "Checking.</think>Let me look." + Script.toolCall("get_weather", [("city", "Paris")]) + Script.eos
    static let tools = #"[{"name": "get_weather", "description": "Current weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]"#

    @Test("a message has thinking and text blocks, end_turn and Anthropic's usage")
    func message() async throws {
        try await TestServer([Self.reasoning]).withRouter { client in
            let response = try await client.post(
                "/v1/messages", #"{"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(response.status == .ok)
            #expect(
                response.text
                    == #"{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": ["#
                    + #"{"type": "thinking", "thinking": "Greeting.", "signature": ""}, {"type": "text", "text": "Hi!"}], "#
                    + #""stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 5, "#
                    + #""cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 7}}"#)
        }
    }

    @Test("a stream follows Anthropic's event sequence: message_start, blocks with deltas, message_delta, message_stop")
    func stream() async throws {
        try await TestServer([Self.weather]).withRouter { client in
            let response = try await client.post(
                "/anthropic/v1/messages",
                #"{"model": "deepseek-v4-flash", "max_tokens": 200, "stream": true, "tools": \#(Self.tools), "messages": [{"role": "user", "content": "Weather in Paris?"}]}"#
            )
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = response.events
            #expect(
                events.map(\.event) == [
                    "message_start",
                    "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
                    "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
                    "content_block_delta", "content_block_stop",
                    "content_block_start", "content_block_delta", "content_block_stop",
                    "message_delta", "message_stop",
                ])
            #expect(
                events.map(\.data)[0]
                    == #"{"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "#
                    + #""model": "deepseek-v4-flash", "content": [], "stop_reason": null, "stop_sequence": null, "usage": "#
                    + #"{"input_tokens": 274, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}}}"#)
            #expect(events[1].data == #"{"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}"#)
            #expect(events[2].data == #"{"type": "ping"}"#)
            #expect(events[3].data == #"{"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Checking"}}"#)
            #expect(events[6].data == #"{"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}"#)
            #expect(events[7].data == #"{"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Let"}}"#)
            #expect(
                events[12].data
                    == #"{"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}}"#
            )
            #expect(
                events[13].data
                    == #"{"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Paris\"}"}}"#
            )
            #expect(events[14].data == #"{"type": "content_block_stop", "index": 2}"#)
            let delta = try JSONValue(parsing: events[15].data)
            #expect(delta["delta"] == ["stop_reason": "tool_use", "stop_sequence": nil])
            #expect(delta["usage"] == ["input_tokens": 274, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 51])
            #expect(events[16].data == #"{"type": "message_stop"}"#)
        }
    }

    @Test("tool_use and tool_result turns go back into the conversation; thinking can be disabled")
    func toolRoundTrip() async throws {
        try await TestServer([Self.weather, "It is sunny in Paris." + Script.eos]).withRouter { client in
            let first = try await client.post(
                "/v1/messages",
                #"{"model": "deepseek-v4-flash", "max_tokens": 200, "tools": \#(Self.tools), "messages": [{"role": "user", "content": "Weather in Paris?"}]}"#
            ).json
            #expect(first["stop_reason"] == "tool_use")
            #expect(first["content", 2] == ["type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": ["city": "Paris"]])

            let second = try await client.post(
                "/v1/messages",
                #"{"model": "deepseek-v4-flash", "max_tokens": 200, "thinking": {"type": "disabled"}, "tools": \#(Self.tools), "messages": ["#
                    + #"{"role": "user", "content": "Weather in Paris?"}, "#
                    + #"{"role": "assistant", "content": \#(first["content"]!.serialized())}, "#
                    + #"{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "sunny, 24 °C"}]}]}"#
            ).json
            #expect(second["content"] == [["type": "text", "text": "It is sunny in Paris."]])
            #expect(second["stop_reason"] == "end_turn")
            // The tool turn extends the first prompt, so it comes from the slot's cache — all of it but its
            // last token: that prompt opened thinking (`<think>`), this one (thinking disabled) `</think>`.
            #expect(first["usage", "input_tokens"] == 274)
            #expect(second["usage", "cache_read_input_tokens"] == 273)
        }
    }

    @Test("stop_sequences end the message with stop_reason stop_sequence")
    func stopSequence() async throws {
        try await TestServer(["One. Two. Three." + Script.eos]).withRouter { client in
            let json = try await client.post(
                "/v1/messages",
                #"{"model": "x", "max_tokens": 50, "stop_sequences": [" Two"], "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "Count"}]}"#
            ).json
            #expect(json["content"] == [["type": "text", "text": "One."]])
            #expect(json["stop_reason"] == "stop_sequence")
            #expect(json["stop_sequence"] == " Two")
        }
    }

    @Test("max_tokens ends the message with stop_reason max_tokens")
    func maxTokens() async throws {
        try await TestServer(["One. Two. Three." + Script.eos]).withRouter { client in
            let json = try await client.post(
                "/v1/messages",
                #"{"model": "x", "max_tokens": 2, "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "Count"}]}"#
            ).json
            #expect(json["stop_reason"] == "max_tokens")
            #expect(json["usage", "output_tokens"] == 2)
        }
    }

    @Test("count_tokens counts the prompt the message would have, system and tools included")
    func countTokens() async throws {
        let server = TestServer([Self.reasoning])
        try await server.withRouter { client in
            let body = #"{"model": "x", "system": "Be brief.", "tools": \#(Self.tools), "messages": [{"role": "user", "content": "Hi"}]}"#
            let json = try await client.post("/v1/messages/count_tokens", body).json
            let request = try MessagesRequest(RequestObject(try JSONValue(parsing: body), path: ""), requireMaxTokens: false)
            let expected = try server.engine.promptTokens(request.conversation).count
            #expect(json == ["input_tokens": .integer(String(expected))])
        }
    }

    @Test("system blocks, tool results and assistant blocks map onto the chat format's messages")
    func mapping() throws {
        let body = try JSONValue(
            parsing: #"{"model": "x", "max_tokens": 5, "system": [{"type": "text", "text": "Be brief."}], "messages": ["#
                + #"{"role": "user", "content": "Weather?"}, "#
                + #"{"role": "assistant", "content": [{"type": "thinking", "thinking": "Look it up.", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Paris"}}]}, "#
                + #"{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "sunny"}]}, {"type": "text", "text": "Thanks"}]}]}"#)
        let request = try MessagesRequest(RequestObject(body, path: ""))
        #expect(request.messages.map(\.role) == [.system, .user, .assistant, .tool, .user])
        #expect(request.messages[2].reasoningContent == "Look it up.")
        #expect(request.messages[2].toolCalls == [ToolCall(id: "t1", name: "w", arguments: #"{"city": "Paris"}"#)])
        #expect(request.messages[3].toolCallID == "t1")
        #expect(request.messages[3].content == .parts([.init(type: "text", text: "sunny")]))
        #expect(request.parseMode == .thinking)
    }
}
