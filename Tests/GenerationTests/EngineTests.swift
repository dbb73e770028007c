// The engine end to end with a scripted model and the official tokenizer: what the model "says" is
// scripted as text, and the events must split it into reasoning, content and tool calls exactly.

import DeepSeekV4
import Foundation
import Testing
import Tokenizers

@testable import Generation

enum TestFiles {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let tokenizer = try! BPETokenizer(directory: root.appendingPathComponent("tokenizer"))
}

/// Collected events of one generation.
struct Transcript {
    var reasoning = ""
    var content = ""
    var toolCalls: [ToolCall] = []
    var finish: (FinishReason, Usage)?
    var events: [GenerationEvent] = []

    init(_ stream: GenerationStream) async throws {
        for try await e in stream {
            events.append(e)
            switch e {
            case .reasoning(let t): reasoning += t
            case .content(let t): content += t
            case .toolCall(let c): toolCalls.append(c)
            case .finish(let r, let u): finish = (r, u)
            case .prefill, .logprobs, .stopSequence: break
            }
        }
    }
}

@Suite("Engine")
struct EngineTests {
    let tokenizer = TestFiles.tokenizer

    func setup(_ conversation: Conversation, says text: String) throws -> (FakeModel, Engine<FakeModel>) {
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        let engine = Engine(model: model, tokenizer: tokenizer)
        model.script = (try engine.promptTokens(conversation), tokenizer.encode(text))
        return (model, engine)
    }

    func user(_ text: String, mode: ThinkingMode = .chat) -> Conversation {
        Conversation(messages: [Message(role: .user, text: text)], thinkingMode: mode)
    }

