import FleetCore
import Foundation
import Testing

/// A private bin directory with recording stand-ins for docker, docker-compose and railway
/// (Tests/Fixtures/local/recorder.py), a HOME, and the log the stand-ins append to.
struct ProgramStubs {
    static let recorder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/local/recorder.py").path

    let directory: String
    let bin: String
    let home: String
    let log: String

    init(_ programs: [String]) throws {
        directory = try scratchDirectory("mpf-cli-stubs-")
        bin = directory + "/bin"
        home = directory + "/home"
        log = directory + "/calls.jsonl"
        try FileSystem.makeDirectories(home)
        let source = try #require(FileSystem.readBytes(Self.recorder))
        for program in programs {
            try FileSystem.makeDirectories(bin)
            try FileSystem.writeAtomically(bin + "/" + program, bytes: source, mode: 0o755)
        }
    }

    /// PATH with the stand-ins first and the system directories without /usr/local/bin (where a
    /// real docker may live).
    var path: String { bin + ":/usr/bin:/bin" }

    struct Call: Equatable, CustomStringConvertible {
        var program: String
        var argv: [String]
        var stdin: String
        var cwd: String
        var description: String { "\(program) \(argv) stdin=\(stdin.count)B cwd=\(cwd)" }
    }

    func calls() -> [Call] {
        guard let text = FileSystem.readText(log) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let value = try? JSONValue.parse(String(line)) else { return nil }
            return Call(
                program: value["program"]?.stringValue ?? "",
                argv: value["argv"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                stdin: value["stdin"]?.stringValue ?? "", cwd: value["cwd"]?.stringValue ?? "")
        }
    }

    func run(
        _ arguments: [String], cloudYAML: String, environment: [String: String] = [:], stdin: String? = nil,
        path: String? = nil
    ) async throws -> CLI.Result {
        try await CLI.run(
            arguments + ["--cloud-yaml", cloudYAML], home: home, cwd: directory, path: path ?? self.path,
            environment: environment.merging(["STUB_LOG": log]) { $1 }, stdin: stdin)
    }

    func start(_ arguments: [String], cloudYAML: String, environment: [String: String] = [:]) throws
        -> CLI.Running
    {
        try CLI.start(
            arguments + ["--cloud-yaml", cloudYAML], home: home, cwd: directory, path: path,
            environment: environment.merging(["STUB_LOG": log]) { $1 })
    }

    func cleanUp() { TemporaryDirectory.remove(directory) }
}
