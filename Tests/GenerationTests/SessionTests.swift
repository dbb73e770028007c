import Testing

@testable import Generation

@Suite("Session")
struct SessionTests {
    @Test("a prompt that extends the held tokens computes only the new ones")
    func extends() async throws {
        let model = FakeModel()
        let s = Session(batcher: Batcher(model: model))
        let first = try await s.sync([1, 2, 3, 4])
        #expect(first.reused == 0 && model.computed == 4)
        let second = try await s.sync([1, 2, 3, 4, 5, 6])
        #expect(second.reused == 4 && model.computed == 6)
        #expect(second.logits == model.logits(for: [1, 2, 3, 4, 5, 6]))
    }

    @Test("the same prompt again computes nothing")
    func samePrompt() async throws {
        let model = FakeModel()
        let s = Session(batcher: Batcher(model: model))
        _ = try await s.sync([1, 2, 3])
        let again = try await s.sync([1, 2, 3])
        #expect(model.computed == 3 && again.reused == 3)
        #expect(again.logits == model.logits(for: [1, 2, 3]))
    }

    /// In thinking mode the next chat turn repeats the previous prompt up to `<｜Assistant｜>` and then
    /// continues differently (`</think>answer…` instead of `<think>reasoning…`).
    @Test("a next turn that departs at the last prompt token resumes from the snapshot")
    func departsAtLastToken() async throws {
        let model = FakeModel()
        let s = Session(batcher: Batcher(model: model))
        _ = try await s.sync([1, 2, 3, 9])            // prompt ends with "<think>" (9)
        for t in [20, 21, 22] { _ = try await s.append(t) }  // generated reasoning + answer
        #expect(model.computed == 7)
        let next = try await s.sync([1, 2, 3, 8, 30, 31, 5, 6])  // history re-rendered without the reasoning
        #expect(next.reused == 3)
        #expect(model.computed == 7 + 5)
        #expect(next.logits == model.logits(for: [1, 2, 3, 8, 30, 31, 5, 6]))
    }

    @Test("a prompt that departs early starts over and still gives the right logits")
    func departsEarly() async throws {
        let model = FakeModel()
        let s = Session(batcher: Batcher(model: model))
        _ = try await s.sync([1, 2, 3, 4, 5])
        let other = try await s.sync([1, 7, 7])
        #expect(other.reused == 0)
        #expect(other.logits == model.logits(for: [1, 7, 7]))
        #expect(s.tokens == [1, 7, 7])
    }

    @Test("a prompt shorter than the held tokens returns to a snapshot or recomputes")
    func shorterPrompt() async throws {
        let model = FakeModel()
        let s = Session(batcher: Batcher(model: model))
        _ = try await s.sync([1, 2, 3, 4])
        _ = try await s.append(5)
        let back = try await s.sync([1, 2, 3, 4])
        #expect(back.reused == 3)  // snapshot after [1, 2, 3]; the last token is recomputed
        #expect(back.logits == model.logits(for: [1, 2, 3, 4]))
    }

    @Test("prompts beyond the context are refused before any work")
    func contextLimit() async {
        let model = FakeModel(contextLimit: 4)
        let s = Session(batcher: Batcher(model: model))
        await #expect(throws: GenerationError.contextTooLong(tokens: 5, limit: 4)) { try await s.sync([1, 2, 3, 4, 5]) }
        await #expect(throws: GenerationError.emptyPrompt) { try await s.sync([]) }
        #expect(model.computed == 0)
    }
}
