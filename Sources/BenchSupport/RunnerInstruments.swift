import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the benchmark's runner hosts add to every command they run: a private copy of the runner
/// stand-ins first on PATH and PYTHONPATH (test runs of other checkouts may reinstall the shared
/// ones at any moment), a count of Python interpreter starts (a `sitecustomize` module, which
/// every interpreter imports at start, appending a byte to a file) and, optionally, the CPU an
/// import of the real megaplan costs (the stand-in burns `MEGAPLAN_STUB_IMPORT_CPU` seconds on
/// import). All of it reaches the runners through the environment sshd sets, with a private HOME
/// whose `.profile` (read by the `bash -lc` every command runs in) keeps the private copies first.
public final class RunnerInstruments: Sendable {
    public let directory: String
    public let importCPUSeconds: Double
    private let counter: String

    public init(importCPUSeconds: Double, fixtures: String) throws {
        var template = Array("/tmp/mpfleet-instruments-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed") }
        directory = String(cString: made)
        self.importCPUSeconds = importCPUSeconds
        counter = directory + "/interpreters"
        let files: [(String, mode_t)] = [
            ("megaplan", 0o755), ("gh", 0o755), ("python/megaplan/__init__.py", 0o644),
            ("python/megaplan/chain.py", 0o644), ("python/megaplan/cli/__init__.py", 0o644),
        ]
        for (file, mode) in files {
            guard let bytes = FileSystem.readBytes(fixtures + "/" + file) else {
                throw BenchError("missing runner stand-in \(fixtures)/\(file) (pass --fixtures)")
            }
            let target = directory + "/" + (file.hasPrefix("python/") ? file : "bin/" + file)
            try FileSystem.makeDirectories(PosixPath.dirname(target))
            try FileSystem.writeAtomically(target, bytes: bytes, mode: mode)
        }
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
        try FileSystem.writeAtomically(directory + "/python/sitecustomize.py", text: module, mode: 0o644)
        try FileSystem.writeAtomically(counter, text: "", mode: 0o666)
        let home = directory + "/home"
        try FileSystem.makeDirectories(home)
        let shared = try RunnerAccount.home()
        try FileSystem.writeAtomically(
            home + "/.profile",
            text:
                "export PATH=\"\(directory)/bin:\(shared)/.local/bin:$PATH\"\nexport PYTHONPATH=\"\(directory)/python:\(shared)/.megaplan-stub/python\"\n",
            mode: 0o644)
        if let entry = getpwnam(RunnerAccount.name) {
            chown(home, entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        // Readable (and the counter writable) by the runner account.
        for path in [
            directory, directory + "/bin", directory + "/python", directory + "/python/megaplan",
            directory + "/python/megaplan/cli",
        ] {
            chmod(path, 0o755)
        }
        chmod(counter, 0o666)
    }

    /// `NAME=value` words for sshd's SetEnv: PATH and PYTHONPATH with the private stand-ins first
    /// (`home` is the runner account's), the counter, the import cost.
    public func environment(home: String) -> String {
        var words = [
            "HOME=\(directory)/home", "PATH=\(directory)/bin:\(home)/.local/bin:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH=\(directory)/python:\(home)/.megaplan-stub/python",
            "FLEET_BENCH_INTERPRETERS=\(counter)",
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
