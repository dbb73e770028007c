// The `narwhal` executable: one binary, one subcommand per job. Commands are thin: they parse flags,
// call into the library targets and print; they never touch tensors directly.
import ArgumentParser

@main
struct Narwhal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "narwhal",
        abstract: "DeepSeek V4 on your own hardware.",
        version: "0.1.0",
        subcommands: [
            ChatCommand.self,
            RunCommand.self,
            InspectCommand.self,
            LogitsCommand.self,
            RenderCommand.self,
            ParseCommand.self,
            TokenizeCommand.self,
            BenchCommand.self,
            MakeCheckpointCommand.self,
            ServeCommand.self,
        ])
}
