import FleetCore
import SSHClient
import TestSupport
import Testing

@testable import Transport

/// cloud.yaml's `ssh.host` as an ssh_config alias, reaching a real sshd through HostName, Port,
/// User, IdentityFile and UserKnownHostsFile from the configuration file.
@Suite struct SSHConfigAliasTests {
    static func configuration(_ config: String, in directory: String) throws -> SSHConfiguration {
        let path = directory + "/ssh_config"
        try FileSystem.writeAtomically(path, text: config)
        var configuration = SSHConfiguration(knownHostsPath: directory + "/no-such-known-hosts")
        configuration.clientConfigFiles = SSHConfigResolver.standard(path: path).files
        return configuration
    }

    @Test func anAliasFromTheConfigReachesTheHost() async throws {
        try await withSSHServer { server in
            let configuration = try Self.configuration(
                """
                Host runner-alias
                  HostName 127.0.0.1
                  Port \(server.port)
                  User \(server.account)
                  IdentityFile \(server.clientKeyPath)
                  UserKnownHostsFile \(server.knownHostsPath)
                  StrictHostKeyChecking yes
                  ConnectTimeout 7
                Host *
                  Port 1
                  User nobody
                """, in: server.directory)
            let pool = SSHPool(configuration: configuration)
            let runner = try SSHRunner(spec: try sshCloudSpec("  host: runner-alias"), pool: pool)
            #expect(runner.endpoint.host == "127.0.0.1")
            #expect(runner.endpoint.port == server.port)
            #expect(runner.endpoint.hostKeyPolicy == .strict)
            #expect(runner.endpoint.connectTimeout == .seconds(7))
            let output = try await runner.run(
                "echo alias-ok", stdin: nil, deadline: .seconds(30), outputLimit: nil)
            // What the connection showed, for `doctor`.
            let facts = pool.sessionFacts(for: runner.endpoint)
            await pool.shutdown()
            #expect(output.stdout.contains("alias-ok"), "\(output)")
            #expect(facts?.banner.hasPrefix("SSH-2.0-OpenSSH") == true, "\(String(describing: facts))")
            #expect(facts?.hostKey.hasPrefix("ssh-ed25519 SHA256:") == true, "\(String(describing: facts))")
            #expect(facts?.knownHosts == "\(server.knownHostsPath) line 1", "\(String(describing: facts))")
            #expect(
                facts?.authentication == "publickey \(server.clientKeyPath)", "\(String(describing: facts))")
        }
    }

    /// Every `IdentityFile` is tried in order, every `UserKnownHostsFile` and a named
    /// `GlobalKnownHostsFile` are consulted, `HostKeyAlias` names the host in known_hosts (without
    /// a port, as ssh writes it) and `ServerAlive*` set the keepalive, as ssh does.
    @Test func severalKeysAndKnownHostsFilesAndAnAlias() async throws {
        try await withSSHServer { server in
            let refused = try await onOwnThread {
                try server.makeClientKey(type: "ed25519", authorize: false)
            }
            let line = try server.knownHostsLine()
            let keyPart = line.split(separator: " ", maxSplits: 1)[1]
            let empty = server.directory + "/empty_known_hosts"
            let aliased = server.directory + "/aliased_known_hosts"
            let global = server.directory + "/global_known_hosts"
            try FileSystem.writeAtomically(empty, text: "")
            try FileSystem.writeAtomically(aliased, text: "runner-key \(keyPart)\n")
            try FileSystem.writeAtomically(global, text: line + "\n")
            func connect(_ settings: String) async throws -> (SSHEndpoint, SSHSessionFacts?) {
                let configuration = try Self.configuration(
                    """
                    Host runner-alias
                      HostName 127.0.0.1
                      Port \(server.port)
                      User \(server.account)
                      IdentityFile \(refused)
                      IdentityFile /nonexistent/key
                      IdentityFile \(server.clientKeyPath)
                    \(settings)
                    """, in: server.directory)
                let pool = SSHPool(configuration: configuration)
                let runner = try SSHRunner(spec: try sshCloudSpec("  host: runner-alias"), pool: pool)
                do {
                    let output = try await runner.run(
                        "echo ok", stdin: nil, deadline: .seconds(30), outputLimit: nil)
                    #expect(output.stdout.contains("ok"))
                    let facts = pool.sessionFacts(for: runner.endpoint)
                    await pool.shutdown()
                    return (runner.endpoint, facts)
                } catch {
                    await pool.shutdown()
                    throw error
                }
            }
            let (endpoint, facts) = try await connect(
                "  UserKnownHostsFile \(empty) \(server.knownHostsPath)\n  ServerAliveInterval 2\n  ServerAliveCountMax 4"
            )
            #expect(endpoint.identityFile == refused && endpoint.otherIdentityFiles == [server.clientKeyPath])
            #expect(
                facts?.authentication == "publickey \(server.clientKeyPath)", "\(String(describing: facts))")
            #expect(facts?.knownHosts == "\(server.knownHostsPath) line 1", "\(String(describing: facts))")
            #expect(endpoint.keepaliveInterval == .seconds(2) && endpoint.keepaliveMaxMissed == 4)

            let (_, viaAlias) = try await connect(
                "  UserKnownHostsFile \(aliased)\n  HostKeyAlias Runner-Key")
            #expect(viaAlias?.knownHosts == "\(aliased) line 1", "\(String(describing: viaAlias))")

            let (_, viaGlobal) = try await connect(
                "  UserKnownHostsFile \(empty)\n  GlobalKnownHostsFile \(global)")
            #expect(viaGlobal?.knownHosts == "\(global) line 1", "\(String(describing: viaGlobal))")
        }
    }

    @Test func cloudYAMLFieldsWinOverTheConfig() async throws {
        try await withSSHServer { server in
            let configuration = try Self.configuration(
                """
                Host runner-alias
                  HostName 127.0.0.1
                  Port 1
                  User nobody
                  IdentityFile /nonexistent/key
                  UserKnownHostsFile \(server.knownHostsPath)
                """, in: server.directory)
            let pool = SSHPool(configuration: configuration)
            let runner = try SSHRunner(
                spec: try sshCloudSpec(
                    """
                      host: runner-alias
                      port: \(server.port)
                      user: \(server.account)
                      identity_file: \(server.clientKeyPath)
                    """), pool: pool)
            let output = try await runner.run(
                "echo explicit-ok", stdin: nil, deadline: .seconds(30), outputLimit: nil)
            await pool.shutdown()
            #expect(output.stdout.contains("explicit-ok"))
        }
    }

    @Test(arguments: [
        ("  StrictHostKeyChecking no", "never trusts an unverified host key"),
        ("  StrictHostKeyChecking ask", "never trusts an unverified host key"),
        ("  UserKnownHostsFile none", "needs a known_hosts file"),
    ])
    func trustSettingsTheToolCannotHonourAreRefused(_ line: String, _ message: String) throws {
        let directory = try TemporaryDirectory.make(prefix: "sshconfig-")
        defer { TemporaryDirectory.remove(directory) }
        let configuration = try Self.configuration("Host behind\n\(line)\n", in: directory)
        let pool = SSHPool(configuration: configuration)
        #expect {
            _ = try SSHRunner(spec: try sshCloudSpec("  host: behind"), pool: pool)
        } throws: { error in
            let error = error as! FleetError
            return error.code == .invalidSSHConfig && error.message.contains(message)
        }
        // `none` and hosts the block does not cover connect directly as before.
        #expect(throws: Never.self) {
            _ = try SSHRunner(spec: try sshCloudSpec("  host: elsewhere"), pool: pool)
        }
    }

    @Test func theToolsOwnHostKeyPolicyWinsOverStrictHostKeyChecking() throws {
        let directory = try TemporaryDirectory.make(prefix: "sshconfig-")
        defer { TemporaryDirectory.remove(directory) }
        var configuration = try Self.configuration("Host *\n  StrictHostKeyChecking no\n", in: directory)
        configuration.hostKeyPolicyChosen = true
        let runner = try SSHRunner(
            spec: try sshCloudSpec("  host: h"), pool: SSHPool(configuration: configuration))
        #expect(runner.endpoint.hostKeyPolicy == nil)
    }
}
