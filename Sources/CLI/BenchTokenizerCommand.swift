// `narwhal bench tokenizer`: load and encode speed on a large mixed corpus, compared with HF `tokenizers`.
//
// Both sides encode the same text as one string on one thread (HF's `encode` of a single sequence does not
// parallelize), and both report the best of several runs. HF keeps its word cache between calls while narwhal's
// cache lives for one call, so HF's first run is shown too. HF is far slower on one long string than on many short
// ones, so its line-by-line speed is printed as well, for context. The ids must be identical; a mismatch fails the
// command, which makes the benchmark a large differential test as well.

import ArgumentParser
import Foundation
import Tokenizers

struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Time tokenizer loading and encoding; compare with Hugging Face tokenizers if installed.")

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: .long, help: "Corpus size in MB (10^6 bytes).")
    var size: Double = 4

    @Option(name: .long, help: "Timed runs of each step; the best is reported.")
    var runs: Int = 3

    @Option(name: .long, help: "Seed of the corpus generator.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Python interpreter used for the Hugging Face comparison.")
    var python = "python3"

    @Flag(name: .long, help: "Skip the comparison with Hugging Face tokenizers.")
    var noReference = false

    func validate() throws {
        guard size > 0, size <= 4096 else { throw ValidationError("--size must be in (0, 4096] MB") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        let directory = try tokenizerOptions.directory
        let corpus = BenchmarkCorpus.make(byteCount: Int(size * 1_000_000), seed: seed)
        let megabytes = Double(corpus.utf8.count) / 1_000_000
        print("corpus: \(format(megabytes, 2)) MB (\(corpus.utf8.count) bytes, \(corpus.unicodeScalars.count) scalars, seed \(seed))")

        var loadSeconds: [Double] = []
        var loaded: BPETokenizer?
        for _ in 0..<runs {
            let (tokenizer, seconds) = try measure { try BPETokenizer(directory: directory) }
            loaded = tokenizer
            loadSeconds.append(seconds)
        }
        let tokenizer = loaded!
        var encodeSeconds: [Double] = []
        var ids: [Int] = []
        for _ in 0..<runs {
            let (result, seconds) = measure { tokenizer.encode(corpus) }
            ids = result
            encodeSeconds.append(seconds)
        }
        var decodeSeconds: [Double] = []
        var decoded = ""
        for _ in 0..<runs {
            let (text, seconds) = measure { tokenizer.decode(ids) }
            decoded = text
            decodeSeconds.append(seconds)
        }
        guard decoded == corpus else { throw CLIError.benchmarkMismatch("decode(encode(corpus)) differs from the corpus") }

        let bestEncode = encodeSeconds.min()!
        print("narwhal load:   first \(format(loadSeconds[0], 3)) s, best \(format(loadSeconds.min()!, 3)) s")
        print("narwhal encode: best \(format(bestEncode, 3)) s (first \(format(encodeSeconds[0], 3)) s), "
            + "\(format(Double(ids.count) / bestEncode / 1e6, 2)) M tokens/s, \(format(megabytes / bestEncode, 1)) MB/s, "
            + "\(ids.count) tokens")
        print("narwhal decode: best \(format(decodeSeconds.min()!, 3)) s, "
            + "\(format(Double(ids.count) / decodeSeconds.min()! / 1e6, 1)) M tokens/s")

        guard !noReference else { return }
        try compareWithReference(corpus: corpus, ids: ids, directory: directory, bestEncode: bestEncode,
                                 megabytes: megabytes)
    }

    /// Runs the bundled Python script on the same corpus, prints its timings and checks the ids.
    private func compareWithReference(corpus: String, ids: [Int], directory: URL, bestEncode: Double,
                                      megabytes: Double) throws {
        guard runProcess([python, "-c", "import tokenizers"], quiet: true).status == 0 else {
            print("reference: Hugging Face tokenizers is not available to \(python); "
                + "to compare, install it with: pip install tokenizers")
            return
        }
        guard let script = Bundle.module.url(forResource: "Resources", withExtension: nil)?
            .appendingPathComponent("scripts/bench_hf_tokenizer.py"),
            FileManager.default.fileExists(atPath: script.path)
        else { throw CLIError.missingResource("Resources/scripts/bench_hf_tokenizer.py") }

        let workDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("narwhal-bench-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workDirectory) }
        let textFile = workDirectory.appendingPathComponent("corpus.txt")
        let idsFile = workDirectory.appendingPathComponent("ids.u32")
        try Data(corpus.utf8).write(to: textFile)

        let result = runProcess([
            python, script.path, "--tokenizer-dir", directory.path, "--text", textFile.path, "--runs", String(runs),
            "--ids-out", idsFile.path,
        ])
        guard result.status == 0,
            let report = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            let version = report["version"] as? String, let load = report["load_seconds"] as? Double,
            let encodes = report["encode_seconds"] as? [Double], let hfBest = encodes.min()
        else {
            throw CLIError.benchmarkMismatch("the reference script failed (status \(result.status)):\n\(result.output)")
        }
        let hfIDs = try Data(contentsOf: idsFile).withUnsafeBytes { raw in
            raw.bindMemory(to: UInt32.self).map { Int(UInt32(littleEndian: $0)) }
        }
        print("HF tokenizers \(version) load:   \(format(load, 3)) s")
        print("HF tokenizers \(version) encode: best \(format(hfBest, 3)) s (first \(format(encodes[0], 3)) s), "
            + "\(format(Double(hfIDs.count) / hfBest / 1e6, 2)) M tokens/s, \(format(megabytes / hfBest, 1)) MB/s")
        if let linesSeconds = report["lines_seconds"] as? Double, let lineTokens = report["lines_tokens"] as? Int {
            print("HF tokenizers \(version) encode line by line: \(format(linesSeconds, 3)) s, "
                + "\(format(Double(lineTokens) / linesSeconds / 1e6, 2)) M tokens/s, \(format(megabytes / linesSeconds, 1)) MB/s")
        }
        print("speed-up (HF best / narwhal best): encode \(format(hfBest / bestEncode, 2))×, "
            + "first run \(format(encodes[0] / bestEncode, 2))×")
        if let mismatch = zip(ids, hfIDs).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            throw CLIError.benchmarkMismatch(
                "ids differ from HF tokenizers at index \(mismatch): narwhal \(ids[mismatch]), HF \(hfIDs[mismatch])")
        }
        guard ids.count == hfIDs.count else {
            throw CLIError.benchmarkMismatch("narwhal produced \(ids.count) ids, HF tokenizers \(hfIDs.count)")
        }
        print("ids identical to HF tokenizers: yes (\(ids.count) ids)")
    }

    private func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = ContinuousClock.now
        let result = try body()
        let elapsed = ContinuousClock.now - start
        return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    /// Runs a command found on PATH; returns its exit status and standard output. Its standard error goes to
    /// ours, or nowhere when `quiet`.
    private func runProcess(_ arguments: [String], quiet: Bool = false) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if quiet { process.standardError = FileHandle.nullDevice }
        do {
            try process.run()
        } catch {
            return (-1, "cannot run \(arguments[0]): \(error.localizedDescription)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
