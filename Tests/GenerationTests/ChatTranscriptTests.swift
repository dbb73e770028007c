// The chat's saved-conversation format: what /save writes reads back equal, is valid input for the
// official encoder's keyword arguments, and every kind of bad file gives an error that says what is
// wrong instead of a crash.

import Foundation
import Testing
import Tokenizers

@testable import Generation

@Suite("ChatTranscript")
struct ChatTranscriptTests {
    /// A transcript with everything a chat can produce: a system prompt, reasoning, a tool call with its
    /// result, text that needs escaping.
    static let sample = ChatTranscript(
        systemPrompt: "You are terse.\nAnswer in \"one\" line.",
        messages: [
            Message(role: .user, text: "Weather in Zürich? 🌧"),
            Message(
                role: .assistant, content: .text("Let me check."), reasoningContent: "Need the tool.\tOK",
                toolCalls: [ToolCall(id: "call_0", name: "get_weather", arguments: "{\"city\": \"Zürich\"}")]),
            Message(role: .tool, content: .text("12 °C, rain"), toolCallID: "call_0"),
            Message(role: .assistant, content: .text("12 °C and rain."), reasoningContent: "Report it."),
            Message(role: .user, text: "Thanks\\"),
        ],
        reasoningMode: .thinkMax)

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("narwhal-transcript-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a saved transcript reads back equal")
    func roundTrip() throws {
        let text = Self.sample.jsonText
        #expect(try ChatTranscript(jsonText: text) == Self.sample)
        for mode in ReasoningMode.allCases {
            var t = Self.sample
            t.reasoningMode = mode
            #expect(try ChatTranscript(jsonText: t.jsonText, currentMode: .think) == t)
        }
        let empty = ChatTranscript(reasoningMode: .nonThink)
        #expect(try ChatTranscript(jsonText: empty.jsonText) == empty)
    }

    @Test("the file holds the official encoder's keyword arguments, one message per line")
    func encoderArguments() throws {
        let text = Self.sample.jsonText
        let conversation = try Conversation(encoderArguments: try JSONValue(parsing: text))
        #expect(conversation == Self.sample.conversation)
        #expect(conversation.thinkingMode == .thinking && conversation.reasoningEffort == .max)
        #expect(text.split(separator: "\n").count == Self.sample.messages.count + 1 + 6)
    }

    @Test("writing is atomic and leaves no temporary files; reading the file gives the transcript")
    func fileRoundTrip() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("chat.json")
        try ChatTranscript(messages: [Message(role: .user, text: "old")]).write(to: url)
        try Self.sample.write(to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["chat.json"])
        #expect(try ChatTranscript.read(from: url) == Self.sample)
    }

    @Test("a bare list of messages, or an object without a mode, keeps the current mode")
    func lenientShapes() throws {
        let list = #"[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]"#
        let fromList = try ChatTranscript(jsonText: list, currentMode: .nonThink)
        #expect(fromList.reasoningMode == .nonThink)
        #expect(fromList.messages.map(\.role) == [.user, .assistant])
        #expect(fromList.systemPrompt == nil)
        let object = #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}"#
        let fromObject = try ChatTranscript(jsonText: object, currentMode: .thinkMax)
        #expect(fromObject.reasoningMode == .thinkMax)
        #expect(fromObject.systemPrompt == "Be brief.")
        #expect(fromObject.messages.count == 1)
    }

    @Test("bad files give errors that say what is wrong", arguments: [
        ("", "not valid JSON"),
        ("{\"messages\": [", "not valid JSON"),
        ("42", "expected a JSON object"),
        ("{\"mesages\": []}", "no \"messages\" list"),
        ("{\"messages\": {}}", "must be a list"),
        ("{\"messages\": [], \"thinking_mode\": \"deep\"}", "thinking_mode must be"),
        ("{\"messages\": [], \"thinking_mode\": \"thinking\", \"reasoning_effort\": \"low\"}", "reasoning_effort must be"),
        ("{\"messages\": [{\"role\": \"robot\", \"content\": \"beep\"}]}", "unknown role \"robot\""),
        ("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "content must be a string"),
    ])
    func badInput(text: String, expected: String) {
        #expect {
            _ = try ChatTranscript(jsonText: text)
        } throws: { error in
            let message = "\(error)"
            return message.contains(expected) && message.contains("hint:")
        }
    }

    @Test("missing and unreadable files name the path")
    func fileErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("nope.json")
        #expect(throws: ChatTranscriptError.self) { _ = try ChatTranscript.read(from: missing) }
        let binary = directory.appendingPathComponent("binary.json")
        try Data([0xFF, 0xFE, 0x00]).write(to: binary)
        #expect {
            _ = try ChatTranscript.read(from: binary)
        } throws: { "\($0)".contains(binary.path) }
        let notJSON = directory.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: notJSON)
        #expect {
            _ = try ChatTranscript.read(from: notJSON)
        } throws: { "\($0)".contains(notJSON.path) && "\($0)".contains("not valid JSON") }
        #expect(throws: ChatTranscriptError.self) {
            try Self.sample.write(to: directory.appendingPathComponent("no/such/dir/chat.json"))
        }
    }

    @Test("reset forgets the turns and keeps the system prompt and mode")
    func reset() {
        var t = Self.sample
        t.reset()
        #expect(t.messages.isEmpty)
        #expect(t.systemPrompt == Self.sample.systemPrompt)
        #expect(t.reasoningMode == .thinkMax)
        #expect(t.conversation.messages.map(\.role) == [.system])
    }
}
