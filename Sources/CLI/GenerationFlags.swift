// The generation flags `chat` and `run` share (and `serve` will take as defaults): sampling, limits,
// reasoning mode and system prompt. Defaults follow the model card (temperature 1.0, top-p 1.0) and
// DeepSeek's API (think mode on). Values are checked here, before the model loads, so a typo costs no
// waiting; the ranges are those of `SamplingParameters.validate()`.

import ArgumentParser
import Generation

struct GenerationFlags: ParsableArguments {
    @Option(help: "Sampling temperature; 0 = always the most likely token (greedy).")
    var temperature: Float = 1

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most likely tokens up to this probability mass (0–1].")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Keep only the K most likely tokens; 0 = off.")
    var topK: Int = 0

    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than this fraction of the most likely one; 0 = off.")
    var minP: Float = 0

    @Option(help: "Random seed: the same seed and input give the same output. Default: a fresh seed each time.")
    var seed: UInt64?

    @Option(name: .customLong("max-tokens"), help: "Most tokens per answer, reasoning included. Default: until the model stops or the context is full (256 on the random-weight default model).")
    var maxTokens: Int?

    @Flag(
        help: ArgumentHelp(
            "Reasoning mode: --think reasons first (think high, the default), --no-think answers directly, --think-max reasons longest (wants --ctx 393216 or more)."))
    var reasoning: ReasoningFlag = .think

    @Option(name: .customLong("reasoning-mode"), help: ArgumentHelp("Reasoning mode by name: non-think, think or think-max (overrides the flags).", valueName: "mode"))
    var reasoningModeName: String?

    @Option(help: "System prompt.")
    var system: String?

    @Option(help: ArgumentHelp("Stop when the model writes this text (not included in the answer); repeatable.", valueName: "text"))
    var stop: [String] = []

    @Option(name: .customLong("presence-penalty"), help: "Penalise tokens already in the answer (−2…2, OpenAI style).")
    var presencePenalty: Float = 0

    @Option(name: .customLong("frequency-penalty"), help: "Penalise tokens by how often they appear in the answer (−2…2, OpenAI style).")
    var frequencyPenalty: Float = 0

    @Option(name: .customLong("repeat-penalty"), help: "Penalise the tokens of the last 64 (prompt included) by this factor, llama.cpp style (e.g. 1.1); 1 = off.")
    var repeatPenalty: Float = 1

    @Option(name: .customLong("ctx"), help: ArgumentHelp("Context size in tokens (prompt + answer). Default: the model's max_position_embeddings.", valueName: "tokens"))
    var contextSize: Int?

    enum ReasoningFlag: String, EnumerableFlag {
        case think, noThink, thinkMax

        static func name(for value: ReasoningFlag) -> NameSpecification {
            switch value {
            case .think: .customLong("think")
            case .noThink: .customLong("no-think")
            case .thinkMax: .customLong("think-max")
            }
        }
    }

    func validate() throws {
        do {
            try sampling.validate()
            _ = try reasoningMode
        } catch let error as GenerationError {
            throw ValidationError(flagMessage(error))
        }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let contextSize, contextSize < 2 { throw ValidationError("--ctx must be at least 2 tokens") }
        if stop.contains("") { throw ValidationError("--stop needs a non-empty text") }
    }

    /// The sampling parameters the flags describe.
    var sampling: SamplingParameters {
        SamplingParameters(
            temperature: temperature, topP: topP, topK: topK, minP: minP, presencePenalty: presencePenalty,
            frequencyPenalty: frequencyPenalty, repetitionPenalty: repeatPenalty, seed: seed)
    }

    /// The reasoning mode: `--reasoning-mode NAME` if given, else the flag.
    var reasoningMode: ReasoningMode {
        get throws {
            if let reasoningModeName { return try ReasoningMode(parsing: reasoningModeName) }
            return switch reasoning {
            case .think: .think
            case .noThink: .nonThink
            case .thinkMax: .thinkMax
            }
        }
    }

    /// The options of one generation; `perTokenEvents` asks for a `.logprobs` event per token (exact live
    /// token counts) without alternatives; `defaultMaxTokens` applies when --max-tokens is not given.
    func options(perTokenEvents: Bool = false, defaultMaxTokens: Int? = nil) -> GenerationOptions {
        var sampling = sampling
        if perTokenEvents { sampling.logprobs = 0 }
        return GenerationOptions(sampling: sampling, maxTokens: maxTokens ?? defaultMaxTokens, stop: stop)
    }

    /// A sampling error in terms of the command-line flag that caused it.
    private func flagMessage(_ error: GenerationError) -> String {
        guard case .invalidParameter(let name, let expected) = error else { return error.description }
        let flags = [
            "temperature": "--temperature", "top_p": "--top-p", "top_k": "--top-k", "min_p": "--min-p",
            "presence_penalty": "--presence-penalty", "frequency_penalty": "--frequency-penalty",
            "repetition_penalty": "--repeat-penalty",
        ]
        if let flag = flags[name] { return "\(flag) must be \(expected)" }
        if name.hasPrefix("reasoning mode") { return "--reasoning-mode: unknown \(name); expected one of \(expected)" }
        return error.description
    }
}
