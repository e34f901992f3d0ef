import FleetCore
import Foundation
import Locks
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A runner host for benchmarks: a real OpenSSH sshd on 127.0.0.1 whose account has the runner
/// stand-ins of Tests/Fixtures/runner installed (megaplan, its `megaplan.chain` module, gh). As
/// root the light login account `mpfleet-test` is used (root's shell start-up is slow), as the
/// test harness does; otherwise the current user.
public final class BenchHost: Sendable {
    /// The runner stand-ins of this checkout (`Tests/Fixtures/runner`), found from this file's
    /// own path, for the benchmarks and the test harness alike.
    public static let checkoutFixtures: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/runner").path
    }()

    public static let account: String = {
        guard geteuid() == 0 else { return String(cString: getpwuid(geteuid())!.pointee.pw_name) }
        return "mpfleet-test"
    }()

    public let directory: String
    public let port: Int
    public let clientKeyPath: String
    public let homeDirectory: String
    /// The sshd listener; 0 once stopped.
    private let pid: Locked<pid_t>
    private let hostKeyLine: String

    /// The account's home directory (where the runner workspaces live).
    public static func accountHome() throws -> String {
        guard let entry = getpwnam(account), let dir = entry.pointee.pw_dir else {
            throw BenchError("no passwd entry for \(account)")
        }
        return String(cString: dir)
    }

    /// Creates the account when needed (root only).
    public static func prepareAccount() throws {
        guard geteuid() == 0 else { return }
        if getpwnam(account) == nil {
            _ = try? BenchProcess.run(["/usr/sbin/useradd", "-m", "-s", "/bin/sh", account])
            guard getpwnam(account) != nil else { throw BenchError("useradd \(account) failed") }
        }
        try BenchProcess.run(["/usr/sbin/usermod", "-p", "*", "-s", "/bin/sh", account])
    }

    /// `replay`: every command goes through `RunnerReplay`'s script (record, then answer from
    /// the recording after a fixed service time).
    /// `instruments`: what every command on the runner is measured with (interpreter starts, an
    /// import cost for the megaplan stand-in).
    public init(
        replay: RunnerReplay? = nil, account cpu: CPUAccount? = nil, instruments: RunnerInstruments? = nil
    ) throws {
        guard let entry = getpwnam(Self.account), let dir = entry.pointee.pw_dir else {
            throw BenchError("no passwd entry for \(Self.account)")
        }
        homeDirectory = String(cString: dir)
        var template = Array("/tmp/mpfleet-fleetbench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        port = try Self.freePort()
        clientKeyPath = directory + "/client"
        mkdir("/run/sshd", 0o755)
        try BenchProcess.run(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKeyPath])
        try BenchProcess.run([
            "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/host",
        ])
        let clientPub = try require(FileSystem.readText(clientKeyPath + ".pub"))
        try FileSystem.writeAtomically(directory + "/authorized_keys", text: clientPub)
        let hostPub = try require(FileSystem.readText(directory + "/host.pub")).split(separator: " ")
        hostKeyLine = "\(hostPub[0]) \(hostPub[1])"
        let environment =
            instruments?.environment(home: homeDirectory)
            ?? "PATH=\(homeDirectory)/.local/bin:/usr/local/bin:/usr/bin:/bin PYTHONPATH=\(homeDirectory)/.megaplan-stub/python"
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(directory)/host
            AuthorizedKeysFile \(directory)/authorized_keys
            UsePAM no
            StrictModes no
            PidFile none
            MaxSessions 10
            MaxStartups 100
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PrintMotd no
            UseDNS no
            LogLevel ERROR
            SetEnv \(environment)\(replay.map { " FLEET_BENCH_CACHE=\($0.directory)" } ?? "")
            \(replay.map { "ForceCommand /bin/sh \($0.script)" } ?? "")

            """
        try FileSystem.writeAtomically(directory + "/sshd_config", text: config)
        let listener = try BenchProcess.spawn(
            ["/usr/sbin/sshd", "-D", "-e", "-f", directory + "/sshd_config"],
            stderrPath: directory + "/sshd.log")
        pid = Locked(listener)
        cpu?.add(listener)
        for _ in 0..<2000 {
            if Self.portAccepts(port) { return }
            usleep(5000)
        }
        throw BenchError(
            "sshd on port \(port) did not start: \(FileSystem.readText(directory + "/sshd.log") ?? "")")
    }

    /// `[127.0.0.1]:PORT TYPE KEY`, for this host's port or a relay in front of it.
    public func knownHostsLine(port: Int? = nil) -> String {
        "[127.0.0.1]:\(port ?? self.port) \(hostKeyLine)"
    }

    public func stop() {
        let listener = pid.withLock { value in
            defer { value = 0 }
            return value
        }
        if listener > 0 {
            kill(listener, SIGTERM)
            var status: Int32 = 0
            waitpid(listener, &status, 0)
        }
        TemporaryDirectory.remove(directory)
    }

    /// Installs the runner stand-ins in the account's home (atomically, so a test suite running
    /// at the same time and installing the same files is not disturbed). `extraExecutables` are
    /// further stand-ins of `fixtures` for ~/.local/bin (the tests' `docker`).
    public static func installStandIns(fixtures: String, extraExecutables: [String] = []) throws {
        guard let entry = getpwnam(account), let dir = entry.pointee.pw_dir else {
            throw BenchError("no passwd entry for \(account)")
        }
        let home = String(cString: dir)
        let files: [(String, String, mode_t)] =
            (["megaplan", "gh"] + extraExecutables).map { ($0, ".local/bin/" + $0, 0o755) } + [
                ("python/megaplan/__init__.py", ".megaplan-stub/python/megaplan/__init__.py", 0o644),
                ("python/megaplan/chain.py", ".megaplan-stub/python/megaplan/chain.py", 0o644),
                ("python/megaplan/profiles.py", ".megaplan-stub/python/megaplan/profiles.py", 0o644),
                ("python/megaplan/cli/__init__.py", ".megaplan-stub/python/megaplan/cli/__init__.py", 0o644),
            ]
        var contents = files.map { ($0.0, $0.1, $0.2) }
        let profile =
            "export PATH=\"$HOME/.local/bin:$PATH\"\nexport PYTHONPATH=\"$HOME/.megaplan-stub/python\"\n"
        contents.append(("", ".profile", 0o644))
        for (source, target, mode) in contents {
            let bytes: [UInt8]
            if source.isEmpty {
                bytes = Array(profile.utf8)
            } else {
                guard let read = FileSystem.readBytes(fixtures + "/" + source) else {
                    throw BenchError("missing runner stand-in \(fixtures)/\(source) (pass --fixtures)")
                }
                bytes = read
            }
            let path = home + "/" + target
            try FileSystem.makeDirectories(PosixPath.dirname(path))
            try FileSystem.writeAtomically(path, bytes: bytes, mode: mode)
            var current = path
            while current.hasPrefix(home + "/") {
                chown(current, entry.pointee.pw_uid, entry.pointee.pw_gid)
                current = PosixPath.dirname(current)
            }
        }
    }

    /// Runs a shell script as the account (not through SSH).
    public static func runScript(_ script: String) throws {
        let path = NSTemporaryDirectory() + "fleet-bench-\(UUID().uuidString).sh"
        try FileSystem.writeAtomically(path, text: script, mode: 0o644)
        defer { unlink(path) }
        if geteuid() == 0 {
            try BenchProcess.run(["/usr/sbin/runuser", "-u", account, "--", "/bin/bash", path])
        } else {
            try BenchProcess.run(["/bin/bash", path])
        }
    }

    /// A port on 127.0.0.1 that was free a moment ago.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw BenchError("bind failed") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func portAccepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }
}

/// `#require` for plain code: unwraps or throws.
func require<T>(_ value: T?, _ message: @autoclosure () -> String = "missing value") throws -> T {
    guard let value else { throw BenchError(message()) }
    return value
}
