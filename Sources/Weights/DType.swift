// The safetensors dtypes found in DeepSeek V4 checkpoints.

public enum DType: String, Sendable, CaseIterable {
    case bf16 = "BF16"
    case f32 = "F32"
    case f8e4m3 = "F8_E4M3"
    case f8e8m0 = "F8_E8M0"
    /// Packed FP4 E2M1 pairs in the official checkpoints.
    case i8 = "I8"
    case u8 = "U8"
    case i64 = "I64"

    public var byteSize: Int {
        switch self {
        case .bf16: 2
        case .f32: 4
        case .f8e4m3, .f8e8m0, .i8, .u8: 1
        case .i64: 8
        }
    }
}
