import FleetCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the built `megaplan-fleet` binary the way a user does: a separate process with its own
/// HOME, PATH, working directory and standard input.
enum CLI {
    /// The executable next to the test bundle (`.build*/debug/megaplan-fleet`).
    static let binary: String = {
        // The test runner (`megaplan-fleetPackageTests.xctest`) sits in the same build directory.
        var candidates: [String] = []
        if let first = CommandLine.arguments.first {
            candidates.append(PosixPath.dirname(FileSystem.resolve(first)) + "/megaplan-fleet")
        }
        let bundle = Bundle.main.bundlePath
        candidates.append(bundle + "/megaplan-fleet")
        candidates.append(PosixPath.dirname(bundle) + "/megaplan-fleet")
        for bundle in Bundle.allBundles {
            candidates.append(PosixPath.dirname(bundle.bundlePath) + "/megaplan-fleet")
        }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        candidates += [".build-cli", ".build"].map { "\(checkout)/\($0)/debug/megaplan-fleet" }
        return candidates.first { access($0, X_OK) == 0 && FileSystem.isRegularFile($0) } ?? candidates[0]
    }()

    static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The JSON document on stdout (from its first `{`, as the reference's consumers do).
        var json: JSONValue? {
            guard let start = stdout.firstIndex(of: "{") else { return nil }
            return try? JSONValue.parse(String(stdout[start...]))
        }

        /// The text before the JSON document.
        var preamble: String {
            guard let start = stdout.firstIndex(of: "{") else { return stdout }
            return String(stdout[..<start])
        }

        /// The error envelope's code, when stdout holds one.
        var errorCode: String? { json?["error"]?.stringValue }
        var message: String? { json?["message"]?.stringValue }

        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    /// A started process: output goes to files so a test can watch it while it runs.
    final class Running: Sendable {
        let process: Process
        let stdoutPath: String
        let stderrPath: String
        let directory: String
        private let exit: Task<Int32, Never>

        init(
            process: Process, stdoutPath: String, stderrPath: String, directory: String,
            exit: Task<Int32, Never>
        ) {
            self.process = process
            self.stdoutPath = stdoutPath
            self.stderrPath = stderrPath
            self.directory = directory
            self.exit = exit
        }

        var stdoutSoFar: String { FileSystem.readText(stdoutPath) ?? "" }
        var stderrSoFar: String { FileSystem.readText(stderrPath) ?? "" }

        func interrupt() { kill(process.processIdentifier, SIGINT) }

        /// Waits until `predicate` holds for stdout, or the timeout passes.
        func waitForOutput(timeout: Duration = .seconds(20), _ predicate: (String) -> Bool) async -> Bool {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                if predicate(stdoutSoFar) { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return predicate(stdoutSoFar)
        }

        func wait() async -> Result {
            let status = await exit.value
            // The child has exited: close this process's copies of its standard streams.
            for handle in [process.standardOutput, process.standardError, process.standardInput] {
                try? (handle as? FileHandle)?.close()
            }
            let result = Result(status: status, stdout: stdoutSoFar, stderr: stderrSoFar)
            TemporaryDirectory.remove(directory)
            return result
        }
    }

    /// Starts the binary (or `executable`, a program that runs it, such as `script` for a
    /// pseudo-terminal). `environment` is the whole environment apart from HOME, PATH and LANG
    /// (nothing leaks in from the test process); `stdin` nil means end-of-file at once.
    static func start(
        _ arguments: [String], home: String, cwd: String? = nil, path: String = defaultPath,
        environment: [String: String] = [:], stdin: String? = nil, timeout: Duration = .seconds(90),
        executable: String = binary
    ) throws -> Running {
        let directory = try TemporaryDirectory.make(prefix: "mpf-cli-run-")
        let stdoutPath = directory + "/stdout"
        let stderrPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ["HOME": home, "PATH": path, "LANG": "C.UTF-8"]
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let stdinPath = directory + "/stdin"
        _ = FileManager.default.createFile(atPath: stdinPath, contents: Data((stdin ?? "").utf8))
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinPath))

        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { finished in
            continuation.yield(finished.terminationStatus)
            continuation.finish()
        }
        try process.run()
        let pid = process.processIdentifier
        let exit = Task<Int32, Never> {
            let watchdog = Task {
                try await Task.sleep(for: timeout)
                kill(pid, SIGKILL)
            }
            defer { watchdog.cancel() }
            for await status in stream { return status }
            return -1
        }
        return Running(
            process: process, stdoutPath: stdoutPath, stderrPath: stderrPath, directory: directory, exit: exit
        )
    }

    /// Runs the binary to completion.
    static func run(
        _ arguments: [String], home: String, cwd: String? = nil, path: String = defaultPath,
        environment: [String: String] = [:], stdin: String? = nil, timeout: Duration = .seconds(90),
        executable: String = binary
    ) async throws -> Result {
        try await start(
            arguments, home: home, cwd: cwd, path: path, environment: environment, stdin: stdin,
            timeout: timeout, executable: executable
        ).wait()
    }
}

/// Key order of a JSON object (the reference's consumers rely on it).
func keys(_ value: JSONValue?) -> [String] { value?.objectValue?.keys ?? [] }

/// A fresh local directory removed at the end of the test.
func scratchDirectory(_ prefix: String = "mpf-cli-") throws -> String {
    let path = try TemporaryDirectory.make(prefix: prefix)
    chmod(path, 0o755)
    return path
}

func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    try FileSystem.makeDirectories(PosixPath.dirname(path))
    try FileSystem.writeAtomically(path, text: text, mode: mode)
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}

/// The envelope checks every error path shares: exit 1, the code, and a message.
func expectError(
    _ result: CLI.Result, _ code: String, _ message: String? = nil, contains: [String] = [],
    located file: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
    #expect(result.json?["success"] == .bool(false), "\(result)", sourceLocation: sourceLocation)
    #expect(result.errorCode == code, "\(result)", sourceLocation: sourceLocation)
    if let message, let file {
        // YAML errors name the file, line and column before the reference's message.
        let text = result.message ?? ""
        #expect(
            text.hasPrefix(file + ":") && text.hasSuffix(": " + message), "\(result)",
            sourceLocation: sourceLocation)
    } else if let message {
        #expect(result.message == message, "\(result)", sourceLocation: sourceLocation)
    }
    for part in contains {
        #expect(
            result.message?.contains(part) == true, "want \(part) in \(result)",
            sourceLocation: sourceLocation)
    }
}
