import BenchSupport
import FleetCore
import Foundation
import SSHClient
import TestSupport
import Testing

@testable import Transport

/// ssh_config's `ProxyCommand`: the native session runs over a spawned command's stdin and stdout
/// (a real sshd on loopback, reached only through a `socat` relay that logs every connection).
@Suite struct SSHProxyCommandTests {
    /// A relay script that records `PID HOST PORT` for each connection, then becomes `socat`.
    static func relay(in directory: String) throws -> (script: String, log: String) {
        let script = directory + "/relay.sh"
        let log = directory + "/relay.log"
        try FileSystem.writeAtomically(
            script, text: "#!/bin/sh\necho \"$$ $1 $2\" >> \(log)\nexec socat - TCP:\"$1\":\"$2\"\n")
        chmod(script, 0o755)
        return (script, log)
    }

    static func runner(_ server: SSHServer, proxyCommand: String, extra: String = "") throws -> (
        SSHRunner, SSHPool
    ) {
        let configuration = try SSHConfigAliasTests.configuration(
            """
            Host behind
              HostName 127.0.0.1
              Port \(server.port)
              User \(server.account)
              IdentityFile \(server.clientKeyPath)
              UserKnownHostsFile \(server.knownHostsPath)
              StrictHostKeyChecking yes
              ProxyCommand \(proxyCommand)
            \(extra)
            """, in: server.directory)
        let pool = SSHPool(configuration: configuration)
        return (try SSHRunner(spec: try sshCloudSpec("  host: behind"), pool: pool), pool)
    }

    /// Still a zombie or running: only reaping makes `kill(pid, 0)` fail.
    static func exists(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    @Test func theTokensAreExpandedAndTheNamesQuoted() throws {
        let directory = try TemporaryDirectory.make(prefix: "proxycommand-")
        defer { TemporaryDirectory.remove(directory) }
        let configuration = try SSHConfigAliasTests.configuration(
            """
            Host behind
              HostName 10.0.0.5
              Port 2222
              User ops$1
              HostKeyAlias runner-key
              ProxyCommand relay %h:%p %r %n %k 100%%
            Host odd
              ProxyCommand relay %d
            """, in: directory)
        let pool = SSHPool(configuration: configuration)
        let runner = try SSHRunner(spec: try sshCloudSpec("  host: behind"), pool: pool)
        #expect(runner.endpoint.proxyCommand == "relay 10.0.0.5:2222 'ops$1' behind runner-key 100%")
        #expect(runner.endpoint.host == "10.0.0.5")
        #expect {
            _ = try SSHRunner(spec: try sshCloudSpec("  host: odd"), pool: pool)
        } throws: { error in
            let error = error as! FleetError
            return error.code == .invalidSSHConfig
                && error.message.contains("unknown or unsupported token %d")
        }
    }

    @Test func theSessionRunsOverTheCommandAndTheCommandIsReaped() async throws {
        try await withSSHServer { server in
            let relay = try Self.relay(in: server.directory)
            let (runner, pool) = try Self.runner(server, proxyCommand: "\(relay.script) %h %p")
            #expect(runner.endpoint.proxyCommand == "\(relay.script) 127.0.0.1 \(server.port)")
            for word in ["first", "second"] {
                let output = try await runner.run(
                    "echo \(word)-through-proxy", stdin: nil, deadline: .seconds(30), outputLimit: nil)
                #expect(output.stdout == "\(word)-through-proxy\n", "\(output)")
            }
            #expect(pool.statistics.handshakes == 1)
            let lines = (FileSystem.readText(relay.log) ?? "").split(separator: "\n")
            #expect(lines.count == 1, "one connection carried both commands: \(lines)")
            let fields = lines.first?.split(separator: " ") ?? []
            #expect(fields.dropFirst().map(String.init) == ["127.0.0.1", "\(server.port)"])
            let pid = pid_t(fields.first.flatMap { Int32($0) } ?? 0)
            #expect(pid > 0 && Self.exists(pid), "the relay runs while the connection is open")
            await pool.shutdown()
            #expect(!Self.exists(pid), "the relay is reaped when the connection closes")
        }
    }

    @Test func theCommandsStderrNamesTheFailureRedacted() async throws {
        try await withSSHServer { server in
            let token = "ghp_" + String(repeating: "a1B2c3", count: 6)
            let (runner, pool) = try Self.runner(
                server, proxyCommand: "sh -c 'echo \"relay refused with \(token)\" >&2; exit 3'")
            let started = ContinuousClock.now
            await #expect {
                _ = try await runner.run("true", stdin: nil, deadline: .seconds(120), outputLimit: nil)
            } throws: { error in
                let error = error as! FleetError
                return error.kind == .unreachable && error.message.contains("127.0.0.1:\(server.port)")
                    && error.message.contains("through ProxyCommand `sh -c")
                    && error.message.contains("its stderr: relay refused with \(Redactor.token))")
                    && !error.message.contains(token)
            }
            // When the command exits, not at the deadline (a busy machine only delays this test's
            // own wake-up, never by the two minutes).
            #expect(ContinuousClock.now - started < .seconds(60))
            await pool.shutdown()
        }
    }

    @Test func aHungCommandIsKilledAtTheConnectTimeout() async throws {
        try await withSSHServer { server in
            let pidFile = server.directory + "/hung.pid"
            let script = server.directory + "/hung.sh"
            try FileSystem.writeAtomically(script, text: "#!/bin/sh\necho $$ > \(pidFile)\nexec sleep 600\n")
            chmod(script, 0o755)
            let (runner, pool) = try Self.runner(server, proxyCommand: script, extra: "  ConnectTimeout 1")
            let started = ContinuousClock.now
            await #expect {
                _ = try await runner.run("true", stdin: nil, deadline: .seconds(120), outputLimit: nil)
            } throws: { error in
                // The connect timeout (1 s), not the command's deadline, ended it.
                let error = error as! FleetError
                return error.kind == .timeout && error.message.contains("timed out after 1 s")
                    && error.message.contains("through ProxyCommand `\(script)`")
            }
            #expect(ContinuousClock.now - started < .seconds(60))
            let pid = pid_t(
                Int32((FileSystem.readText(pidFile) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
                    ?? 0)
            #expect(pid > 0 && !Self.exists(pid), "killed and reaped at the deadline")
            await pool.shutdown()
        }
    }
}
