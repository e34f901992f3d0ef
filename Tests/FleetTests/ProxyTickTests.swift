import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

extension RealHosts {
    /// `tick` through jump hosts and proxy commands (issue 11) on a `TestNetwork`: the runner host
    /// refuses this process, so only a route through a jump host's namespace reaches it, and its
    /// sshd log names the address each session came from.
    @Suite("tick through ProxyJump and ProxyCommand (CLI)")
    struct ProxyTickTests {
        /// Keys whose values depend on the time or on the ticks before.
        static let historyKeys: Set<String> = [
            "ts", "tick", "duration_ms", "status_since", "previous_status", "changed",
        ]

        static func comparable(_ lines: [OutputLine]) -> [String] {
            lines.filter { !$0.isSummary }.map { line in
                guard case .object(let object) = line.json else { return line.raw }
                return object.entries.filter { !historyKeys.contains($0.key) }
                    .map { "\($0.key)=\(Redactor.shapesOnly.serialized($0.value))" }.joined(separator: " ")
            }.sorted()
        }

        /// A runner host and two jump hosts on a test network, a fleet of two projects on the
        /// runner, and the ssh_config that names the jump hosts.
        struct Network {
            let network: TestNetwork
            let runner: RunnerHost
            let outer: SSHServer
            let inner: SSHServer
            let fleet: TickCommandTests.Fleet
            let outerNamespace: String
            let runnerNamespace: String

            /// `runnerConfig`: extra sshd_config lines for the runner host.
            init(runnerConfig: [String] = []) async throws {
                network = try TestNetwork()
                let runnerHost = try network.host(1)
                let outerHost = try network.host(2)
                let innerHost = try network.host(3)
                runner = try await onOwnThread {
                    try RunnerHost(
                        extraConfig: ["LogLevel INFO"] + runnerConfig, listenAddress: runnerHost.address,
                        namespace: runnerHost.namespace)
                }
                outer = try SSHServer(
                    options: SSHServerOptions(
                        listenAddress: outerHost.address, namespace: outerHost.namespace))
                inner = try SSHServer(
                    options: SSHServerOptions(
                        listenAddress: innerHost.address, namespace: innerHost.namespace))
                outerNamespace = outerHost.namespace
                runnerNamespace = runnerHost.namespace
                fleet = try await TickCommandTests.Fleet([.running, .complete], prefix: "jump", host: runner)
                try FileSystem.writeAtomically(
                    fleet.directory.knownHosts,
                    text: try [runner.server, outer, inner].map { try $0.knownHostsLine() + "\n" }.joined())
            }

            /// ssh_config routing the runner's address through `route` (`ProxyJump ...` or
            /// `ProxyCommand ...`), with the jump hosts as `outer` and `inner`.
            func config(_ route: String) throws -> String {
                var text = "Host \(runner.server.host)\n  \(route)\n"
                for (name, server) in [("outer", outer), ("inner", inner)] {
                    text += """
                        Host \(name)
                          HostName \(server.host)
                          User \(server.account)
                          IdentityFile \(server.clientKeyPath)

                        """
                }
                let path = fleet.directory.path + "/ssh_config"
                try FileSystem.writeAtomically(path, text: text)
                return path
            }

            /// The addresses of the sessions the runner accepted after the first `count`; sshd's
            /// monitor may log a session a little after the client is done with it.
            func acceptedFrom(after count: Int) async -> ArraySlice<String> {
                let deadline = ContinuousClock.now + .seconds(3)
                while acceptedFrom().count <= count, ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return acceptedFrom().dropFirst(count)
            }

            /// Addresses in the runner's log of accepted sessions, in order.
            func acceptedFrom() -> [String] {
                // sshd -e ends its lines with \r\n, one Character in Swift.
                (FileSystem.readText(runner.server.logPath) ?? "").split(whereSeparator: \.isNewline)
                    .filter { $0.contains("Accepted publickey for ") }
                    .compactMap { line in
                        let words = line.split(separator: " ")
                        guard let from = words.firstIndex(of: "from"), from + 1 < words.count else {
                            return nil
                        }
                        return String(words[from + 1])
                    }
            }

            func cleanUp() {
                fleet.cleanUp()
                outer.kill()
                inner.kill()
                network.remove()
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func ticksThroughEveryRouteMatchTheDirectTick() async throws {
            let net = try await Network()
            defer { net.cleanUp() }
            let direct = try await net.fleet.run(["tick", "--all"])
            #expect(direct.status == 0, "\(direct)")
            let expected = Self.comparable(try direct.lines())
            #expect(
                expected.count == 2 && expected.allSatisfy { $0.contains("error_kind=null") }, "\(direct)")
            #expect(net.acceptedFrom().allSatisfy { $0 == net.network.clientAddress })

            try net.network.rejectClient(namespace: net.runnerNamespace, port: 22)
            let refused = try await net.fleet.run(["tick", "--all"])
            #expect(
                try refused.lines().filter { !$0.isSummary }.allSatisfy {
                    $0.json["error_kind"]?.stringValue == "unreachable"
                }, "only a jump host reaches the runner now: \(refused)")

