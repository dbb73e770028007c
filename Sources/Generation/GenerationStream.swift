// GenerationStream: the events of one generation as an async sequence. The generation is cancelled as
// soon as nobody reads it any more — when the reading task is cancelled, or when its iterator goes away
// (a `break` out of `for try await`, a disconnected client). A plain AsyncThrowingStream would keep
// running until the producer finishes, because the producer's continuation keeps the stream alive.

public struct GenerationStream: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent

    /// Cancels the producing task when the last reference goes away.
    final class Cancellation: Sendable {
        let task: Task<Void, Never>
        init(_ task: Task<Void, Never>) { self.task = task }
        deinit { task.cancel() }
    }

    let events: AsyncThrowingStream<GenerationEvent, any Error>
    let cancellation: Cancellation?

    init(events: AsyncThrowingStream<GenerationEvent, any Error>, task: Task<Void, Never>?) {
        self.events = events
        self.cancellation = task.map(Cancellation.init)
    }

    /// A stream that fails at once.
    static func failing(_ error: any Error) -> GenerationStream {
        GenerationStream(events: AsyncThrowingStream { $0.finish(throwing: error) }, task: nil)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<GenerationEvent, any Error>.AsyncIterator
        /// Keeps the sequence's token alive while reading (a `for` loop drops the sequence value at once).
        let shared: Cancellation?
        /// The reader's own token: dropping the iterator ends the generation even while the sequence
        /// value itself is still around (the stream can be read only once).
        let reader: Cancellation?

        public mutating func next() async throws -> GenerationEvent? { try await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: events.makeAsyncIterator(), shared: cancellation, reader: cancellation.map { Cancellation($0.task) })
    }

    /// Stops the generation now.
    public func cancel() { cancellation?.task.cancel() }
}
