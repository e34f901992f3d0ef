import FleetCore
import TestSupport
import Testing

@testable import Transport

/// cloud.yaml's `ssh.host` as an ssh_config alias, reaching a real sshd through HostName, Port,
/// User, IdentityFile and UserKnownHostsFile from the configuration file.
@Suite struct SSHConfigAliasTests {
    static func spec(_ ssh: String) throws -> CloudSpec {
        try CloudSpec.parse(
            text: """
                repo:
                  url: https://github.com/example/app.git
                provider: ssh
                ssh:
                \(ssh)
                  runtime: host
                """, path: "/tmp/cloud.yaml")
    }

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
            let runner = try SSHRunner(spec: try Self.spec("  host: runner-alias"), pool: pool)
            #expect(runner.endpoint.host == "127.0.0.1")
            #expect(runner.endpoint.port == server.port)
            #expect(runner.endpoint.hostKeyPolicy == .strict)
            #expect(runner.endpoint.connectTimeout == .seconds(7))
            let output = try await runner.run(
                "echo alias-ok", stdin: nil, deadline: .seconds(30), outputLimit: nil)
            await pool.shutdown()
            #expect(output.stdout.contains("alias-ok"), "\(output)")
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
                spec: try Self.spec(
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
            _ = try SSHRunner(spec: try Self.spec("  host: behind"), pool: pool)
        } throws: { error in
            let error = error as! FleetError
            return error.code == .invalidSSHConfig && error.message.contains(message)
        }
        // `none` and hosts the block does not cover connect directly as before.
        #expect(throws: Never.self) {
            _ = try SSHRunner(spec: try Self.spec("  host: elsewhere"), pool: pool)
        }
    }

    @Test func theToolsOwnHostKeyPolicyWinsOverStrictHostKeyChecking() throws {
        let directory = try TemporaryDirectory.make(prefix: "sshconfig-")
        defer { TemporaryDirectory.remove(directory) }
        var configuration = try Self.configuration("Host *\n  StrictHostKeyChecking no\n", in: directory)
        configuration.hostKeyPolicyChosen = true
        let runner = try SSHRunner(
            spec: try Self.spec("  host: h"), pool: SSHPool(configuration: configuration))
        #expect(runner.endpoint.hostKeyPolicy == nil)
    }
}
