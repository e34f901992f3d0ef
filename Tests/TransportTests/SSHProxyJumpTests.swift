import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

@testable import SSHClient
@testable import Transport

/// ssh_config's `ProxyJump`, native: inner sessions over `direct-tcpip` channels of pooled
/// connections to real sshd jump hosts on loopback (`SSHProxyJumpNetworkTests` puts the runner
/// where only the jump host can reach it).
@Suite struct SSHProxyJumpTests {
    /// Servers named by ssh_config aliases, each with its own key and `extra` lines; every host's
    /// key in one known_hosts file unless `unknown` names it.
    struct Hosts {
        let servers: [String: SSHServer]
        let directory: String
        let configuration: SSHConfiguration

        init(
            _ names: [String], routes: [String: String], unknown: Set<String> = [],
            channelsPerConnection: Int = 8
        ) throws {
            var servers: [String: SSHServer] = [:]
            for name in names { servers[name] = try SSHServer() }
            directory = try TemporaryDirectory.make(prefix: "proxyjump-")
            let knownHosts = directory + "/known_hosts"
            try FileSystem.writeAtomically(
                knownHosts,
                text: try names.filter { !unknown.contains($0) }.map {
                    try servers[$0]!.knownHostsLine() + "\n"
                }
                .joined())
            var config = ""
            for name in names {
                let server = servers[name]!
                config += """
                    Host \(name)
                      HostName 127.0.0.1
                      Port \(server.port)
                      User \(server.account)
                      IdentityFile \(server.clientKeyPath)

                    """
                if let route = routes[name] { config += "  ProxyJump \(route)\n" }
            }
            config += "Host *\n  UserKnownHostsFile \(knownHosts)\n  StrictHostKeyChecking yes\n"
            try FileSystem.writeAtomically(directory + "/ssh_config", text: config)
            var configuration = SSHConfiguration(
                knownHostsPath: directory + "/none", connectionsPerHost: 1,
                channelsPerConnection: channelsPerConnection, connectTimeout: .seconds(5))
            configuration.clientConfigFiles =
                SSHConfigResolver.standard(path: directory + "/ssh_config").files
            self.servers = servers
            self.configuration = configuration
        }

        func runner(_ name: String, pool: SSHPool) throws -> SSHRunner {
            try SSHRunner(spec: try sshCloudSpec("  host: \(name)"), pool: pool)
        }

        func stop() {
            for server in servers.values { server.kill() }
            TemporaryDirectory.remove(directory)
        }
    }

    static func echo(_ runner: SSHRunner, _ word: String) async throws -> String {
        try await runner.run("echo \(word)", stdin: nil, deadline: .seconds(20), outputLimit: nil).stdout
    }

