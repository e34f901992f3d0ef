import BenchSupport
import FleetCore
import Foundation
import Locks
import TestSupport
import Testing

@testable import SSHClient
@testable import Transport

/// Everything here runs against real sshd processes on loopback (see TestSupport/SSHServer).
/// No test counts the process's descriptors or threads (other suites run beside this one): what
/// a pool holds is read from the pool, and sockets are counted by the port of the test's sshd.
@Suite("SSH pool against a real sshd", .serialized)
struct SSHPoolTests {

    // MARK: helpers

    static func elapsed(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).secondsDouble
    }

    static func fingerprint(ofPublicKeyFile path: String) throws -> String {
        // "256 SHA256:... comment (ED25519)"
        let out = try SSHServer.run(["/usr/bin/ssh-keygen", "-l", "-f", path])
        return String(out.split(separator: " ")[1])
    }

    /// `command` prefixed with the creation of a fresh mark file, and that file's path: a test
    /// acts on a running command once `waitForMark` has seen it, not after a guessed sleep.
    static func marked(_ command: String, on server: SSHServer) -> (command: String, mark: String) {
        let mark = server.homeDirectory + "/mark-\(UUID().uuidString)"
        return ("touch \(mark); \(command)", mark)
    }

    /// Waits (up to a minute: a busy machine is slow, not wrong) until `mark` exists.
    static func waitForMark(_ mark: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: mark), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(
            FileManager.default.fileExists(atPath: mark), "the command never started",
            sourceLocation: sourceLocation)
        unlink(mark)
    }

    static func expectSSHError<T>(
        _ kind: SSHError.Kind, _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> SSHError? {
        do {
            _ = try await body()
            Issue.record("expected \(kind) but the call succeeded", sourceLocation: sourceLocation)
            return nil
        } catch let error as SSHError {
            #expect(error.kind == kind, "got \(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices { words[i] = generator.next() }
        }
        return bytes
    }

    // MARK: throughput and correctness

    @Test("200 commands over 2 connections with 16 in flight, outputs matched")
    func manyCommandsMultiplexed() async throws {
        try await withSSHServer { server in
            var config = server.configuration()
            config.connectionsPerHost = 2
            config.channelsPerConnection = 8
            let pool = SSHPool(configuration: config)
            let endpoint = server.endpoint
            let results = try await withThrowingTaskGroup(of: (Int, String, Int32).self) { group in
                var collected: [Int: (String, Int32)] = [:]
                var next = 0
                func add() {
                    let i = next
                    next += 1
                    group.addTask {
                        let r = try await pool.run(
                            "echo out-\(i); echo err-\(i) >&2; exit \(i % 7)", on: endpoint)
                        #expect(r.stderrText == "err-\(i)\n")
                        return (i, r.stdoutText, r.exitStatus)
                    }
                }
                for _ in 0..<16 { add() }
                while let (i, out, status) = try await group.next() {
                    collected[i] = (out, status)
                    if next < 200 { add() }
                }
                return collected
            }
            #expect(results.count == 200)
            for i in 0..<200 {
                #expect(results[i]?.0 == "out-\(i)\n")
                #expect(results[i]?.1 == Int32(i % 7))
            }
            let stats = pool.statistics
            #expect(stats.handshakes == 2)
            #expect(stats.commandsRun == 200)
            await pool.shutdown()
        }
    }

    @Test("stdin round trip of 8 MiB")
    func stdinRoundTrip() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let input = Self.randomBytes(8 << 20)
            let r = try await pool.run("cat", on: server.endpoint, stdin: input)
            #expect(r.exitStatus == 0)
            #expect(r.stdout.count == input.count)
            #expect(r.stdout == input)
            let wc = try await pool.run("wc -c", on: server.endpoint, stdin: Array("hello".utf8))
            #expect(wc.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "5")
            await pool.shutdown()
        }
    }

    /// Past the cap a capture fails at once and the remote command is stopped: an endless
    /// stream costs the cap, not a drain until some deadline.
    @Test("output cap fails the command and stops it")
    func outputLimit() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let exact = try await pool.run("head -c 1000 /dev/zero", on: server.endpoint, outputLimit: 1000)
            #expect(exact.stdout.count == 1000)
            for (command, stream) in [("yes", "stdout"), ("yes >&2", "stderr")] {
                do {
                    _ = try await pool.run(command, on: server.endpoint, outputLimit: 1000)
                    Issue.record("\(command): an endless output was accepted")
                } catch let error as SSHError {
                    #expect(error.kind == .commandFailed)
                    #expect(error.message.contains("more than 1000 bytes on \(stream)"), "\(error.message)")
                }
            }
            // The connection is still usable afterwards.
            let again = try await pool.run("echo ok", on: server.endpoint)
            #expect(again.stdoutText == "ok\n")
            #expect(pool.statistics.handshakes == 1)
            await pool.shutdown()
        }
    }

    @Test("stream delivers merged lines and the exit status")
    func streamLines() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let lines = LinesBox()
            let status = try await pool.stream(
                "for i in 1 2 3; do echo line-$i; done; echo to-stderr >&2; sleep 0.2; printf tail; exit 4",
                on: server.endpoint
            ) { line in
                lines.append(line)
            }
            #expect(status == 4)
            let got = lines.all
            #expect(got.contains("line-1\n") && got.contains("line-2\n") && got.contains("line-3\n"))
            #expect(got.contains("to-stderr\n"))
            #expect(got.last == "tail", "the unfinished last line is handed over as it is")
            await pool.shutdown()
        }
    }

    /// A 20 MB line through a real channel: never more than the cap held (it once came through
    /// whole, after a quadratic rescan), and the lines around it intact.
    @Test("stream bounds an overlong line and keeps the lines after it")
    func streamCutsOverlongLines() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let lines = LinesBox()
            let status = try await pool.stream(
                "echo before; head -c 20000000 /dev/zero | tr '\\0' a; echo; echo after", on: server.endpoint
            ) { line in
                lines.append(line)
            }
            #expect(status == 0)
            let got = lines.all
            #expect(got.first == "before\n")
            #expect(got.last == "after\n")
            let middle = got.dropFirst().dropLast()
            // How many pieces depends on how the channel chunks the bytes; each is bounded.
            #expect(middle.count >= 2, "\(got.map(\.utf8.count))")
            #expect(middle.allSatisfy { $0.utf8.count <= LineSplitter.defaultMaximumPending + (256 << 10) })
            #expect(middle.dropLast().allSatisfy { $0.hasSuffix(" bytes without a blank dropped]") })
            await pool.shutdown()
        }
    }

    @Test("upload of a 32 MiB file, checked with sha256sum on the server")
    func uploadLargeFile() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let bytes = Self.randomBytes(32 << 20)
            let local = server.directory + "/big.bin"
            try Data(bytes).write(to: URL(fileURLWithPath: local))
            let remote = server.homeDirectory + "/uploads/nested/big.bin"
            _ = try await pool.run("rm -rf \(server.homeDirectory)/uploads", on: server.endpoint)
            let start = ContinuousClock.now
            try await pool.upload(localFile: local, to: remote, mode: 0o640, on: server.endpoint)
            let seconds = Self.elapsed(since: start)
            let sum = try await pool.run(
                "sha256sum \(remote) | cut -d' ' -f1; stat -c %a \(remote)", on: server.endpoint)
            let parts = sum.stdoutText.split(separator: "\n").map(String.init)
            #expect(parts.first == Digest.sha256Hex(bytes: bytes))
            #expect(parts.last == "640")
            #expect(seconds < 10)
            // In-memory bytes too.
            try await pool.upload(
                Array("small\n".utf8), to: server.homeDirectory + "/uploads/small.txt", on: server.endpoint)
            let small = try await pool.run(
                "cat \(server.homeDirectory)/uploads/small.txt", on: server.endpoint)
            #expect(small.stdoutText == "small\n")
            await pool.shutdown()
        }
    }

    @Test("upload of a directory tree, checked with sha256sum on the server")
    func uploadDirectoryTree() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let root = server.directory + "/tree"
            var expected: [String: String] = [:]
            for (index, relative) in [
                "a.txt", "sub/b.bin", "sub/deeper/c.sh", "sub/deeper/d e.txt", "other/f",
            ].enumerated() {
                let path = root + "/" + relative
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                let content = Self.randomBytes(1000 + index * 150_000)
                try Data(content).write(to: URL(fileURLWithPath: path))
                expected[relative] = Digest.sha256Hex(bytes: content)
            }
            chmod(root + "/sub/deeper/c.sh", 0o755)
            try FileManager.default.createDirectory(
                atPath: root + "/empty", withIntermediateDirectories: true)
            let remote = server.homeDirectory + "/deploy/v1"
            _ = try await pool.run("rm -rf \(server.homeDirectory)/deploy", on: server.endpoint)
            try await pool.uploadDirectory(localPath: root, to: remote, on: server.endpoint)
            let listing = try await pool.run(
                "cd \(remote) && find . -type f -print0 | sort -z | xargs -0 sha256sum; test -d empty && echo EMPTY; stat -c %a sub/deeper/c.sh",
                on: server.endpoint)
            var got: [String: String] = [:]
            var sawEmpty = false
            var lastLine = ""
            for line in listing.stdoutText.split(separator: "\n") {
                if line == "EMPTY" {
                    sawEmpty = true
                    continue
                }
                let pieces = line.split(separator: " ", maxSplits: 1)
                if pieces.count == 2 {
                    got[String(pieces[1].trimmingCharacters(in: .whitespaces).dropFirst(2))] = String(
                        pieces[0])
                } else {
                    lastLine = String(line)
                }
            }
            #expect(got == expected)
            #expect(sawEmpty)
            #expect(lastLine == "755")
            await pool.shutdown()
        }
    }

    // MARK: host keys

    @Test("strict refuses an unknown host, naming host and fingerprint")
    func strictRefusesUnknown() async throws {
        try await withSSHServer { server in
            var config = server.configuration()
            config.knownHostsPath = server.directory + "/none/known_hosts"
            let pool = SSHPool(configuration: config)
            let fingerprint = try Self.fingerprint(ofPublicKeyFile: server.directory + "/host_key.pub")
            let error = await Self.expectSSHError(.hostKeyUnknown) {
                try await pool.run("true", on: server.endpoint)
            }
            #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
            #expect(error?.message.contains(fingerprint) == true)
            #expect(!FileManager.default.fileExists(atPath: config.knownHostsPath))
            await pool.shutdown()
        }
    }

    @Test("accept-new records an unknown host (OpenSSH line, 0600 file, 0700 dir), then it is known")
    func acceptNewRecords() async throws {
        try await withSSHServer { server in
            var config = server.configuration(hostKeyPolicy: .acceptNew)
            let dir = server.directory + "/fresh-ssh"
            config.knownHostsPath = dir + "/known_hosts"
            let pool = SSHPool(configuration: config)
            let r = try await pool.run("echo hi", on: server.endpoint)
            #expect(r.stdoutText == "hi\n")
            await pool.shutdown()
            let text = try String(contentsOfFile: config.knownHostsPath, encoding: .utf8)
            #expect(text == (try server.knownHostsLine()) + "\n")
            let fileMode =
                try FileManager.default.attributesOfItem(atPath: config.knownHostsPath)[.posixPermissions]
                as? Int
            let dirMode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
            #expect(fileMode == 0o600)
            #expect(dirMode == 0o700)
            // Now known: strict accepts it; ssh-keygen -F finds it (valid OpenSSH format).
            config.hostKeyPolicy = .strict
            let strictPool = SSHPool(configuration: config)
            #expect(try await strictPool.run("echo again", on: server.endpoint).stdoutText == "again\n")
            await strictPool.shutdown()
            let found = try SSHServer.run([
                "/usr/bin/ssh-keygen", "-F", "[127.0.0.1]:\(server.port)", "-f", config.knownHostsPath,
            ])
            #expect(found.contains("ssh-ed25519"))
            // A hashed entry (ssh-keygen -H) still matches.
            try SSHServer.run(["/usr/bin/ssh-keygen", "-H", "-f", config.knownHostsPath])
            #expect(try String(contentsOfFile: config.knownHostsPath, encoding: .utf8).hasPrefix("|1|"))
            let hashedPool = SSHPool(configuration: config)
            #expect(try await hashedPool.run("echo hashed", on: server.endpoint).stdoutText == "hashed\n")
            await hashedPool.shutdown()
        }
    }

    @Test("a changed host key is refused under strict and accept-new, with both fingerprints")
    func changedKeyRefused() async throws {
        try await withSSHServer { server in
            let old = try Self.fingerprint(ofPublicKeyFile: server.directory + "/host_key.pub")
            try server.rotateHostKey()
            let new = try Self.fingerprint(ofPublicKeyFile: server.directory + "/host_key.pub")
            #expect(old != new)
            let before = try String(contentsOfFile: server.knownHostsPath, encoding: .utf8)
            for policy in HostKeyPolicy.allCases {
                let pool = SSHPool(configuration: server.configuration(hostKeyPolicy: policy))
                let error = await Self.expectSSHError(.hostKeyChanged) {
                    try await pool.run("true", on: server.endpoint)
                }
                #expect(error?.message.contains(old) == true, "\(String(describing: error))")
                #expect(error?.message.contains(new) == true, "\(String(describing: error))")
                #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
                await pool.shutdown()
            }
            #expect(try String(contentsOfFile: server.knownHostsPath, encoding: .utf8) == before)
        }
    }

    // MARK: failures and liveness

    @Test("sshd killed while idle: the next command reconnects")
    func reconnectAfterIdleKill() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            #expect(try await pool.run("echo one", on: server.endpoint).stdoutText == "one\n")
            server.kill()
            try server.start()
            #expect(try await pool.run("echo two", on: server.endpoint).stdoutText == "two\n")
            let stats = pool.statistics
            #expect(stats.handshakes == 2)
            #expect(stats.reconnects == 1)
            await pool.shutdown()
        }
    }

    @Test("sshd killed during a command: it fails with connectionLost, the next one works")
    func killDuringCommand() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            #expect(try await pool.run("true", on: server.endpoint).exitStatus == 0)
            let endpoint = server.endpoint
            let (command, mark) = Self.marked("sleep 5; echo finished", on: server)
            let running = Task { try await pool.run(command, on: endpoint) }
            try await Self.waitForMark(mark)
            let start = ContinuousClock.now
            server.kill()
            let error = await Self.expectSSHError(.connectionLost) { try await running.value }
            #expect(Self.elapsed(since: start) < 2)
            #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
            try server.start()
            #expect(try await pool.run("echo back", on: server.endpoint).stdoutText == "back\n")
            #expect(pool.statistics.reconnects == 1)
            await pool.shutdown()
        }
    }

    @Test("sshd frozen with SIGSTOP is detected within the keepalive bound")
    func frozenServerDetected() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(
                configuration: server.configuration(keepaliveInterval: .seconds(1), keepaliveMaxMissed: 3))
            #expect(try await pool.run("true", on: server.endpoint).exitStatus == 0)
            let endpoint = server.endpoint
            // A quiet command keeps the connection busy without output; keepalives must keep it alive.
            let quiet = try await pool.run("sleep 3.5; echo alive", on: endpoint)
            #expect(quiet.stdoutText == "alive\n")
            #expect(pool.statistics.connectionsLost == 0)
            let (command, mark) = Self.marked("sleep 30", on: server)
            let running = Task { try await pool.run(command, on: endpoint) }
            try await Self.waitForMark(mark)
            let start = ContinuousClock.now
            server.freeze()
            defer { server.thaw() }
            let error = await Self.expectSSHError(.connectionLost) { try await running.value }
            let detection = Self.elapsed(since: start)
            // 3 s nominally (1 s x 3 missed keepalives); the bound leaves room for a starved
            // machine and still ends long before the 30 s command would.
            #expect(detection < 20, "detected after \(detection) s")
            #expect(detection > 1.5, "detected after \(detection) s")
            #expect(error != nil)
            server.thaw()
            // Idle connection to a frozen server: the next command gets a fresh connection once thawed.
            #expect(try await pool.run("echo thawed", on: endpoint).stdoutText == "thawed\n")
            await pool.shutdown()
        }
    }

    @Test("remote sleep 60 with a 2 s deadline: timeout in ~2 s, nothing left on the server")
    func deadlineStopsRemoteProcess() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            #expect(try await pool.run("true", on: server.endpoint).exitStatus == 0)
            // A duration no other process on the machine uses, so the check below finds only this one.
            let sleep = "sleep 60.\(UInt32.random(in: 100_000...999_999))"
            let start = ContinuousClock.now
            let error = await Self.expectSSHError(.timedOut) {
                try await pool.run(sleep, on: server.endpoint, deadline: .seconds(2))
            }
            let took = Self.elapsed(since: start)
            #expect(took < 5, "took \(took) s")
            #expect(took > 1.5, "took \(took) s")
            #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
            let check = try await pool.run("pgrep -f '^\(sleep)$' || echo none", on: server.endpoint)
            #expect(check.stdoutText == "none\n")
            // A command that finishes in time is unaffected by its deadline.
            let quick = try await pool.run("echo quick; exit 3", on: server.endpoint, deadline: .seconds(5))
            #expect(quick.stdoutText == "quick\n")
            #expect(quick.exitStatus == 3)
            await pool.shutdown()
        }
    }

    @Test("wrong key => authFailed; RSA key => clear message; passphrase key => clear message")
    func authFailures() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            var endpoint = server.endpoint
            endpoint.identityFile = try server.makeClientKey(type: "ed25519", authorize: false)
            let wrong = await Self.expectSSHError(.authFailed) { try await pool.run("true", on: endpoint) }
            #expect(wrong?.message.contains("127.0.0.1:\(server.port)") == true)

            endpoint.identityFile = try server.makeClientKey(type: "rsa", authorize: true)
            let rsa = await Self.expectSSHError(.authFailed) { try await pool.run("true", on: endpoint) }
            #expect(
                rsa?.message.contains(
                    "RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key"
                )
                    == true, "\(String(describing: rsa))")

            endpoint.identityFile = try server.makeClientKey(
                type: "ed25519", authorize: true, passphrase: "secret")
            let locked = await Self.expectSSHError(.authFailed) { try await pool.run("true", on: endpoint) }
            #expect(locked?.message.contains("passphrase") == true, "\(String(describing: locked))")

            endpoint.identityFile = try server.makeClientKey(type: "ecdsa", authorize: true)
            #expect(try await pool.run("echo ecdsa", on: endpoint).stdoutText == "ecdsa\n")
            await pool.shutdown()
        }
    }

    @Test("closed port => unreachable, quickly")
    func unreachable() async throws {
        let port = try SSHServer.freePort()
        let pool = SSHPool(configuration: SSHConfiguration(knownHostsPath: "/nonexistent/known_hosts"))
        let start = ContinuousClock.now
        let error = await Self.expectSSHError(.unreachable) {
            try await pool.run("true", on: SSHEndpoint(host: "127.0.0.1", port: port, user: "nobody"))
        }
        #expect(Self.elapsed(since: start) < 2)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        await pool.shutdown()
    }

    @Test("queued requests wait for a free channel; cancellation of a queued request")
    func queueingAndCancel() async throws {
        try await withSSHServer { server in
            var config = server.configuration()
            config.connectionsPerHost = 1
            config.channelsPerConnection = 2
            let pool = SSHPool(configuration: config)
            let endpoint = server.endpoint
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { _ = try await pool.run("sleep 0.5", on: endpoint) } }
                try await group.waitForAll()
            }
            let took = Self.elapsed(since: start)
            #expect(took >= 0.95, "4 x 0.5 s on 2 channels took \(took)")
            #expect(pool.statistics.handshakes == 1)
            // Both channels busy (known from their marks, not from a sleep) until the blockers end.
            let first = Self.marked("sleep 3", on: server)
            let second = Self.marked("sleep 3", on: server)
            let blocker = Task { try await pool.run(first.command, on: endpoint, deadline: .seconds(60)) }
            let blocker2 = Task { try await pool.run(second.command, on: endpoint, deadline: .seconds(60)) }
            try await Self.waitForMark(first.mark)
            try await Self.waitForMark(second.mark)
            let queued = Task { try await pool.run("echo never", on: endpoint) }
            // Usually cancelled while queued; cancelled before it is submitted, it fails alike.
            try await Task.sleep(for: .milliseconds(100))
            queued.cancel()
            let cancelled = await Self.expectSSHError(.cancelled) { try await queued.value }
            #expect(cancelled?.message.contains("cancelled") == true)
            _ = try await blocker.value
            _ = try await blocker2.value
            await pool.shutdown()
        }
    }

    /// Counts only what this test owns: the pool's own connections (thread, eventfd, socket) and
    /// the sockets connected to this test's sshd; other tests run beside it.
    @Test("shutdown: the pool's threads, eventfds and sockets released, idempotent, later calls fail")
    func shutdownReleasesEverything() async throws {
        try await withSSHServer { server in
            var config = server.configuration()
            config.connectionsPerHost = 3
            config.channelsPerConnection = 2
            let pool = SSHPool(configuration: config)
            let endpoint = server.endpoint
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<12 {
                    group.addTask { _ = try await pool.run("sleep 0.1; echo \(i)", on: endpoint) }
                }
                try await group.waitForAll()
            }
            try await pool.upload(
                Array("x".utf8), to: server.homeDirectory + "/shutdown-test/x", on: endpoint)
            #expect(pool.statistics.handshakes == 3)
            #expect(pool.connectionsHeld == 3)
            #expect(OwnedSockets.connected(toPorts: [server.port]) == 3)
            await pool.shutdown()
            await pool.shutdown()
            #expect(pool.connectionsHeld == 0)
            #expect(OwnedSockets.connected(toPorts: [server.port]) == 0)
            _ = await Self.expectSSHError(.connectionLost) { try await pool.run("true", on: endpoint) }
        }
    }

    @Test("shutdown while a command runs fails it with connectionLost and returns promptly")
    func shutdownDuringCommand() async throws {
        try await withSSHServer { server in
            let pool = SSHPool(configuration: server.configuration())
            let endpoint = server.endpoint
            let (command, mark) = Self.marked("sleep 20", on: server)
            let running = Task { try await pool.run(command, on: endpoint) }
            try await Self.waitForMark(mark)
            let start = ContinuousClock.now
            await pool.shutdown()
            _ = await Self.expectSSHError(.connectionLost) { try await running.value }
            #expect(Self.elapsed(since: start) < 3)
        }
    }
}

final class LinesBox: Sendable {
    private let lines = Locked<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
