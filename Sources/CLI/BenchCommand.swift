// `narwhal bench`: speed measurements, one subcommand per part of the system.

import ArgumentParser

/// The group of benchmark commands; model benchmarks join `tokenizer` here as further subcommands.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed.",
        subcommands: [
            BenchModelCommand.self,
            BenchTokenizerCommand.self,
            BenchKernelsCommand.self,
        ],
        defaultSubcommand: BenchModelCommand.self)
}
