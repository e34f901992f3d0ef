import Foundation
import Synchronization
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Cost of one remote command: `ssh` per command vs. libssh2 session per command vs. the pool,
/// on loopback and through a userspace relay that delays every chunk 25 ms each way (50 ms RTT).
/// Run: swift run -c release --scratch-path .build-transport ssh-bench [--quick]
@main
struct SSHBench {
    static func main() async throws {
        let quick = CommandLine.arguments.contains("--quick")
        let server = try BenchServer()
        defer { server.stop() }
        print("sshd on 127.0.0.1:\(server.port) as \(server.account); libssh2 pool vs OpenSSH client")
        print("")

        let loopback = try await measureAll(
            label: "loopback", server: server, port: server.port,
            counts: quick ? (20, 20, 100, 200) : (50, 50, 500, 1000))
        let relay = try LatencyRelay(targetPort: server.port, oneWayDelay: .milliseconds(25))
        defer { relay.stop() }
        try server.addKnownPort(relay.port)
        let rtt = relay.measureRTT()
        print(String(format: "relay on port %d: measured TCP connect RTT %.1f ms", relay.port, rtt))
        let delayed = try await measureAll(
            label: "50 ms RTT relay", server: server, port: relay.port,
            counts: quick ? (5, 5, 20, 48) : (10, 10, 40, 96),
            rttMs: 50)

        print("")
        print("Summary")
        let lbRatio = loopback.ssh / loopback.pooled8
        print(
            String(
                format:
                    "  loopback: pooled (8 in flight) is %.0fx faster per command than ssh; serial pooled %.0fx",
                lbRatio, loopback.ssh / loopback.serial))
        print(
            String(
                format:
                    "  relay: pooled serial %.2f RTT per command, pooled 8 in flight %.2f RTT, 3x3 %.2f RTT (target <= 2.5)",
                delayed.serial / 50, delayed.pooled8 / 50, delayed.pooled3x3 / 50))
        print(
            String(
                format: "  targets: loopback >= 50x: %@; relay <= 2.5 RTT (serial): %@",
                lbRatio >= 50 ? "MET" : "NOT MET", delayed.serial / 50 <= 2.5 ? "MET" : "NOT MET"))
    }

    struct Figures {
        var ssh = 0.0
        var session = 0.0
        var serial = 0.0
        var pooled8 = 0.0
        var pooled3x3 = 0.0
    }

