// The AVX-512 kernels run only on CPUs that have AVX-512 (the BF16 ones only where it has BF16 dot
// products), so on the others the ordinary tests never execute them. This test compiles them with SIMDe — portable C
// implementations of the intrinsics — and checks them against the portable kernels, so every machine
// verifies every path. It needs a C compiler and SIMDe's headers (Debian: libsimde-dev); CI installs
// them, so under CI their absence is a failure, elsewhere a skip.

import Foundation
import Kernels
import Testing

@Suite("AVX-512 kernels under emulation")
struct AVX512EmulationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let simdeAvailable = FileManager.default.fileExists(atPath: "/usr/include/simde/x86/avx512.h")
    static let required = ProcessInfo.processInfo.environment["CI"] != nil

    @Test("emulated AVX-512 (float32 and BF16) dequantization, matmul and dot equal the portable kernels",
          .enabled(if: !(ISA.avx512.isAvailable && ISA.bf16Dot) && (simdeAvailable || required)))
    func emulated() throws {
        try #require(Self.simdeAvailable, "SIMDe headers are missing: apt-get install libsimde-dev")
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("narwhal-avx512-\(UUID().uuidString)")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        let sources = Self.repository.appendingPathComponent("Sources/CKernels")
        let emulation = Self.repository.appendingPathComponent("Tests/KernelsTests/Emulation")
        // The target attributes would let the compiler emit real AVX-512 instructions: drop them.
        var units = [emulation.appendingPathComponent("check_x86.c").path, sources.appendingPathComponent("Generic.c").path]
        for file in ["X86.c", "X86BF16.c"] {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
                .replacingOccurrences(of: #"(?m)^#define (AVX512BF16|AVX512|AVX2) .*$"#, with: "#define $1", options: .regularExpression)
            let copy = work.appendingPathComponent(file)
            try text.write(to: copy, atomically: true, encoding: .utf8)
            units.append(copy.path)
        }
        let binary = work.appendingPathComponent("check")
        let compile = try run("/usr/bin/env", [
            "cc", "-O1", "-std=gnu11", "-I", emulation.path, "-I", sources.path, "-I", sources.appendingPathComponent("include").path,
            "-o", binary.path,
        ] + units + ["-lm"])
        try #require(compile.status == 0, "compile failed: \(compile.output)")
        let check = try run(binary.path, [])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("0 failures"))
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
