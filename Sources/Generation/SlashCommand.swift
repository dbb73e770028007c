// SlashCommand: the commands an interactive chat understands between messages (`/think`, `/save FILE`,
// …), parsed from one input line. A line that does not start with `/` is a message; `//` escapes a
// message that itself starts with a slash. Parsing is separate from acting on the commands so the
// command language is tested without a terminal and shared by any interactive front end.

/// One line of chat input: a message or a command.
public enum ChatInput: Sendable, Equatable {
    case message(String)
    case command(SlashCommand)

    /// Parses one input line; throws ``SlashCommandError`` for an unknown command or a missing or
    /// invalid argument. Leading and trailing whitespace of the line is ignored.
    public init(parsing line: String) throws(SlashCommandError) {
        let text = line.trimmingWhitespace()
        if text.hasPrefix("//") {
            self = .message(String(text.dropFirst()))
        } else if text.hasPrefix("/") {
            self = .command(try SlashCommand(parsing: text))
        } else {
            self = .message(text)
        }
    }
}

/// How reasoning is shown while it streams.
public enum ReasoningDisplay: String, CaseIterable, Sendable, Equatable {
    /// Streamed as it comes (dim on a terminal).
    case show
    /// Not shown at all.
    case hide
    /// One line, `[thought for N tokens]`, instead of the text.
    case collapse
}

/// A chat command.
public enum SlashCommand: Sendable, Equatable {
    /// Switch the reasoning mode for the next answers (`/think`, `/nothink`, `/max`).
    case mode(ReasoningMode)
    /// Forget the turns (the system prompt stays).
    case reset
    /// Set the system prompt; nil clears it.
    case system(String?)
    case save(path: String)
    case load(path: String)
    /// Tokens in context, cached and computed, speed of the last answer.
    case stats
    /// Show, hide or collapse reasoning; nil asks for the current setting.
    case reasoning(ReasoningDisplay?)
    case help
    case quit

    /// One line per command, for `/help`.
    public static let summaries: [(usage: String, summary: String)] = [
        ("/think", "reason before answering (think high; the default)"),
        ("/nothink", "answer directly, without reasoning"),
        ("/max", "think max: longest reasoning (needs a large context)"),
        ("/reasoning show|hide|collapse", "how reasoning is displayed"),
        ("/system TEXT", "set the system prompt (/system alone clears it)"),
        ("/reset", "forget the conversation (the system prompt stays)"),
        ("/save FILE", "save the conversation as JSON"),
        ("/load FILE", "load a conversation saved with /save"),
        ("/stats", "tokens in context, cache use and speed"),
        ("/help", "this list"),
        ("/quit", "leave (or Ctrl-D)"),
    ]

    /// Parses `/name [argument]`.
    public init(parsing text: String) throws(SlashCommandError) {
        let body = text.trimmingWhitespace().dropFirst()
        let name = body.prefix { !$0.isWhitespace }.lowercased()
        let argument = String(body.dropFirst(name.count)).trimmingWhitespace()
        func noArgument(_ command: SlashCommand) throws(SlashCommandError) -> SlashCommand {
            guard argument.isEmpty else { throw .unexpectedArgument(command: "/" + name) }
            return command
        }
        func path(_ make: (String) -> SlashCommand) throws(SlashCommandError) -> SlashCommand {
            guard !argument.isEmpty else { throw .missingArgument(command: "/" + name, usage: "/\(name) FILE") }
            return make(argument)
        }
        switch name {
        case "think": self = try noArgument(.mode(.think))
        case "nothink", "no-think", "no_think": self = try noArgument(.mode(.nonThink))
        case "max", "think-max", "thinkmax": self = try noArgument(.mode(.thinkMax))
        case "reset", "clear": self = try noArgument(.reset)
        case "system": self = .system(argument.isEmpty ? nil : argument)
        case "save": self = try path { .save(path: $0) }
        case "load": self = try path { .load(path: $0) }
        case "stats": self = try noArgument(.stats)
        case "help", "?": self = try noArgument(.help)
        case "quit", "exit", "bye", "q": self = try noArgument(.quit)
        case "reasoning":
            if argument.isEmpty {
                self = .reasoning(nil)
            } else if let display = ReasoningDisplay(rawValue: argument.lowercased()) {
                self = .reasoning(display)
            } else {
                throw .invalidArgument(command: "/reasoning", argument: argument, expected: "show, hide or collapse")
            }
        default: throw .unknown(command: "/" + name)
        }
    }
}

/// A line that starts with `/` but is not a valid command.
public enum SlashCommandError: Error, CustomStringConvertible, Equatable, Sendable {
    case unknown(command: String)
    case missingArgument(command: String, usage: String)
    case unexpectedArgument(command: String)
    case invalidArgument(command: String, argument: String, expected: String)

    public var description: String {
        switch self {
        case .unknown(let command):
            "unknown command \(command); type /help for the list (start a message with // to send a leading /)"
        case .missingArgument(let command, let usage): "\(command) needs an argument: \(usage)"
        case .unexpectedArgument(let command): "\(command) takes no argument; type /help for the list"
        case .invalidArgument(let command, let argument, let expected):
            "\(command): '\(argument)' is not valid; expected \(expected)"
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace and newlines.
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