    @Test("a chat answer streams as content and ends at EOS with the usage")
    func chatAnswer() async throws {
        let c = user("Hi")
        let (_, engine) = try setup(c, says: "Hello there!<｜end▁of▁sentence｜>")
        let t = try await Transcript(engine.generate(c, options: GenerationOptions()))
        #expect(t.content == "Hello there!")
        #expect(t.reasoning == "")
        #expect(t.finish?.0 == .stop)
        let prompt = try engine.promptTokens(c)
        #expect(t.finish?.1 == Usage(promptTokens: prompt.count, cachedPromptTokens: 0,
                                     completionTokens: tokenizer.encode("Hello there!").count + 1, reasoningTokens: 0))
    }

    @Test("thinking mode splits reasoning from the answer and counts reasoning tokens")
    func thinking() async throws {
        let c = user("Why?", mode: .thinking)
        let (_, engine) = try setup(c, says: "Because.</think>It is so.<｜end▁of▁sentence｜>")
        let t = try await Transcript(engine.generate(c, options: GenerationOptions()))
        #expect(t.reasoning == "Because.")
        #expect(t.content == "It is so.")
        #expect(t.finish?.1.reasoningTokens == tokenizer.encode("Because.</think>").count)
    }

    @Test("a DSML tool call becomes a tool-call event and finish reason tool_calls")
    func toolCall() async throws {
        let c = user("Weather?")
        let dsml = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>"
        let (_, engine) = try setup(c, says: "Let me check." + dsml)
        let t = try await Transcript(engine.generate(c, options: GenerationOptions()))
        #expect(t.content == "Let me check.")
        #expect(t.toolCalls.map(\.name) == ["get_weather"])
        #expect(t.toolCalls.first?.arguments == "{\"city\": \"Paris\"}")
        #expect(t.finish?.0 == .toolCalls)
    }

    @Test("a stop string ends the answer and is not part of it")
    func stopString() async throws {
        let c = user("Count")
        let (_, engine) = try setup(c, says: "one two STOP three<｜end▁of▁sentence｜>")
        let t = try await Transcript(engine.generate(c, options: GenerationOptions(stop: ["STOP"])))
        #expect(t.content == "one two ")
        #expect(t.finish?.0 == .stop)
    }

    @Test("max tokens ends with finish reason length after exactly that many tokens")
    func maxTokens() async throws {
        let c = user("Talk")
        let (_, engine) = try setup(c, says: "a b c d e f g h<｜end▁of▁sentence｜>")
        let t = try await Transcript(engine.generate(c, options: GenerationOptions(maxTokens: 3)))
        #expect(t.finish?.0 == .length)
        #expect(t.finish?.1.completionTokens == 3)
        #expect(t.content == tokenizer.decode(Array(tokenizer.encode("a b c d").prefix(3))))
    }

    @Test("the second turn of a chat reuses the first and computes only the new tokens")
    func multiTurnReuse() async throws {
        var c = user("Hi")
        let (model, engine) = try setup(c, says: "Hello!<｜end▁of▁sentence｜>")
        let first = try await Transcript(engine.generate(c, options: GenerationOptions()))
        c.messages.append(Message(role: .assistant, text: first.content))
        c.messages.append(Message(role: .user, text: "How are you?"))
        let before = model.computed
        let prompt2 = try engine.promptTokens(c)
        model.script = (prompt2, tokenizer.encode("Fine.<｜end▁of▁sentence｜>"))
        let second = try await Transcript(engine.generate(c, options: GenerationOptions()))
        let usage = try #require(second.finish?.1)
        #expect(second.content == "Fine.")
        // Everything up to the end of the first answer (its EOS excluded: it was never fed) is reused.
        #expect(usage.cachedPromptTokens == prompt2.count - tokenizer.encode("<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜></think>").count)
        #expect(model.computed - before == usage.promptTokens - usage.cachedPromptTokens + usage.completionTokens - 1)
    }

    @Test("the same seed gives the same sampled answer")
    func seeded() async throws {
        let c = user("Say something")
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        let engine = Engine(model: model, tokenizer: tokenizer)
        func run(_ seed: UInt64) async throws -> String {
            engine.reset(session: "default")
            let o = GenerationOptions(sampling: SamplingParameters(temperature: 1, seed: seed), maxTokens: 8)
            let t = try await Transcript(engine.generate(c, options: o))
            return t.content + t.reasoning
        }
        #expect(try await run(1) == run(1))
        #expect(try await run(1) != run(2))
    }

    @Test("stopping to read the stream cancels the generation and frees the session")
    func cancellation() async throws {
        let c = user("Go on")
        let (model, engine) = try setup(c, says: String(repeating: "word ", count: 200))
        model.delay = 0.002
        let stream = engine.generate(c, options: GenerationOptions())
        var seen = 0
        for try await e in stream {
            if case .content = e { seen += 1 }
            if seen == 3 { break }
        }
        // The loop notices between two tokens: wait until the count stays put (a loaded machine may take a
        // while). Uncancelled, the 200-word answer would be done in about half a second.
        var computed = model.computed
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(200))
            if model.computed == computed { break }
            computed = model.computed
        }
        #expect(model.computed == computed, "no more tokens computed after cancellation")
        #expect(computed < 150)
        // The session is usable again.
        model.delay = 0
        let t = try await Transcript(engine.generate(c, options: GenerationOptions(maxTokens: 2)))
        #expect(t.finish?.0 == .length)
    }

    @Test("a stopped generation keeps its session busy until it winds down, and waitUntilIdle waits for that")
    func waitUntilIdle() async throws {
        let c = user("Go on")
        let (model, engine) = try setup(c, says: String(repeating: "word ", count: 200))
        // The prefill's two forward calls may pass; the first decode step is held at the gate.
        let gate = DispatchSemaphore(value: 2)
        model.gate = gate
        for try await e in engine.generate(c, options: GenerationOptions()) {
            if case .content = e { break }
        }
        #expect(engine.isBusy(session: "default"))
        for _ in 0..<10 { gate.signal() }
        await engine.waitUntilIdle(session: "default")
        #expect(!engine.isBusy(session: "default"))
        #expect(model.computed < 20)
    }

    @Test("bad parameters and over-long prompts are errors, not crashes")
    func errors() async throws {
        let c = user("Hi")
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize, contextLimit: 5)
        let engine = Engine(model: model, tokenizer: tokenizer)
        await #expect(throws: GenerationError.self) { _ = try await Transcript(engine.generate(c, options: GenerationOptions())) }
        let ok = Engine(model: FakeModel(vocabularySize: tokenizer.vocabularySize), tokenizer: tokenizer)
        await #expect(throws: GenerationError.self) {
            _ = try await Transcript(ok.generate(c, options: GenerationOptions(sampling: SamplingParameters(topP: 2))))
        }
    }
}

@Suite("Engine on the tiny fixture")
struct TinyModelGenerationTests {
    static func greedyIDs(_ engine: Engine<DeepSeekV4Model>, _ prompt: [Int], _ n: Int) async throws -> [Int] {
        var ids: [Int] = []
        let options = GenerationOptions(sampling: SamplingParameters(temperature: 0, logprobs: 0), maxTokens: n)
        for try await e in engine.generate(prompt: prompt, thinkingMode: .chat, options: options) {
            if case .logprobs(let l) = e { ids.append(l.chosen.id) }
        }
        return ids
    }

