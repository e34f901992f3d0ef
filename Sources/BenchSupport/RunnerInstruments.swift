import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the benchmark's runner hosts add to every command they run: a count of Python
/// interpreter starts (a `sitecustomize` module, which every interpreter imports at start, first
/// on PYTHONPATH, appending a byte to a file) and, optionally, the CPU an import of the real
/// megaplan costs (the stand-in burns `MEGAPLAN_STUB_IMPORT_CPU` seconds on import). Both reach
/// the runners through the environment sshd sets, so the tests sharing the account are untouched.
public final class RunnerInstruments: Sendable {
    public let directory: String
    public let importCPUSeconds: Double
    private let counter: String

    public init(importCPUSeconds: Double) throws {
        var template = Array("/tmp/mpfleet-instruments-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        self.importCPUSeconds = importCPUSeconds
        counter = directory + "/interpreters"
        try FileSystem.writeAtomically(counter, text: "", mode: 0o666)
        chmod(counter, 0o666)
        let module = """
            # fleet-bench: counts this interpreter's start (RunnerInstruments.swift).
            import os
            _path = os.environ.get('FLEET_BENCH_INTERPRETERS')
            if _path:
                try:
                    _fd = os.open(_path, os.O_WRONLY | os.O_APPEND)
                    os.write(_fd, b'.')
                    os.close(_fd)
                except OSError:
                    pass

            """
        try FileSystem.writeAtomically(directory + "/sitecustomize.py", text: module, mode: 0o644)
    }

    /// `NAME=value` words for sshd's SetEnv, PYTHONPATH first entry included (`standIns` is the
    /// stand-ins' own package directory).
    public func environment(standIns: String) -> String {
        var words = [
            "PYTHONPATH=\(directory):\(standIns)", "FLEET_BENCH_INTERPRETERS=\(counter)",
        ]
        if importCPUSeconds > 0 {
            words.append(String(format: "MEGAPLAN_STUB_IMPORT_CPU=%.3f", importCPUSeconds))
        }
        return words.joined(separator: " ")
    }

    /// Interpreter starts so far.
    public var interpreterStarts: Int {
        var info = stat()
        return stat(counter, &info) == 0 ? Int(info.st_size) : 0
    }

    public func remove() { TemporaryDirectory.remove(directory) }
}
