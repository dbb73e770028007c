// StopMatcher: finds stop strings in streamed text, across token boundaries, and never lets any part
// of a stop string out. Text that could still be the beginning of a stop string is held back until
// the next piece decides it. Matching is on Unicode scalars (exact, no canonical equivalence).

public struct StopMatcher: Sendable {
    private let stops: [[Unicode.Scalar]]
    private var pending: [Unicode.Scalar] = []
    public private(set) var stopped = false
    /// The stop string that matched.
    public private(set) var matched: String?

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.unicodeScalars) }
    }

    /// Adds text; returns what can be released now. After a match, returns the text before it and
    /// ignores everything that follows.
    public mutating func feed(_ text: String) -> String {
        guard !stopped else { return "" }
        pending.append(contentsOf: text.unicodeScalars)
        guard !stops.isEmpty else { return flush() }
        // Earliest complete match wins.
        var best: (start: Int, stop: [Unicode.Scalar])?
        for stop in stops {
            if let i = firstIndex(of: stop), best == nil || i < best!.start { best = (i, stop) }
        }
        if let best {
            stopped = true
            matched = String(String.UnicodeScalarView(best.stop))
            let out = String(String.UnicodeScalarView(pending[..<best.start]))
            pending.removeAll()
            return out
        }
        // Hold back the longest tail that is a proper prefix of some stop string.
        var hold = 0
        for stop in stops {
            for n in stride(from: min(stop.count - 1, pending.count), to: hold, by: -1)
            where pending.suffix(n).elementsEqual(stop.prefix(n)) {
                hold = n
                break
            }
        }
        let out = String(String.UnicodeScalarView(pending[..<(pending.count - hold)]))
        pending.removeFirst(pending.count - hold)
        return out
    }

    /// Releases held-back text at the end of the stream (it did not become a stop string).
    public mutating func flush() -> String {
        let out = String(String.UnicodeScalarView(pending))
        pending.removeAll()
        return out
    }

    private func firstIndex(of stop: [Unicode.Scalar]) -> Int? {
        guard stop.count <= pending.count else { return nil }
        for i in 0...(pending.count - stop.count) where pending[i] == stop[0] {
            if pending[i..<(i + stop.count)].elementsEqual(stop) { return i }
        }
        return nil
    }
}