    /// Greedy generation through the whole engine (session, sampler, detokenizer, parser) follows the
    /// model's own greedy path, and a cached second turn gives the same tokens as a fresh session.
    @Test("greedy generation equals the model's greedy ids, cached or fresh")
    func greedyMatchesModel() async throws {
        let model = try DeepSeekV4Model(directory: TestFiles.root.appendingPathComponent("tiny-flash"))
        let prompt = [0, 263, 716, 33, 90]
        let expected = try model.runLogits(prompt: prompt, feed: nil, greedySteps: 6).tokens
        let engine = Engine(model: model, tokenizer: TestFiles.tokenizer)
        let ids = try await Self.greedyIDs(engine, prompt, 6)
        #expect(!ids.isEmpty)
        #expect(ids == Array(expected.prefix(ids.count)))
        if ids.count < 6 { #expect(ids.last == TestFiles.tokenizer.eosTokenID) }

        let next = prompt + ids.prefix(3) + [55, 66]
        let cached = try await Self.greedyIDs(engine, next, 5)
        let fresh = try await Self.greedyIDs(Engine(model: model, tokenizer: TestFiles.tokenizer), next, 5)
        #expect(cached == fresh)
    }
}

@Suite("Engine slots")
struct EngineSlotTests {
    let tokenizer = TestFiles.tokenizer

    func user(_ text: String) -> Conversation { Conversation(messages: [Message(role: .user, text: text)], thinkingMode: .chat) }

    @Test("concurrent requests on separate slots are decoded together in batches")
    func batching() async throws {
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        // The first forward step is held until all three requests are waiting, so they start in step; then
        // each step waits up to 2 s for every running generation (instead of a few milliseconds), so a
        // generation descheduled on a loaded machine still joins the batch.
        let gate = DispatchSemaphore(value: 0)
        model.gate = gate
        model.delay = 0.02
        let engine = Engine(model: model, tokenizer: tokenizer, parallel: 3, batchWait: 2)
        let options = GenerationOptions(sampling: .greedy, maxTokens: 12)
        try await withThrowingTaskGroup(of: Transcript.self) { group in
            for i in 0..<3 { group.addTask { try await Transcript(engine.generate(user("Q\(i)"), options: options, session: nil)) } }
            while model.computed == 0 { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(300))
            model.gate = nil
            gate.signal()
            for try await t in group { #expect(t.finish?.1.completionTokens == 12) }
        }
        #expect(model.batchSizes.max() == 3, "\(model.batchSizes)")
    }

    @Test("beyond the slots and the queue, requests are refused as busy")
    func busy() async throws {
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        model.delay = 0.01
        let engine = Engine(model: model, tokenizer: tokenizer, parallel: 1, queueLimit: 1)
        let long = GenerationOptions(sampling: .greedy, maxTokens: 50)
        let first = engine.generate(user("one"), options: long, session: nil)
        var it1 = first.makeAsyncIterator()
        _ = try await it1.next()  // running
        let second = engine.generate(user("two"), options: long, session: nil)
        var it2 = second.makeAsyncIterator()
        let waiter = Task { try await it2.next() }  // queued
        try await Task.sleep(for: .milliseconds(50))
        #expect(engine.queued == 1)
        await #expect(throws: GenerationError.busy(queued: 1)) {
            _ = try await Transcript(engine.generate(user("three"), options: long, session: nil))
        }
        waiter.cancel()
        _ = it1
    }

    @Test("a request that continues an earlier conversation lands on its slot and reuses its prefix")
    func prefixReuseAcrossRequests() async throws {
        let model = FakeModel(vocabularySize: tokenizer.vocabularySize)
        let engine = Engine(model: model, tokenizer: tokenizer, parallel: 2)
        var a = user("Tell me about whales, in some detail please.")
        let options = GenerationOptions(sampling: .greedy, maxTokens: 4)
        let first = try await Transcript(engine.generate(a, options: options, session: nil))
        _ = try await Transcript(engine.generate(user("Something else entirely."), options: options, session: nil))
        a.messages.append(Message(role: .assistant, text: first.content))
        a.messages.append(Message(role: .user, text: "And dolphins?"))
        let again = try await Transcript(engine.generate(a, options: options, session: nil))
        let prompt = try engine.promptTokens(user("Tell me about whales, in some detail please."))
        #expect((again.finish?.1.cachedPromptTokens ?? 0) >= prompt.count - 1)
    }
}
