// Float32 dot product (the C kernel; eight independent accumulators).

import CKernels

@inlinable
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
    nw_dot(a, b, Int64(n))
}
