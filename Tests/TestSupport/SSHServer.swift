import BenchSupport
import FleetCore
import SSHClient
import Transport

/// Transport's view of BenchSupport's sshd harness, for the tests.
extension SSHServer {
    public var endpoint: SSHEndpoint {
        SSHEndpoint(host: host, port: port, user: account, identityFile: clientKeyPath)
    }

    /// A pool configuration pointing at this server's known_hosts file.
    public func configuration(
        hostKeyPolicy: HostKeyPolicy = .strict, keepaliveInterval: Duration = .seconds(5),
        keepaliveMaxMissed: Int = 3
    ) -> SSHConfiguration {
        SSHConfiguration(
            knownHostsPath: knownHostsPath, hostKeyPolicy: hostKeyPolicy,
            keepaliveInterval: keepaliveInterval,
            keepaliveMaxMissed: keepaliveMaxMissed)
    }
}

/// Starts a server, runs `body`, then stops the server and removes its files.
public func withSSHServer<T>(
    _ options: SSHServerOptions = SSHServerOptions(), _ body: (SSHServer) async throws -> T
) async throws -> T {
    let server = try SSHServer(options: options)
    do {
        let value = try await body(server)
        server.kill()
        return value
    } catch {
        server.kill()
        throw error
    }
}
