// How the next token is chosen. Defaults follow the model card (temperature 1.0, top-p 1.0); a
// temperature of 0 means greedy decoding.

public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Softmax temperature; 0 = always the most likely token.
    public var temperature: Float = 1
    /// Nucleus sampling: keep the smallest set of tokens whose probability adds up to `topP`.
    public var topP: Float = 1
    /// Keep only the `topK` most likely tokens; 0 = off.
    public var topK: Int = 0
    /// Drop tokens less likely than `minP` × the most likely one; 0 = off.
    public var minP: Float = 0
    /// OpenAI-style: subtract `presencePenalty` from every token already generated…
    public var presencePenalty: Float = 0
    /// …and `frequencyPenalty` × its count.
    public var frequencyPenalty: Float = 0
    /// llama.cpp/HF-style multiplicative penalty on tokens in the last `repetitionWindow` tokens
    /// (prompt and completion); 1 = off.
    public var repetitionPenalty: Float = 1
    public var repetitionWindow: Int = 64
    /// Same seed (and same inputs) ⇒ same output. `nil` = a fresh random seed.
    public var seed: UInt64?
    /// Return the log-probability of each chosen token and of this many alternatives; `nil` = none.
    public var logprobs: Int?

    public init(
        temperature: Float = 1, topP: Float = 1, topK: Int = 0, minP: Float = 0, presencePenalty: Float = 0,
        frequencyPenalty: Float = 0, repetitionPenalty: Float = 1, seed: UInt64? = nil, logprobs: Int? = nil
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.logprobs = logprobs
    }

    public static let greedy = SamplingParameters(temperature: 0)

    /// Checks ranges; the message names the parameter.
    public func validate() throws(GenerationError) {
        func check(_ ok: Bool, _ name: String, _ range: String) throws(GenerationError) {
            if !ok { throw .invalidParameter(name: name, expected: range) }
        }
        try check(temperature.isFinite && temperature >= 0 && temperature <= 100, "temperature", "0…100")
        try check(topP > 0 && topP <= 1, "top_p", "greater than 0 and at most 1")
        try check(topK >= 0, "top_k", ">= 0")
        try check(minP >= 0 && minP <= 1, "min_p", "0…1")
        try check(presencePenalty.isFinite && abs(presencePenalty) <= 2, "presence_penalty", "-2…2")
        try check(frequencyPenalty.isFinite && abs(frequencyPenalty) <= 2, "frequency_penalty", "-2…2")
        try check(repetitionPenalty.isFinite && repetitionPenalty > 0, "repetition_penalty", "> 0")
        try check(repetitionWindow >= 0, "repetition_window", ">= 0")
        if let n = logprobs { try check((0...20).contains(n), "top_logprobs", "0…20") }
    }
}

/// Errors of the generation layer, with what to do about them.
public enum GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidParameter(name: String, expected: String)
    case contextTooLong(tokens: Int, limit: Int)
    case emptyPrompt
    case model(String)
    /// Every slot is busy and the waiting queue is full.
    case busy(queued: Int)

    public var description: String {
        switch self {
        case .invalidParameter(let name, let expected): "invalid \(name): expected \(expected)"
        case .contextTooLong(let tokens, let limit):
            "the conversation needs \(tokens) tokens but the context holds \(limit); shorten it, lower max tokens, or raise the context size (--ctx)"
        case .emptyPrompt: "the prompt is empty"
        case .model(let message): message
        case .busy(let queued): "the server is busy: all slots are generating and \(queued) requests are already waiting; retry later"
        }
    }
}
