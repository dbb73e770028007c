// Matrix: a row-major float32 activation matrix (T, C). Activations are always float32 in Narwhal; the
// weights keep their checkpoint formats (see WeightMatrix).

public struct Matrix: Sendable {
    public var rows: Int
    public var cols: Int
    public var storage: [Float]

    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.rows = rows
        self.cols = cols
        self.storage = [Float](repeating: value, count: rows * cols)
    }

    public init(rows: Int, cols: Int, storage: [Float]) {
        precondition(storage.count == rows * cols, "Matrix storage size mismatch")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// Row `t` as a fresh array (for tests and small glue code; hot paths use pointers).
    public func row(_ t: Int) -> [Float] { Array(storage[(t * cols)..<((t + 1) * cols)]) }

    public subscript(t: Int, c: Int) -> Float {
        get { storage[t * cols + c] }
        set { storage[t * cols + c] = newValue }
    }

    /// Rows `range` as a new matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, cols: cols, storage: Array(storage[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }

    /// The rows at `indices`, in that order: (indices.count, cols).
    public func gathering(rows indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, cols: cols)
        out.storage.withUnsafeMutableBufferPointer { o in
            storage.withUnsafeBufferPointer { s in
                for (r, t) in indices.enumerated() {
                    (o.baseAddress! + r * cols).update(from: s.baseAddress! + t * cols, count: cols)
                }
            }
        }
        return out
    }
}
