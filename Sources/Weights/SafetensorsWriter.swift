// SafetensorsWriter: writes tensors to a .safetensors file atomically (temporary file in the same
// directory, then rename), so an interrupted write never leaves a half-written file under the final name.

import Foundation

public struct SafetensorsWriter {
    public struct Tensor {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var bytes: Data

        public init(name: String, dtype: DType, shape: [Int], bytes: Data) {
            precondition(bytes.count == shape.reduce(1, *) * dtype.byteSize, "tensor '\(name)': byte count does not match shape")
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public static func float32(_ name: String, shape: [Int], _ values: [Float]) -> Tensor {
            Tensor(name: name, dtype: .f32, shape: shape, bytes: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }

        public static func int64(_ name: String, shape: [Int], _ values: [Int64]) -> Tensor {
            Tensor(name: name, dtype: .i64, shape: shape, bytes: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }
    }

    public var tensors: [Tensor] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ tensor: Tensor) { tensors.append(tensor) }

    /// The file's bytes: header length, JSON header (padded with spaces to 8 bytes), data.
    public func serialized() -> Data {
        var out = Self.header(for: tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata)
        for t in tensors { out.append(t.bytes) }
        return out
    }

    /// Everything before the data region: the u64 little-endian header length and the JSON header, padded
    /// with spaces to a multiple of 8 bytes so the data region is 8-byte aligned. Tensors are laid out back
    /// to back in the given order. Shared with ``SafetensorsStreamWriter`` so both write identical files.
    static func header(for tensors: [TensorSpec], metadata: [String: String]) -> Data {
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for t in tensors {
            let end = offset + t.byteCount
            parts.append("\(jsonString(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var headerBytes = Data(("{" + parts.joined(separator: ",") + "}").utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data()
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        return out
    }

    /// Writes atomically to `url`.
    public func write(to url: URL) throws {
        try serialized().write(to: url, options: .atomic)
    }
}

/// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
