import FleetCore
import Foundation
import Locks

#if canImport(Glibc)
    import Glibc
#endif

/// Options for a throwaway sshd.
public struct SSHServerOptions: Sendable {
    /// Extra `sshd_config` lines (e.g. "MaxSessions 20", "LogLevel INFO"), written before the
    /// defaults so that they win (sshd takes a keyword's first value).
    public var extraConfig: [String]
    /// Remote account. nil: `RunnerAccount.name` (the current user, except when running as root,
    /// where the light account `mpfleet-test` is used: root's ~/.bashrc runs pyenv, ~100 ms a command).
    public var account: String?
    /// Host key type for ssh-keygen (`ed25519`, `ecdsa`).
    public var hostKeyType: String
    /// The CPU account the listener joins, with every session it starts (benchmarks).
    public var cpu: CPUAccount?
    /// The numeric address sshd listens on: `127.0.0.1`, `::1` for IPv6 tests, or the address of
    /// `namespace`.
    public var listenAddress: String
    /// A network namespace (`ip netns`) to run sshd in, on port 22 of `listenAddress`: a host of
    /// its own on a test network (`TestNetwork`).
    public var namespace: String?

    public init(
        extraConfig: [String] = [], account: String? = nil, hostKeyType: String = "ed25519",
        cpu: CPUAccount? = nil, listenAddress: String = "127.0.0.1", namespace: String? = nil
    ) {
        self.extraConfig = extraConfig
        self.account = account
        self.hostKeyType = hostKeyType
        self.cpu = cpu
        self.listenAddress = listenAddress
        self.namespace = namespace
    }
}

/// A real OpenSSH sshd on 127.0.0.1 (or ::1: `SSHServerOptions.listenAddress`) with its own temp
/// directory, host key, client key, authorized_keys and known_hosts, spawned with posix_spawn
/// (Foundation `Process` hangs here): the one sshd harness of the tests (TestSupport), the
/// benchmarks, the load run and the demo.
///
/// - Account: `RunnerAccount.name` unless the options name one (when the tests run as root, the
///   login account `mpfleet-test`, made once, so commands do not pay for root's shell start-up).
/// - `runnerHost(...)` starts one whose sessions find the runner stand-ins.
/// - `stop()` / `kill()` end the listener AND its per-connection children (sshd's children call
///   setsid(), so they are found through /proc parent links, not the process group).
/// - `freeze()` / `thaw()` SIGSTOP / SIGCONT the listener and every descendant.
/// - Everything is removed in `deinit`; prefer `withSSHServer { }` which also stops the server.
public final class SSHServer: Sendable {
    public let directory: String
    /// The address it listens on (`SSHServerOptions.listenAddress`).
    public let host: String
    public let port: Int
    public let account: String
    /// The account's home directory on the "remote" side.
    public let homeDirectory: String
    /// ed25519 client key authorised for `account`.
    public let clientKeyPath: String
    /// A known_hosts file holding the server's current host key as `[127.0.0.1]:PORT` (`[::1]:PORT`).
    public let knownHostsPath: String
    public let configPath: String
    public let logPath: String
    private let options: SSHServerOptions
    private let pid = Locked<pid_t>(0)

    public init(options: SSHServerOptions = SSHServerOptions()) throws {
        self.options = options
        let account = try options.account ?? Self.defaultAccount()
        self.account = account
        guard let entry = getpwnam(account), let dir = entry.pointee.pw_dir else {
            throw BenchError("no passwd entry for \(account)")
        }
        homeDirectory = String(cString: dir)
        var template = Array("/tmp/mpfleet-sshd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed") }
        directory = String(cString: made)
        chmod(directory, 0o755)  // sshd reads authorized_keys as the account
        host = options.listenAddress
        port = options.namespace == nil ? try Self.freePort(host: host) : 22
        clientKeyPath = directory + "/client_ed25519"
        knownHostsPath = directory + "/known_hosts"
        configPath = directory + "/sshd_config"
        logPath = directory + "/sshd.log"
        mkdir("/run/sshd", 0o755)

