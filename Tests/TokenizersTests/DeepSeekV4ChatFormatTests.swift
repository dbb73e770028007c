import Testing
@testable import Tokenizers

@Suite("DeepSeekV4ChatFormat")
struct DeepSeekV4ChatFormatTests {
    @Test("renders every golden conversation like the official encoder", arguments: try ChatFixtures.encodeCases())
    func rendersGoldenConversation(_ golden: ChatFixtures.EncodeCase) throws {
        let result = Result { () throws(ChatFormatError) in
            try DeepSeekV4ChatFormat.encode(try Conversation(encoderArguments: golden.input))
        }
        switch result {
        case .success(let prompt):
            let expected = try #require(golden.prompt, "official encoder raised \(golden.errorType ?? "?")")
            // Compare bytes: Swift's String == would accept canonically equivalent but different text.
            #expect(Array(prompt.utf8) == Array(expected.utf8))
        case .failure(let error):
            #expect(error.pythonExceptionType == golden.errorType, "\(error)")
        }
    }

    @Test("tokenizes every golden prompt to the official ids", arguments: try ChatFixtures.encodeCases())
    func tokenizesGoldenPrompt(_ golden: ChatFixtures.EncodeCase) throws {
        guard let expected = golden.ids else { return }
        let conversation = try Conversation(encoderArguments: golden.input)
        #expect(try DeepSeekV4ChatFormat.tokenIDs(for: conversation, tokenizer: Fixture.tokenizer) == expected)
    }
}
