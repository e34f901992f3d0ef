import BenchSupport
import FleetCore
import Foundation
import SSHClient
import TestSupport
import Testing

@testable import Transport

/// A real sshd on `::1` (issue 11): cloud.yaml's `ssh.host` with or without brackets reaches it,
/// every message shows `[::1]:PORT`, and known_hosts holds `[::1]:PORT` as OpenSSH writes it.
@Suite("IPv6 literals against a real sshd on ::1", .serialized)
struct IPv6Tests {
    static let onIPv6 = SSHServerOptions(listenAddress: "::1")

    static func runner(host: String, on server: SSHServer, pool: SSHPool) throws -> SSHRunner {
        try SSHRunner(
            spec: try sshCloudSpec(
                """
                  host: "\(host)"
                  port: \(server.port)
                  user: \(server.account)
                  identity_file: \(server.clientKeyPath)
                """), pool: pool)
    }

    /// An endpoint keeps the literal without brackets (what getaddrinfo and known_hosts expect)
    /// and shows it with them.
    @Test(arguments: ["::1", "[::1]", "[0:0::1]"])
    func endpointSpelling(_ host: String) {
        let endpoint = SSHEndpoint(host: host, port: 22, user: "ci")
        #expect(endpoint.host == "::1")
        #expect(endpoint.hostPort == "[::1]:22")
        #expect(endpoint.description == "ci@[::1]:22")
        #expect(SSHEndpoint(host: "runner", port: 2222).hostPort == "runner:2222")
    }

    @Test(arguments: ["::1", "[::1]"])
    func bracketedOrNotTheHostIsReachedAndShownBracketed(_ host: String) async throws {
        try await withSSHServer(Self.onIPv6) { server in
            #expect(try server.knownHostsLine().hasPrefix("[::1]:\(server.port) ssh-ed25519 "))
            let pool = SSHPool(configuration: server.configuration())
            let runner = try Self.runner(host: host, on: server, pool: pool)
            #expect(runner.endpoint.host == "::1")
            #expect(runner.hostLabel == "[::1]:\(server.port)")
            let output = try await runner.run(
                "echo six", stdin: nil, deadline: .seconds(30), outputLimit: nil)
            await pool.shutdown()
            #expect(output.stdout.contains("six"), "\(output)")
        }
    }

    @Test func anUnknownHostKeyIsReportedWithTheBracketedHost() async throws {
        try await withSSHServer(Self.onIPv6) { server in
            var configuration = server.configuration()
            configuration.knownHostsPath = server.directory + "/empty_known_hosts"
            let pool = SSHPool(configuration: configuration)
            do {
                _ = try await pool.run("true", on: SSHEndpoint(host: "[::1]", port: server.port))
                Issue.record("an unknown host key was accepted")
            } catch let error as SSHError {
                #expect(error.kind == .hostKeyUnknown, "\(error)")
                #expect(error.host == "[::1]:\(server.port)")
                #expect(error.message.contains("host key for [::1]:\(server.port) is not in"), "\(error)")
            }
            await pool.shutdown()
        }
    }

    /// accept-new writes the line OpenSSH writes: `ssh-keygen -F '[::1]:PORT'` finds it and the
    /// real ssh client accepts the host with it under StrictHostKeyChecking yes.
    @Test func acceptNewRecordsTheLineOpenSSHReads() async throws {
        try await withSSHServer(Self.onIPv6) { server in
            var configuration = server.configuration(hostKeyPolicy: .acceptNew)
            configuration.knownHostsPath = server.directory + "/recorded/known_hosts"
            let pool = SSHPool(configuration: configuration)
            #expect(try await pool.run("echo hi", on: server.endpoint).stdoutText == "hi\n")
            await pool.shutdown()
            let text = try String(contentsOfFile: configuration.knownHostsPath, encoding: .utf8)
            #expect(text == (try server.knownHostsLine()) + "\n")
            let knownHosts = configuration.knownHostsPath
            let (found, reply) = try await onOwnThread {
                (
                    try SSHServer.run([
                        "/usr/bin/ssh-keygen", "-F", "[::1]:\(server.port)", "-f", knownHosts,
                    ]),
                    try SSHServer.run([
                        "/usr/bin/ssh", "-F", "none", "-o", "BatchMode=yes", "-o",
                        "StrictHostKeyChecking=yes",
                        "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "IdentitiesOnly=yes",
                        "-i", server.clientKeyPath, "-p", String(server.port), "\(server.account)@::1",
                        "echo openssh",
                    ])
                )
            }
            #expect(found.contains("ssh-ed25519"))
            #expect(reply.contains("openssh"), "\(reply)")
        }
    }

    /// ssh_config's `HostName` may be an IPv6 literal (bracketed too), reached through an alias.
    @Test(arguments: ["::1", "[::1]"])
    func anAliasWithAnIPv6HostName(_ hostName: String) async throws {
        try await withSSHServer(Self.onIPv6) { server in
            let path = server.directory + "/ssh_config"
            try FileSystem.writeAtomically(
                path,
                text: """
                    Host six
                      HostName \(hostName)
                      Port \(server.port)
                      User \(server.account)
                      IdentityFile \(server.clientKeyPath)
                      UserKnownHostsFile \(server.knownHostsPath)
                    """)
            var configuration = SSHConfiguration(knownHostsPath: server.directory + "/no-such-known-hosts")
            configuration.clientConfigFiles = SSHConfigResolver.standard(path: path).files
            let pool = SSHPool(configuration: configuration)
            let runner = try SSHRunner(spec: try sshCloudSpec("  host: six"), pool: pool)
            #expect(runner.hostLabel == "[::1]:\(server.port)")
            let output = try await runner.run(
                "echo alias", stdin: nil, deadline: .seconds(30), outputLimit: nil)
            await pool.shutdown()
            #expect(output.stdout.contains("alias"), "\(output)")
        }
    }
}