            let ssh =
                "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=\(net.fleet.directory.knownHosts) -i \(net.outer.clientKeyPath) -W %h:%p \(net.outer.account)@\(net.outer.host)"
            let routes: [(route: String, from: String, jumps: Bool)] = [
                ("ProxyJump outer", net.outer.host, true),
                ("ProxyJump outer,inner", net.inner.host, true),
                ("ProxyCommand \(ssh)", net.outer.host, false),
                (
                    "ProxyCommand /usr/sbin/ip netns exec \(net.outerNamespace) socat - TCP:%h:%p",
                    net.outer.host, false
                ),
            ]
            for (route, from, jumps) in routes {
                let before = net.acceptedFrom().count
                let result = try await net.fleet.run(["tick", "--all", "--ssh-config", try net.config(route)])
                #expect(result.status == 0, "\(route): \(result)")
                #expect(Self.comparable(try result.lines()) == expected, "\(route): \(result)")
                let accepted = await net.acceptedFrom(after: before)
                #expect(
                    !accepted.isEmpty && accepted.allSatisfy { $0 == from }, "\(route): \(accepted)")
                let summary = try #require(try result.lines().last?.json["summary"])
                guard case .int(let tunnelled)? = summary["ssh_handshakes_through_jump_hosts"] else {
                    Issue.record("no ssh_handshakes_through_jump_hosts: \(result)")
                    continue
                }
                #expect(jumps ? tunnelled > 0 : tunnelled == 0, "\(route): \(result)")
            }

            // doctor names the hops, and the file and line each came from.
            let config = try net.config("ProxyJump outer,inner")
            let doctor = try await net.fleet.run(["doctor", "--json", "--ssh-config", config])
            #expect(doctor.status == 0, "\(doctor)")
            let route = try doctor.lines().first?.json["route"]?.arrayValue ?? []
            let hops = route.filter { $0["name"]?.stringValue?.hasPrefix("jump ") == true }
            #expect(
                hops.map { $0["value"]?.stringValue ?? "" }
                    == [
                        "\(net.outer.account)@\(net.outer.host):22",
                        "\(net.inner.account)@\(net.inner.host):22",
                    ],
                "\(route)")
            #expect(hops.allSatisfy { $0["source"]?.stringValue == "\(config) line 2" }, "\(route)")

            // A proxy command that fails: its stderr is the end of each project's error, redacted.
            let token = "ghp_" + String(repeating: "Z9y8", count: 9)
            let failing = try await net.fleet.run([
                "tick", "--all", "--ssh-config",
                try net.config(
                    "ProxyCommand sh -c 'echo \"tunnel refused for %h, token \(token)\" >&2; exit 1'"),
            ])
            let errors = try failing.lines().filter { !$0.isSummary }
            #expect(errors.count == 2, "\(failing)")
            for line in errors {
                #expect(line.json["error_kind"]?.stringValue == "unreachable", "\(line.raw)")
                #expect(
                    line.raw.contains(
                        "its stderr: tunnel refused for \(net.runner.server.host), token \(Redactor.token)"),
                    "\(line.raw)")
            }
            #expect(!failing.stdout.contains(token) && !failing.stderr.contains(token))
        }

        @Test(.timeLimit(.minutes(2)))
        func aJumpHostKilledMidTickFailsOnlyTheProjectsBehindIt() async throws {
            // Every command on the runner waits for a gate that never opens, so the tick is still
            // running there when the jump host dies, however late this test gets to kill it.
            let net = try await Network(runnerConfig: [
                "ForceCommand while [ ! -e /nonexistent/megaplan-fleet-gate ]; do sleep 0.1; done"
            ])
            defer { net.cleanUp() }
            let direct = try await TickCommandTests.Fleet([.running], prefix: "direct")
            defer { direct.cleanUp() }
            try net.network.rejectClient(namespace: net.runnerNamespace, port: 22)
            let directory = net.fleet.directory
            let file = try directory.writeFleet(net.fleet.members + direct.members, name: "both.yaml")
            try FileSystem.writeAtomically(
                directory.knownHosts,
                text: (FileSystem.readText(directory.knownHosts) ?? "")
                    + (try direct.host.server.knownHostsLine()) + "\n")
            let running = try FleetCLI.start(
                [
                    "tick", "--all", "--fleet", file, "--known-hosts", directory.knownHosts, "--ssh-config",
                    try net.config("ProxyJump outer"),
                ], home: directory.home)
            let through = await net.acceptedFrom(after: 0)
            #expect(
                through.first == net.outer.host,
                "the runner's sessions come through the jump host: \(through)")
            net.outer.kill()
            let killed = ContinuousClock.now
            guard let status = await running.wait(timeout: .seconds(60)) else {
                running.forceStop()
                Issue.record("the tick did not end after the jump host died")
                return
            }
            let result = running.result(status: status)
            #expect(ContinuousClock.now - killed < .seconds(40), "\(result)")
            let lines = try result.lines().filter { !$0.isSummary }
            #expect(lines.count == 3, "\(result)")
            for line in lines {
                let behind = line.json["host"]?.stringValue == "\(net.runner.server.host):22"
                #expect(
                    line.json["error_kind"]?.stringValue == (behind ? "unreachable" : nil),
                    "\(behind ? "behind the jump host" : "direct"): \(line.raw)")
            }
        }
    }
}
