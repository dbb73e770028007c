// ChatFormatError.swift
//
// The one error type of the chat layer (encoder, completion parsers, conversation decoding). Each error
// names the Python exception the official `encoding_dsv4.py` raises in the same situation, so golden
// files that record `{type, message}` can be compared by type, and front ends can tell "bad request"
// (encoder errors) from "the model produced malformed output" (parser errors). Messages are our own.

/// A request the official encoder rejects, or a completion the official parser rejects.
public struct ChatFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The Python exception the official code raises for this input.
    public enum Kind: String, Sendable, Hashable {
        case assertionError = "AssertionError"
        case valueError = "ValueError"
        case keyError = "KeyError"
        case typeError = "TypeError"
        case attributeError = "AttributeError"
        case notImplementedError = "NotImplementedError"
    }

    /// Which Python exception this corresponds to.
    public var kind: Kind
    /// What went wrong and what to check.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The Python exception type name, e.g. `"AssertionError"`.
    public var pythonExceptionType: String { kind.rawValue }

    public var description: String { "\(kind.rawValue): \(message)" }
}