    static func cpuSeconds(_ who: __rusage_who) -> Double {
        var usage = rusage()
        getrusage(who.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func row(_ name: String, count: Int, wall: Double, cpu: Double, baseline: Double?, rttMs: Double?)
        -> Double
    {
        let ms = wall * 1000 / Double(count)
        let padded = name.count >= 50 ? name : name + String(repeating: " ", count: 50 - name.count)
        var line =
            "  " + padded
            + String(
                format: " %5d cmds  %8.2f ms/cmd  CPU %6.2f ms/cmd", count, ms, cpu * 1000 / Double(count))
        if let baseline { line += String(format: "  %7.1fx vs ssh", baseline / ms) }
        if let rttMs { line += String(format: "  %5.2f RTT", ms / rttMs) }
        print(line)
        return ms
    }

    static func measureAll(
        label: String, server: BenchServer, port: Int, counts: (Int, Int, Int, Int), rttMs: Double? = nil
    ) async throws -> Figures {
        print("== \(label) ==")
        var figures = Figures()
        let endpoint = SSHEndpoint(
            host: "127.0.0.1", port: port, user: server.account, identityFile: server.clientKey)
        var config = SSHConfiguration(knownHostsPath: server.knownHosts)
        config.hostKeyPolicy = .strict

        // 1. a new ssh process per command
        do {
            let start = ContinuousClock.now
            let cpu0 = cpuSeconds(RUSAGE_SELF) + cpuSeconds(RUSAGE_CHILDREN)
            for _ in 0..<counts.0 {
                let status = try BenchServer.runWait([
                    "/usr/bin/ssh", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=\(server.knownHosts)",
                    "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none",
                    "-i", server.clientKey, "-p", String(port), "\(server.account)@127.0.0.1", "true",
                ])
                if status != 0 { print("  ssh exited \(status)") }
            }
            let wall = (ContinuousClock.now - start).seconds
            let cpu = cpuSeconds(RUSAGE_SELF) + cpuSeconds(RUSAGE_CHILDREN) - cpu0
            figures.ssh = row(
                "new ssh process per command (baseline)", count: counts.0, wall: wall, cpu: cpu,
                baseline: nil, rttMs: rttMs)
        }
        // 2. a new libssh2 session per command
        do {
            let start = ContinuousClock.now
            let cpu0 = cpuSeconds(RUSAGE_SELF)
            for _ in 0..<counts.1 {
                let pool = SSHPool(configuration: config)
                _ = try await pool.run("true", on: endpoint)
                await pool.shutdown()
            }
            let wall = (ContinuousClock.now - start).seconds
            figures.session = row(
                "new libssh2 session per command", count: counts.1, wall: wall,
                cpu: cpuSeconds(RUSAGE_SELF) - cpu0, baseline: figures.ssh, rttMs: rttMs)
        }
        // 3. one pooled session, one command at a time
        do {
            let pool = SSHPool(configuration: config)
            _ = try await pool.run("true", on: endpoint)
            let start = ContinuousClock.now
            let cpu0 = cpuSeconds(RUSAGE_SELF)
            for _ in 0..<counts.2 { _ = try await pool.run("true", on: endpoint) }
            let wall = (ContinuousClock.now - start).seconds
            figures.serial = row(
                "pooled session, serial", count: counts.2, wall: wall, cpu: cpuSeconds(RUSAGE_SELF) - cpu0,
                baseline: figures.ssh, rttMs: rttMs)
            await pool.shutdown()
        }
        // 4. pooled, 8 in flight (lazily one connection: 8 channels)
        figures.pooled8 = try await concurrent(
            "pooled, 8 in flight (1 connection x 8 channels)", config: config, endpoint: endpoint,
            count: counts.3,
            inFlight: 8, baseline: figures.ssh, rttMs: rttMs)
        var spread = config
        spread.channelsPerConnection = 3
        figures.pooled3x3 = try await concurrent(
            "pooled, 8 in flight (3 connections x 3 channels)", config: spread, endpoint: endpoint,
            count: counts.3,
            inFlight: 8, baseline: figures.ssh, rttMs: rttMs)
        return figures
    }

    static func concurrent(
        _ name: String, config: SSHConfiguration, endpoint: SSHEndpoint, count: Int, inFlight: Int,
        baseline: Double,
        rttMs: Double?
    ) async throws -> Double {
        let pool = SSHPool(configuration: config)
        // Warm: open the connections this load will use.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<inFlight { group.addTask { _ = try await pool.run("true", on: endpoint) } }
            try await group.waitForAll()
        }
        let start = ContinuousClock.now
        let cpu0 = cpuSeconds(RUSAGE_SELF)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            for _ in 0..<inFlight {
                group.addTask { _ = try await pool.run("true", on: endpoint) }
                started += 1
            }
            while try await group.next() != nil {
                if started < count {
                    group.addTask { _ = try await pool.run("true", on: endpoint) }
                    started += 1
                }
            }
        }
        let wall = (ContinuousClock.now - start).seconds
        let ms = row(
            name, count: count, wall: wall, cpu: cpuSeconds(RUSAGE_SELF) - cpu0, baseline: baseline,
            rttMs: rttMs)
        let stats = pool.statistics
        print(
            "      (handshakes \(stats.handshakes), commands \(stats.commandsRun), reconnects \(stats.reconnects))"
        )
        await pool.shutdown()
        return ms
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

/// A throwaway sshd for the benchmark (the test harness lives in a test-only target).
final class BenchServer {
    let directory: String
    let port: Int
    let account: String
    let clientKey: String
    let knownHosts: String
    private var pid: pid_t = 0

    init() throws {
        if geteuid() == 0 {
            account = "mpfleet-test"
            if getpwnam(account) == nil {
                _ = try Self.runWait(["/usr/sbin/useradd", "-m", "-s", "/bin/sh", account])
            }
            _ = try Self.runWait(["/usr/sbin/usermod", "-p", "*", "-s", "/bin/sh", account])
        } else {
            account = String(cString: getpwuid(geteuid())!.pointee.pw_name)
        }
        var template = Array("/tmp/mpfleet-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        port = try Self.freePort()
        clientKey = directory + "/client"
        knownHosts = directory + "/known_hosts"
        mkdir("/run/sshd", 0o755)
        _ = try Self.runWait(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey])
        _ = try Self.runWait([
            "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/host",
        ])
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: directory + "/authorized_keys")
        let hostPub = try String(contentsOfFile: directory + "/host.pub", encoding: .utf8).split(
            separator: " ")
        // The relay port differs from sshd's: record the key for both "[127.0.0.1]:port" forms via a wildcard-free list later.
        try "[127.0.0.1]:\(port) \(hostPub[0]) \(hostPub[1])\n".write(
            toFile: knownHosts, atomically: true, encoding: .utf8)
        hostLine = "\(hostPub[0]) \(hostPub[1])"
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
            PrintMotd no
            UseDNS no
            LogLevel ERROR
            Subsystem sftp internal-sftp

            """
        try config.write(toFile: directory + "/sshd_config", atomically: true, encoding: .utf8)
        pid = try Self.spawn(
            ["/usr/sbin/sshd", "-D", "-e", "-f", directory + "/sshd_config"], output: directory + "/sshd.log")
        for _ in 0..<2000 {
            if Self.portAccepts(port) { return }
            usleep(5000)
        }
        throw BenchError("sshd did not start")
    }

    let hostLine: String

    func addKnownPort(_ extraPort: Int) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: knownHosts))
        handle.seekToEndOfFile()
        handle.write(Data("[127.0.0.1]:\(extraPort) \(hostLine)\n".utf8))
        try handle.close()
    }

    func stop() {
        if pid > 0 {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func portAccepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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

    static func spawn(_ arguments: [String], output: String = "/dev/null") throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, arguments[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("posix_spawn \(arguments[0]) failed: \(rc)") }
        return child
    }

    static func runWait(_ arguments: [String]) throws -> Int32 {
        let child = try spawn(arguments)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// TCP relay on loopback that holds every chunk `oneWayDelay` before forwarding it (each direction),
/// giving a round trip of twice that. One thread per direction per connection.
final class LatencyRelay: Sendable {
    let port: Int
    private let listener: Int32
    private let delay: Duration
    private let stopped = Atomic<Bool>(false)

    init(targetPort: Int, oneWayDelay: Duration) throws {
        delay = oneWayDelay
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listen(listener, 128)
        // (self is fully initialised from here on)
        let listenerFD = listener
        let delay = oneWayDelay
        Thread.detachNewThread { [self] in
            while !self.stopped.load(ordering: .relaxed) {
                let client = accept(listenerFD, nil, nil)
                if client < 0 { if self.stopped.load(ordering: .relaxed) { return } else { continue } }
                let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var target = sockaddr_in()
                target.sin_family = sa_family_t(AF_INET)
                target.sin_addr.s_addr = inet_addr("127.0.0.1")
                target.sin_port = in_port_t(UInt16(targetPort).bigEndian)
                // The relay's own connect to the target is also delayed (SYN one way, SYN-ACK back).
                let rc = withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                if rc != 0 {
                    close(client)
                    close(upstream)
                    continue
                }
                for fd in [client, upstream] {
                    var on: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                }
                let pair = Pair(a: client, b: upstream)
                Thread.detachNewThread {
                    LatencyRelay.pump(from: client, to: upstream, delay: delay, pair: pair)
                }
                Thread.detachNewThread {
                    LatencyRelay.pump(from: upstream, to: client, delay: delay, pair: pair)
                }
            }
        }
    }

    /// Closes both sockets once both directions have finished.
    final class Pair: Sendable {
        let a: Int32
        let b: Int32
        let finished = Atomic<Int>(0)
        init(a: Int32, b: Int32) {
            self.a = a
            self.b = b
        }
        func done() {
            if finished.add(1, ordering: .acquiringAndReleasing).newValue == 2 {
                close(a)
                close(b)
            }
        }
    }

    static func pump(from source: Int32, to destination: Int32, delay: Duration, pair: Pair) {
        var queue: [(due: ContinuousClock.Instant, bytes: [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        var sourceOpen = true
        while sourceOpen || !queue.isEmpty {
            let now = ContinuousClock.now
            while let first = queue.first, first.due <= now {
                var offset = 0
                while offset < first.bytes.count {
                    let n = first.bytes.withUnsafeBytes {
                        write(destination, $0.baseAddress! + offset, $0.count - offset)
                    }
                    if n <= 0 {
                        sourceOpen = false
                        queue.removeAll()
                        break
                    }
                    offset += n
                }
                if !queue.isEmpty { queue.removeFirst() }
            }
            var timeout: Int32 = -1
            if let first = queue.first {
                let wait = first.due - ContinuousClock.now
                timeout = max(
                    0,
                    Int32((Double(wait.components.attoseconds) / 1e15).rounded(.up))
                        + Int32(wait.components.seconds * 1000))
            }
            if !sourceOpen {
                if let first = queue.first {
                    let wait = first.due - ContinuousClock.now
                    if wait > .zero { usleep(UInt32(max(0, wait.seconds * 1e6))) }
                }
                continue
            }
            var fds = pollfd(fd: source, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, timeout)
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if n <= 0 {
                    sourceOpen = false
                } else {
                    queue.append((ContinuousClock.now + delay, Array(buffer[0..<n])))
                }
            }
        }
        shutdown(destination, Int32(SHUT_WR))
        pair.done()
    }

    /// Time for a TCP connect + first byte exchange is not meaningful through a relay that
    /// accepts locally; instead time an SSH banner round trip: connect, read the server banner.
    func measureRTT() -> Double {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let start = ContinuousClock.now
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var buffer = [UInt8](repeating: 0, count: 256)
        _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        // connect is local (relay accepts at once); the banner comes back after one delayed leg
        // plus the relay's local connect: report twice the one-way delay seen.
        return (ContinuousClock.now - start).seconds * 1000 * 2
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
