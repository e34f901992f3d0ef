import BenchSupport
import FleetCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `megaplan-fleet`, run as cron runs it: a separate process with its own HOME and no
/// terminal (stdout and stderr are files, so a test can read them while the process runs).
enum FleetCLI {
    static let binary: String = {
        var candidates: [String] = []
        if let first = CommandLine.arguments.first {
            candidates.append(PosixPath.dirname(FileSystem.resolve(first)) + "/megaplan-fleet")
        }
        candidates.append(PosixPath.dirname(Bundle.main.bundlePath) + "/megaplan-fleet")
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        candidates += [".build-fleet", ".build"].map { "\(checkout)/\($0)/debug/megaplan-fleet" }
        return candidates.first { access($0, X_OK) == 0 && FileSystem.isRegularFile($0) } ?? candidates[0]
    }()

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
        func lines() throws -> [OutputLine] { try parseLines(stdout) }
    }

    /// A started process whose output goes to files.
    final class Running: Sendable {
        let pid: pid_t
        let stdoutPath: String
        let stderrPath: String
        let directory: String

        init(pid: pid_t, stdoutPath: String, stderrPath: String, directory: String) {
            self.pid = pid
            self.stdoutPath = stdoutPath
            self.stderrPath = stderrPath
            self.directory = directory
        }

        var stdoutSoFar: String { FileSystem.readText(stdoutPath) ?? "" }
        var stderrSoFar: String { FileSystem.readText(stderrPath) ?? "" }

        func signal(_ number: Int32) { kill(pid, number) }

        /// The exit status (128+N after signal N), or nil when it is still running at the timeout.
        func wait(timeout: Duration) async -> Int32? {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                var status: Int32 = 0
                let rc = waitpid(pid, &status, WNOHANG)
                if rc == pid {
                    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return nil
        }

        /// Waits until stdout satisfies `predicate`.
        func waitForOutput(timeout: Duration, _ predicate: (String) -> Bool) async -> Bool {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                if predicate(stdoutSoFar) { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return predicate(stdoutSoFar)
        }

        func forceStop() {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        func result(status: Int32) -> Result {
            Result(status: status, stdout: stdoutSoFar, stderr: stderrSoFar)
        }

        deinit { TemporaryDirectory.remove(directory) }
    }

    /// Starts the binary, or `program` (a wrapper such as `unshare`) when given.
    static func start(
        _ arguments: [String], home: String, environment: [String: String] = [:], program: String? = nil
    ) throws -> Running {
        let directory = try TemporaryDirectory.make(prefix: "mpf-fleet-cli-")
        let stdoutPath = directory + "/stdout"
        let stderrPath = directory + "/stderr"
        var variables = [
            "HOME": home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "NO_COLOR": "",
        ]
        for (key, value) in environment { variables[key] = value }
        let pid: pid_t
        do {
            pid = try BenchProcess.spawn(
                [program ?? binary] + arguments, environment: variables, stdoutPath: stdoutPath,
                stderrPath: stderrPath)
        } catch {
            TemporaryDirectory.remove(directory)
            throw FleetError(.invalidArgs, "cannot start \(binary): \(error)")
        }
        return Running(pid: pid, stdoutPath: stdoutPath, stderrPath: stderrPath, directory: directory)
    }

    /// Runs to completion (killed after `timeout`, which is then a test failure).
    static func run(
        _ arguments: [String], home: String, environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        let running = try start(arguments, home: home, environment: environment)
        guard let status = await running.wait(timeout: timeout) else {
            running.forceStop()
            Issue.record("megaplan-fleet \(arguments) did not finish within \(timeout)")
            return running.result(status: -1)
        }
        return running.result(status: status)
    }
}
