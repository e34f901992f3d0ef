import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

@testable import Transport

/// The EmbedFiles plugin compiles every file of Transport's `Templates/` folder into the program
/// (issue 16: the installed binary is one file), byte for byte.
@Suite("Embedded templates")
struct EmbeddedFilesTests {
    @Test func everyTemplateFileIsEmbeddedVerbatim() throws {
        let templates =
            PosixPath.dirname(PosixPath.dirname(PosixPath.dirname(RunnerAccount.checkoutFixtures)))
            + "/Sources/Transport/Templates"
        let files = try #require(FileManager.default.subpaths(atPath: templates))
            .filter { FileSystem.isRegularFile(templates + "/" + $0) }.sorted()
        #expect(files.count >= 10 && files.contains("wrappers/mp-supervise"))
        #expect(EmbeddedFiles.paths == files.map { "Templates/" + $0 })
        for file in files {
            let bytes = try #require(FileSystem.readBytes(templates + "/" + file))
            #expect(EmbeddedFiles.bytes("Templates/" + file) == bytes, "\(file)")
        }
        #expect(EmbeddedFiles.bytes("Templates/missing") == nil)
        #expect(TemplateStore.text("wrappers/mp-run") == FileSystem.readText(templates + "/wrappers/mp-run"))
    }
}

extension EmbeddedFilesTests {
    /// Any file can be embedded: text with every kind of character a Swift literal must escape,
    /// and bytes that are not UTF-8. The generated source is compiled and its bytes compared.
    @Test func anyFileRoundTripsThroughTheGenerator() async throws {
        let directory = try TemporaryDirectory.make(prefix: "mpf-embed-")
        defer { TemporaryDirectory.remove(directory) }
        let text = Array(
            "quote \" backslash \\ tab \t cr \r nul \u{0} esc \u{1B} \u{85} é 💥 \\(x) #\"\n".utf8)
        let binary: [UInt8] = [0xFF, 0x00, 0x80, 0xC3, 0x28, 0x0A]
        try FileSystem.makeDirectories(directory + "/data/sub")
        try FileSystem.writeAtomically(directory + "/data/sub/text.py", bytes: text, mode: 0o644)
        try FileSystem.writeAtomically(directory + "/data/blob.bin", bytes: binary, mode: 0o644)
        try FileSystem.writeAtomically(
            directory + "/main.swift",
            text: """
                for path in EmbeddedFiles.paths {
                    print(path, EmbeddedFiles.bytes(path)!.map { String($0) }.joined(separator: ","))
                }

                """)
        let tool = try #require(
            [CommandLine.arguments[0], Bundle.main.bundlePath].map { PosixPath.dirname($0) + "/embed-files" }
                .first { FileSystem.isRegularFile($0) })
        let generate = [
            tool, directory + "/EmbeddedFiles.swift", directory + "/data", directory + "/data/blob.bin",
            directory + "/data/sub/text.py",
        ]
        let compile = [
            "/usr/bin/env", "PATH=/opt/swift/usr/bin:/usr/bin:/bin", "swiftc", "-o", directory + "/check",
            directory + "/main.swift", directory + "/EmbeddedFiles.swift",
        ]
        let output = try await onOwnThread {
            _ = try BenchProcess.run(generate)
            _ = try BenchProcess.run(compile)
            return try BenchProcess.run([directory + "/check"])
        }
        #expect(
            output == "blob.bin \(binary.map { String($0) }.joined(separator: ","))\n"
                + "sub/text.py \(text.map { String($0) }.joined(separator: ","))\n")
    }
}
