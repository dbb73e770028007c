// ServerConfiguration: what `narwhal serve` decides about the HTTP side (address, key, names, limits),
// and the model names the server answers to.
//
// One model is loaded; it answers to the names DeepSeek's API uses for V4 (`deepseek-v4-flash`,
// `deepseek-v4-pro`, and the legacy `deepseek-chat` / `deepseek-reasoner`, which select non-thinking /
// thinking by default) and to the served names given on the command line. The Anthropic endpoint maps
// any name to the model, as DeepSeek's does (unknown names → Flash).

import Foundation

/// Settings of the API server.
public struct ServerConfiguration: Sendable {
    /// Address to listen on; loopback by default, so nothing is exposed unless asked for.
    public var host: String
    public var port: Int
    /// When set, every API request must carry it (`Authorization: Bearer …` or `x-api-key: …`).
    public var apiKey: String?
    /// Names listed by `GET /v1/models` and accepted as `model`, besides DeepSeek's own.
    public var servedModelNames: [String]
    /// Completion tokens for chat requests that set no `max_tokens`; nil means DeepSeek's defaults (4096
    /// without thinking, 32768 with). The CLI lowers it for the random-weight default model, whose answers
    /// would otherwise run on until the limit anyway.
    public var defaultMaxTokens: Int?
    /// Largest request body accepted, in bytes (a 1M-token conversation is a few MB of text).
    public var maxRequestBodyBytes: Int
    /// On SIGINT/SIGTERM, generations still running after this long are cancelled (new requests are
    /// refused with 503 at once).
    public var shutdownGracePeriod: Duration
    /// Makes the ids of responses and tool calls (`chatcmpl-…`, `call_…`, `msg_…`, `toolu_…`) from a
    /// prefix; random by default, replaceable so tests can compare whole responses.
    public var makeID: @Sendable (_ prefix: String) -> String
    /// The clock for `created` timestamps; replaceable for tests.
    public var now: @Sendable () -> Date

    public init(
        host: String = "127.0.0.1", port: Int = 8000, apiKey: String? = nil,
        servedModelNames: [String] = [ModelNames.flash], maxRequestBodyBytes: Int = 32 << 20,
        shutdownGracePeriod: Duration = .seconds(10),
        makeID: @escaping @Sendable (_ prefix: String) -> String = ServerConfiguration.randomID,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.servedModelNames = servedModelNames
        self.defaultMaxTokens = nil
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.shutdownGracePeriod = shutdownGracePeriod
        self.makeID = makeID
        self.now = now
    }

    /// `prefix` followed by 24 random letters and digits, the length of OpenAI's and Anthropic's ids.
    public static let randomID: @Sendable (String) -> String = { prefix in
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return prefix + String((0..<24).map { _ in alphabet.randomElement()! })
    }

    /// Whether `name` selects the loaded model on the OpenAI endpoints.
    func accepts(model name: String) -> Bool {
        servedModelNames.contains(name) || ModelNames.deepSeek.contains(name)
    }

    /// Every accepted name, served names first.
    public var modelNames: [String] {
        var names = servedModelNames
        for name in ModelNames.deepSeek where !names.contains(name) { names.append(name) }
        return names
    }
}

/// The model names of DeepSeek's API.
public enum ModelNames {
    public static let flash = "deepseek-v4-flash"
    public static let pro = "deepseek-v4-pro"
    /// Legacy name: V4 Flash with thinking disabled by default.
    public static let chat = "deepseek-chat"
    /// Legacy name: V4 Flash with thinking enabled.
    public static let reasoner = "deepseek-reasoner"
    static let deepSeek = [flash, pro, chat, reasoner]

    /// Whether thinking is on when the request does not say (DeepSeek: enabled, except `deepseek-chat`).
    static func thinkingByDefault(_ name: String) -> Bool { name != chat }
}
