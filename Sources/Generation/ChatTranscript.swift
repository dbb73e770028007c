// ChatTranscript: the state of an interactive chat — system prompt, the turns so far, reasoning mode —
// and its file format. Each turn the front end renders `conversation` (the whole history) and hands it to
// the engine, whose session then computes only the new tokens; after the answer it appends the reply
// (content, reasoning and tool calls) so the next prompt repeats this turn exactly as generated.
//
// The file is the keyword arguments of the official `encode_messages(...)` (`thinking_mode`,
// `reasoning_effort`, `messages` with OpenAI-style dictionaries), one message per line: a saved chat can
// be fed to the official encoder as it is (`encode_messages(**json.load(f))`). Reading also accepts a
// bare list of messages, or an object without `thinking_mode` (the current mode is kept). Writing is
// atomic: the file is written under a temporary name and renamed, so a crash never leaves half a file.

import Foundation
import Tokenizers

/// A chat's history and settings, with JSON save and load.
public struct ChatTranscript: Sendable, Equatable {
    /// Sent as the first message when set.
    public var systemPrompt: String?
    /// The turns (without the system prompt), oldest first.
    public var messages: [Message]
    public var reasoningMode: ReasoningMode

    public init(systemPrompt: String? = nil, messages: [Message] = [], reasoningMode: ReasoningMode = .think) {
        self.systemPrompt = systemPrompt
        self.messages = messages
        self.reasoningMode = reasoningMode
    }

    /// What the engine renders: the system prompt, then the turns, in the chosen mode.
    public var conversation: Conversation {
        let system = systemPrompt.map { [Message(role: .system, text: $0)] } ?? []
        var conversation = Conversation(messages: system + messages)
        conversation.reasoningMode = reasoningMode
        return conversation
    }

    /// Forgets the turns; keeps the system prompt and the mode.
    public mutating func reset() {
        messages = []
    }

    // MARK: File format

    /// The transcript as a JSON text: the encoder's keyword arguments, one message per line.
    public var jsonText: String {
        let conversation = conversation
        var lines = ["{", "  \"thinking_mode\": \(JSONValue.string(conversation.thinkingMode.rawValue).serialized()),"]
        if let effort = conversation.reasoningEffort {
            lines.append("  \"reasoning_effort\": \(JSONValue.string(effort.rawValue).serialized()),")
        }
        if conversation.messages.isEmpty {
            lines.append("  \"messages\": []")
        } else {
            lines.append("  \"messages\": [")
            let rendered = conversation.messages.map { "    " + $0.officialJSON.serialized() }
            lines.append(rendered.joined(separator: ",\n"))
            lines.append("  ]")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a transcript from JSON text (see the file header for the accepted shapes). The reasoning
    /// mode is `currentMode` when the text does not name one. A leading system message with text becomes
    /// the system prompt.
    public init(jsonText text: String, currentMode: ReasoningMode = .think) throws(ChatTranscriptError) {
        let json: JSONValue
        do { json = try JSONValue(parsing: text) } catch { throw .invalidJSON(error.description) }
        var arguments: JSONObject
        switch json {
        case .array: arguments = ["messages": json]
        case .object(let object): arguments = object
        default: throw .invalidConversation("expected a JSON object with \"messages\", or a list of messages")
        }
        guard arguments["messages"] != nil else { throw .invalidConversation("there is no \"messages\" list") }
        if arguments["thinking_mode"] == nil {
            arguments["thinking_mode"] = .string(currentMode.thinkingMode.rawValue)
            if let effort = currentMode.reasoningEffort, arguments["reasoning_effort"] == nil {
                arguments["reasoning_effort"] = .string(effort.rawValue)
            }
        }
        let conversation: Conversation
        do { conversation = try Conversation(encoderArguments: .object(arguments)) } catch {
            throw .invalidConversation(error.message)
        }
        guard [.chat, .thinking].contains(conversation.thinkingMode) else {
            throw .invalidConversation("thinking_mode must be \"chat\" or \"thinking\", not \"\(conversation.thinkingMode.rawValue)\"")
        }
        if let effort = conversation.reasoningEffort, ![.high, .max].contains(effort) {
            throw .invalidConversation("reasoning_effort must be \"high\", \"max\" or null, not \"\(effort.rawValue)\"")
        }
        let roles: Set<Message.Role> = [.system, .user, .assistant, .tool, .developer, .latestReminder]
        for (index, message) in conversation.messages.enumerated() where !roles.contains(message.role) {
            throw .invalidConversation("message \(index + 1) has the unknown role \"\(message.role.rawValue)\"")
        }
        var messages = conversation.messages
        if let first = messages.first, first.role == .system, case .text(let prompt)? = first.content,
            first.tools.isEmpty, first.responseFormat == nil
        {
            systemPrompt = prompt
            messages.removeFirst()
        } else {
            systemPrompt = nil
        }
        self.messages = messages
        reasoningMode = conversation.reasoningMode
    }

    /// Writes the transcript to `url` atomically (a temporary file renamed into place).
    public func write(to url: URL) throws(ChatTranscriptError) {
        var isDirectory: ObjCBool = false
        let parent = url.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .cannotWrite(path: url.path, reason: "the directory \(parent.path) does not exist")
        }
        do {
            try Data(jsonText.utf8).write(to: url, options: .atomic)
        } catch {
            throw .cannotWrite(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Reads a transcript file; see ``init(jsonText:currentMode:)``.
    public static func read(from url: URL, currentMode: ReasoningMode = .think) throws(ChatTranscriptError) -> ChatTranscript {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .cannotRead(path: url.path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw .cannotRead(path: url.path, reason: "it is a directory") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .cannotRead(path: url.path, reason: (error as NSError).localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .cannotRead(path: url.path, reason: "it is not UTF-8 text")
        }
        do { return try ChatTranscript(jsonText: text, currentMode: currentMode) } catch {
            throw error.in(file: url.path)
        }
    }
}

/// Why a chat could not be saved or loaded; each message says what to do.
public enum ChatTranscriptError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    /// The text is not JSON; `file` is set when it came from a file.
    case invalidJSON(String, file: String? = nil)
    /// The JSON is not a conversation.
    case invalidConversation(String, file: String? = nil)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason):
            "cannot read '\(path)': \(reason); hint: check the path (a file written by /save)"
        case .cannotWrite(let path, let reason):
            "cannot write '\(path)': \(reason); hint: check that the directory exists and is writable"
        case .invalidJSON(let reason, let file):
            "\(file.map { "'\($0)' is" } ?? "this is") not valid JSON: \(reason); "
                + "hint: load a file written by /save, or an object with a \"messages\" list"
        case .invalidConversation(let reason, let file):
            "\(file.map { "'\($0)' is" } ?? "this is") not a conversation: \(reason); "
                + "hint: load a file written by /save, or an object with a \"messages\" list of "
                + "{\"role\": …, \"content\": …} messages"
        }
    }

    /// The same error, naming the file it came from.
    func `in`(file: String) -> ChatTranscriptError {
        switch self {
        case .invalidJSON(let reason, _): .invalidJSON(reason, file: file)
        case .invalidConversation(let reason, _): .invalidConversation(reason, file: file)
        default: self
        }
    }
}
