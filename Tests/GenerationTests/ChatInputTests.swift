// The chat's command language and the reasoning modes: how a typed line or a flag value is understood.

import Testing
import Tokenizers

@testable import Generation

@Suite("Chat input")
struct ChatInputTests {
    func command(_ line: String) throws -> SlashCommand? {
        if case .command(let c) = try ChatInput(parsing: line) { return c }
        return nil
    }

    @Test("plain lines are messages, trimmed; // sends a leading slash")
    func messages() throws {
        #expect(try ChatInput(parsing: "  Hello there \n") == .message("Hello there"))
        #expect(try ChatInput(parsing: "") == .message(""))
        #expect(try ChatInput(parsing: "//etc/hosts is a file") == .message("/etc/hosts is a file"))
        #expect(try ChatInput(parsing: "a /think in the middle") == .message("a /think in the middle"))
    }

    @Test("every command parses, with its aliases and any case")
    func commands() throws {
        #expect(try command("/think") == .mode(.think))
        #expect(try command("/nothink") == .mode(.nonThink))
        #expect(try command("/no-think") == .mode(.nonThink))
        #expect(try command("/MAX") == .mode(.thinkMax))
        #expect(try command("/reset") == .reset)
        #expect(try command("/clear") == .reset)
        #expect(try command("/system  You are a pirate.  ") == .system("You are a pirate."))
        #expect(try command("/system") == .system(nil))
        #expect(try command("/save ~/chats/a b.json") == .save(path: "~/chats/a b.json"))
        #expect(try command("/load chat.json") == .load(path: "chat.json"))
        #expect(try command("/stats") == .stats)
        #expect(try command("/help") == .help)
        #expect(try command("/?") == .help)
        for quit in ["/quit", "/exit", "/bye", "/q"] { #expect(try command(quit) == .quit) }
        #expect(try command("/reasoning collapse") == .reasoning(.collapse))
        #expect(try command("/reasoning Hide") == .reasoning(.hide))
        #expect(try command("/reasoning") == .reasoning(nil))
    }

    @Test("bad commands are errors that point to /help or the usage", arguments: [
        ("/thinkk", "unknown command /thinkk"),
        ("/", "unknown command /"),
        ("/save", "/save needs an argument: /save FILE"),
        ("/load   ", "/load needs an argument"),
        ("/reset now", "/reset takes no argument"),
        ("/reasoning loud", "expected show, hide or collapse"),
    ])
    func badCommands(line: String, expected: String) {
        #expect {
            _ = try ChatInput(parsing: line)
        } throws: { "\($0)".contains(expected) }
    }

    @Test("every command in the help list parses")
    func helpIsAccurate() throws {
        for (usage, _) in SlashCommand.summaries {
            let line = usage.replacingOccurrences(of: "show|hide|collapse", with: "show")
            #expect(try command(line) != nil, "\(usage)")
        }
    }
}

@Suite("ReasoningMode")
struct ReasoningModeTests {
    @Test("names and the spellings people use map to the three modes")
    func parsing() throws {
        for name in ["non-think", "nothink", "no_think", "chat", "none", "OFF"] {
            #expect(try ReasoningMode(parsing: name) == .nonThink)
        }
        for name in ["think", "thinking", "high", "Think-High"] { #expect(try ReasoningMode(parsing: name) == .think) }
        for name in ["think-max", "think_max", "max"] { #expect(try ReasoningMode(parsing: name) == .thinkMax) }
    }

    @Test("an unknown mode names the valid ones")
    func unknown() {
        #expect {
            _ = try ReasoningMode(parsing: "deep")
        } throws: { "\($0)".contains("'deep'") && "\($0)".contains("non-think, think, think-max") }
    }

    @Test("modes map onto thinking mode and reasoning effort, and back")
    func chatFormat() {
        #expect(ReasoningMode.nonThink.thinkingMode == .chat && ReasoningMode.nonThink.reasoningEffort == nil)
        #expect(ReasoningMode.think.thinkingMode == .thinking && ReasoningMode.think.reasoningEffort == nil)
        #expect(ReasoningMode.thinkMax.thinkingMode == .thinking && ReasoningMode.thinkMax.reasoningEffort == .max)
        for mode in ReasoningMode.allCases {
            #expect(ReasoningMode(thinkingMode: mode.thinkingMode, reasoningEffort: mode.reasoningEffort) == mode)
        }
        // An effort has no effect without thinking, and "high" is the default effort.
        #expect(ReasoningMode(thinkingMode: .chat, reasoningEffort: .max) == .nonThink)
        #expect(ReasoningMode(thinkingMode: .thinking, reasoningEffort: .high) == .think)
        var c = Conversation(messages: [])
        c.reasoningMode = .thinkMax
        #expect(c.thinkingMode == .thinking && c.reasoningEffort == .max)
    }

    @Test("Think Max below 384K tokens of context warns and says how to enable it")
    func contextWarning() throws {
        let warning = try #require(ReasoningMode.thinkMax.contextWarning(contextLimit: 65_536))
        #expect(warning.contains("384K") && warning.contains("--ctx 393216"))
        #expect(ReasoningMode.thinkMax.contextWarning(contextLimit: 393_216) == nil)
        #expect(ReasoningMode.think.contextWarning(contextLimit: 1024) == nil)
    }
}