    @Test func oneJumpHostConnectionCarriesEveryInnerSession() async throws {
        let hosts = try Hosts(["bastion", "one", "two"], routes: ["one": "bastion", "two": "bastion"])
        defer { hosts.stop() }
        let pool = SSHPool(configuration: hosts.configuration)
        let one = try hosts.runner("one", pool: pool)
        let two = try hosts.runner("two", pool: pool)
        #expect(one.endpoint.jumps.map(\.port) == [hosts.servers["bastion"]!.port])
        #expect(one.endpoint.host == "127.0.0.1" && one.endpoint.port == hosts.servers["one"]!.port)
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<6 {
                let runner = index.isMultiple(of: 2) ? one : two
                group.addTask { try await Self.echo(runner, "inner-\(index)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(outputs) == Set((0..<6).map { "inner-\($0)\n" }))
        // Big enough to fill the relay's buffers and the channel windows several times over.
        let bulk = try await one.run(
            "head -c 3000000 /dev/zero | tr '\\0' x", stdin: nil, deadline: .seconds(20),
            outputLimit: 4_000_000)
        #expect(bulk.stdout.count == 3_000_000 && bulk.stdout.allSatisfy { $0 == "x" })
        let statistics = pool.statistics
        #expect(statistics.handshakes == 3, "one jump host session and two inner sessions: \(statistics)")
        #expect(statistics.tunnelledHandshakes == 2, "\(statistics)")
        await pool.shutdown()
        #expect(pool.connectionsHeld == 0)
    }

    @Test func sessionsBehindAJumpHostDoNotTakeItsCommandSlots() async throws {
        let names = ["bastion", "a", "b", "c"]
        let hosts = try Hosts(
            names, routes: ["a": "bastion", "b": "bastion", "c": "bastion"], channelsPerConnection: 1)
        defer { hosts.stop() }
        let pool = SSHPool(configuration: hosts.configuration)
        let runners = try names.map { try hosts.runner($0, pool: pool) }
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for (index, runner) in runners.enumerated() {
                group.addTask { try await Self.echo(runner, "slot-\(index)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(outputs) == Set(names.indices.map { "slot-\($0)\n" }))
        #expect(pool.statistics.handshakes == 4, "one connection to the jump host: \(pool.statistics)")
        await pool.shutdown()
    }

    @Test func aChainOfTwoJumpsReachesTheHost() async throws {
        let hosts = try Hosts(["outer", "inner", "runner"], routes: ["runner": "outer,inner"])
        defer { hosts.stop() }
        let pool = SSHPool(configuration: hosts.configuration)
        let runner = try hosts.runner("runner", pool: pool)
        #expect(runner.endpoint.jumps.map(\.port) == ["outer", "inner"].map { hosts.servers[$0]!.port })
        #expect(try await Self.echo(runner, "two-jumps") == "two-jumps\n")
        #expect(pool.statistics.handshakes == 3 && pool.statistics.tunnelledHandshakes == 2)
        await pool.shutdown()
    }

    @Test func theFirstJumpHostsOwnRouteIsFollowed() async throws {
        let hosts = try Hosts(
            ["outer", "inner", "runner"], routes: ["runner": "inner", "inner": "outer"])
        defer { hosts.stop() }
        let pool = SSHPool(configuration: hosts.configuration)
        let runner = try hosts.runner("runner", pool: pool)
        #expect(runner.endpoint.jumps.map(\.port) == ["outer", "inner"].map { hosts.servers[$0]!.port })
        #expect(try await Self.echo(runner, "nested") == "nested\n")
        await pool.shutdown()
    }

    @Test(arguments: ["bastion", "runner"])
    func everyHopsHostKeyIsVerified(_ unknown: String) async throws {
        let hosts = try Hosts(["bastion", "runner"], routes: ["runner": "bastion"], unknown: [unknown])
        defer { hosts.stop() }
        let pool = SSHPool(configuration: hosts.configuration)
        let runner = try hosts.runner("runner", pool: pool)
        let bastion = "127.0.0.1:\(hosts.servers["bastion"]!.port)"
        let missing = "127.0.0.1:\(hosts.servers[unknown]!.port)"
        await #expect {
            _ = try await Self.echo(runner, "never")
        } throws: { error in
            let error = error as! FleetError
            return error.kind == .hostKeyUnknown
                && error.message.contains("host key for \(missing) is not in")
                && error.message.contains(unknown == "bastion" ? "through jump host \(bastion)" : "ProxyJump")
        }
        await pool.shutdown()
    }

    @Test func aDeadJumpHostMakesOnlyTheHostsBehindItUnreachable() async throws {
        let hosts = try Hosts(["bastion", "runner", "direct"], routes: ["runner": "bastion"])
        defer { hosts.stop() }
        let pool = SSHPool(configuration: hosts.configuration)
        let runner = try hosts.runner("runner", pool: pool)
        let direct = try hosts.runner("direct", pool: pool)
        #expect(try await Self.echo(runner, "before") == "before\n")
        hosts.servers["bastion"]!.kill()
        let started = ContinuousClock.now
        await #expect {
            _ = try await runner.run("echo after", stdin: nil, deadline: .seconds(120), outputLimit: nil)
        } throws: { error in
            let error = error as! FleetError
            return error.kind == .unreachable
                && error.message.contains("127.0.0.1:\(hosts.servers["runner"]!.port)")
                && error.message.contains("127.0.0.1:\(hosts.servers["bastion"]!.port)")
        }
        // At once, not at the command's deadline (a busy machine only delays this test's wake-up).
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(try await Self.echo(direct, "unaffected") == "unaffected\n")
        await pool.shutdown()
        #expect(pool.connectionsHeld == 0)
    }

    @Test func aHostTheJumpHostCannotReachIsUnreachable() async throws {
        let hosts = try Hosts(["bastion", "runner"], routes: ["runner": "bastion"])
        defer { hosts.stop() }
        hosts.servers["runner"]!.kill()
        let pool = SSHPool(configuration: hosts.configuration)
        let runner = try hosts.runner("runner", pool: pool)
        let target = "127.0.0.1:\(hosts.servers["runner"]!.port)"
        await #expect {
            _ = try await Self.echo(runner, "never")
        } throws: { error in
            let error = error as! FleetError
            return error.kind == .unreachable
                && error.message.contains(
                    "jump host 127.0.0.1:\(hosts.servers["bastion"]!.port) could not open a channel to \(target)"
                )
        }
        await pool.shutdown()
    }

    @Test func aJumpLoopIsRefused() throws {
        let hosts = try Hosts(["a", "b"], routes: ["a": "b", "b": "a"])
        defer { hosts.stop() }
        #expect {
            _ = try hosts.runner("a", pool: SSHPool(configuration: hosts.configuration))
        } throws: { error in
            let error = error as! FleetError
            return error.code == .invalidSSHConfig && error.message.contains("more than 8 deep")
        }
    }
}
