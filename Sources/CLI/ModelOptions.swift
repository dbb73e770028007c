// Options shared by the commands that load a model, and the bundled default model.

import ArgumentParser
import Foundation

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Checkpoint directory (config.json + safetensors). Default: the bundled tiny model.")
    var model: String?

    /// The checkpoint directory to use.
    func directory() throws -> URL {
        if let model { return URL(fileURLWithPath: model) }
        guard let url = Bundle.module.url(forResource: "Resources/default-model", withExtension: nil)
            ?? Bundle.module.resourceURL?.appendingPathComponent("Resources/default-model")
        else {
            throw ValidationError("the bundled default model is missing from this build; pass --model DIR")
        }
        return url
    }
}

/// Prints to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
