// Errors of the checkpoint reader and writers. Every case names the file (and tensor) and says what to check, so a
// malformed or truncated download is diagnosed from the message alone.

public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case truncatedFile(file: String, size: Int, needed: Int)
    case malformedHeader(file: String, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case badOffsets(file: String, tensor: String, reason: String)
    case noCheckpoint(directory: String)
    case malformedIndex(file: String, reason: String)
    case missingShard(file: String, referencedBy: String)
    case tensorNotInShard(tensor: String, file: String)
    case missingTensor(name: String)
    case unexpectedTensors(names: [String])
    case wrongDType(tensor: String, file: String, expected: [String], actual: String)
    case wrongShape(tensor: String, file: String, expected: [Int], actual: [Int])
    case cannotWrite(file: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let file, let reason):
            "cannot open '\(file)': \(reason)"
        case .truncatedFile(let file, let size, let needed):
            "'\(file)' is truncated: it has \(size) bytes but its header describes \(needed); hint: re-download the shard"
        case .malformedHeader(let file, let reason):
            "'\(file)' is not a valid safetensors file: \(reason); hint: check the download"
        case .unsupportedDType(let file, let tensor, let dtype):
            "'\(file)': tensor '\(tensor)' has dtype \(dtype), which DeepSeek V4 checkpoints do not use"
        case .badOffsets(let file, let tensor, let reason):
            "'\(file)': tensor '\(tensor)' has invalid data offsets (\(reason)); hint: the header does not match the data"
        case .noCheckpoint(let directory):
            "'\(directory)' holds neither model.safetensors.index.json nor model.safetensors; hint: point --model at the checkpoint directory"
        case .malformedIndex(let file, let reason):
            "'\(file)' is not a valid safetensors index: \(reason)"
        case .missingShard(let file, let index):
            "shard '\(file)' listed in '\(index)' does not exist; hint: is the download complete?"
        case .tensorNotInShard(let tensor, let file):
            "tensor '\(tensor)' is mapped to '\(file)' by the index but that shard does not contain it"
        case .missingTensor(let name):
            "tensor '\(name)' is missing from the checkpoint; hint: is it a DeepSeek V4 checkpoint matching its config.json?"
        case .unexpectedTensors(let names):
            "the checkpoint has \(names.count) tensor(s) the model does not use, e.g. '\(names.prefix(3).joined(separator: "', '"))'; hint: does config.json match the weights?"
        case .wrongDType(let tensor, let file, let expected, let actual):
            "'\(file)': tensor '\(tensor)' has dtype \(actual), expected \(expected.joined(separator: " or "))"
        case .wrongShape(let tensor, let file, let expected, let actual):
            "'\(file)': tensor '\(tensor)' has shape \(actual), expected \(expected); hint: does config.json match the weights?"
        case .cannotWrite(let file, let reason):
            "cannot write '\(file)': \(reason)"
        }
    }
}