        try Self.run([
            "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "client", "-f", clientKeyPath,
        ])
        try generateHostKey()
        try FileManager.default.copyItem(
            atPath: clientKeyPath + ".pub", toPath: directory + "/authorized_keys")
        chmod(directory + "/authorized_keys", 0o644)
        try writeKnownHosts()
        try writeConfig()
        try start()
    }

    deinit {
        signalAll(SIGKILL)
        reap()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: keys and files

    private var hostKeyPath: String { directory + "/host_key" }

    private func generateHostKey() throws {
        try? FileManager.default.removeItem(atPath: hostKeyPath)
        try? FileManager.default.removeItem(atPath: hostKeyPath + ".pub")
        try Self.run([
            "/usr/bin/ssh-keygen", "-q", "-t", options.hostKeyType, "-N", "", "-C", "host", "-f", hostKeyPath,
        ])
    }

    /// `[127.0.0.1]:PORT TYPE BASE64` for the current host key, as OpenSSH writes it, on this
    /// server's port or another name for it (a relay in front of it).
    public func knownHostsLine(port: Int? = nil) throws -> String {
        let pub = try String(contentsOfFile: hostKeyPath + ".pub", encoding: .utf8)
        let parts = pub.split(separator: " ")
        guard parts.count >= 2 else { throw BenchError("bad host key file") }
        return "\(HostPatterns.hostField(host: host, port: port ?? self.port)) \(parts[0]) \(parts[1])"
    }

    /// The host key's blob (base64) for fingerprint checks.
    public func hostKeyBase64() throws -> String {
        let pub = try String(contentsOfFile: hostKeyPath + ".pub", encoding: .utf8)
        return String(pub.split(separator: " ")[1])
    }

    public func writeKnownHosts(to path: String? = nil) throws {
        try (knownHostsLine() + "\n").write(toFile: path ?? knownHostsPath, atomically: true, encoding: .utf8)
    }

    /// Generates another client key (e.g. "rsa", "ecdsa"), optionally authorised; returns its path.
    public func makeClientKey(type: String, authorize: Bool, passphrase: String = "") throws -> String {
        let path = directory + "/client_\(type)_\(Int.random(in: 0..<1_000_000))"
        var arguments = [
            "/usr/bin/ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", "extra", "-f", path,
        ]
        if type == "rsa" { arguments += ["-b", "2048"] }
        try Self.run(arguments)
        if authorize {
            let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/authorized_keys"))
            handle.seekToEndOfFile()
            handle.write(Data(pub.utf8))
            try handle.close()
        }
        return path
    }

    /// Writes a file into the remote account's home (owned by the account). Returns its absolute path.
    @discardableResult
    public func placeFile(_ relativePath: String, contents: [UInt8], mode: Int = 0o644) throws -> String {
        let path = homeDirectory + "/" + relativePath
        let parent = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try Data(contents).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
        if let entry = getpwnam(account) {
            var current = parent
            while current.hasPrefix(homeDirectory) && current != homeDirectory {
                chown(current, entry.pointee.pw_uid, entry.pointee.pw_gid)
                current = (current as NSString).deletingLastPathComponent
            }
            chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        return path
    }

    private func writeConfig() throws {
        let lines =
            options.extraConfig + [
                "Port \(port)",
                "ListenAddress \(host)",
                "HostKey \(hostKeyPath)",
                "AuthorizedKeysFile \(directory)/authorized_keys",
                "UsePAM no",
                "StrictModes no",
                "PidFile none",
                "MaxSessions 10",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PrintMotd no",
                "UseDNS no",
                "LogLevel ERROR",
                "Subsystem sftp internal-sftp",
            ]
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: configPath, atomically: true, encoding: .utf8)
    }

    // MARK: lifecycle

    public var isRunning: Bool { pid.withLock { $0 } > 0 }
    public var listenerPID: pid_t { pid.withLock { $0 } }

    /// Starts sshd (again) on the same port; returns once the port accepts connections.
    public func start() throws {
        if isRunning { return }
        // `ip netns exec` enters the namespace and execs sshd: the listener keeps its pid.
        let child = try Self.spawn(
            (options.namespace.map { ["/usr/sbin/ip", "netns", "exec", $0] } ?? [])
                + ["/usr/sbin/sshd", "-D", "-e", "-f", configPath], stderrPath: logPath, newGroup: true)
        pid.withLock { $0 = child }
        options.cpu?.add(child)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.portAccepts(port, host: host) { return }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid.withLock { $0 = 0 }
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw BenchError("sshd exited (status \(status)): \(log)")
            }
            usleep(5_000)
        }
        throw BenchError("sshd did not accept on port \(port)")
    }

    /// SIGTERM to the listener and its per-connection children, then reaps the listener.
    public func stop() {
        signalAll(SIGTERM)
        signalAll(SIGCONT)
        reap()
    }

    /// SIGKILL to the listener and every connection child (a crash: sockets are reset by the kernel).
    public func kill() {
        signalAll(SIGKILL)
        reap()
    }

    /// Kills only the per-connection children (established sessions drop; the listener keeps accepting).
    public func dropConnections() {
        let root = listenerPID
        guard root > 0 else { return }
        for child in Self.descendants(of: root) { Glibc.kill(child, SIGKILL) }
    }

    public func freeze() { signalAll(SIGSTOP) }
    public func thaw() { signalAll(SIGCONT) }

    public func restart() throws {
        stop()
        try start()
    }

    /// New host key, server restarted. `knownHostsPath` still holds the OLD key (changed-key tests).
    public func rotateHostKey() throws {
        stop()
        try generateHostKey()
        try start()
    }

    private func signalAll(_ signal: Int32) {
        let root = listenerPID
        guard root > 0 else { return }
        let children = Self.descendants(of: root)
        Glibc.kill(root, signal)
        for child in children { Glibc.kill(child, signal) }
    }

    private func reap() {
        let child = pid.withLock { value -> pid_t in
            let v = value
            value = 0
            return v
        }
        guard child > 0 else { return }
        var status: Int32 = 0
        for _ in 0..<400 {
            if waitpid(child, &status, WNOHANG) == child { return }
            usleep(5_000)
        }
        Glibc.kill(child, SIGKILL)
        waitpid(child, &status, 0)
    }

    // MARK: process helpers

    /// All descendants of `root` (through /proc parent links).
    public static func descendants(of root: pid_t) -> [pid_t] {
        var parents: [pid_t: pid_t] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let p = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { parents[p] = ppid }
        }
        var result: [pid_t] = []
        var frontier = [root]
        while let next = frontier.popLast() {
            for (child, parent) in parents where parent == next {
                result.append(child)
                frontier.append(child)
            }
        }
        return result
    }

    /// The default remote account (`RunnerAccount.name`), made when needed.
    public static func defaultAccount() throws -> String {
        try RunnerAccount.prepare()
        return RunnerAccount.name
    }

    /// posix_spawn a program (stdin /dev/null, stdout+stderr appended to `stderrPath` or /dev/null).
    public static func spawn(_ arguments: [String], stderrPath: String? = nil, newGroup: Bool = false) throws
        -> pid_t
    {
        let out = stderrPath ?? "/dev/null"
        return try BenchProcess.spawn(
            arguments, stdoutPath: out, stderrPath: out, append: true, newGroup: newGroup)
    }

    /// Runs a program to completion; throws on a non-zero exit. Returns its output.
    @discardableResult
    public static func run(_ arguments: [String]) throws -> String { try BenchProcess.run(arguments) }
}
