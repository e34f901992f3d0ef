import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

@testable import SSHClient
@testable import Transport

/// User certificates against a real sshd that trusts a CA (`TrustedUserCAKeys`) and has no
/// authorized key for the certified keys: an ECDSA certificate authenticates from a file (beside
/// the key or named by `CertificateFile`) and through ssh-agent (`IdentityAgent`); an expired one,
/// one for another principal and an ed25519 one (which libssh2 1.10 cannot sign for) fail with
/// `auth_failed` and a message that says why.
@Suite("User certificates against a real sshd", .serialized)
struct CertificateAuthTests {
    /// A CA, and keys it signs with `ssh-keygen -s`, in a directory of the test's own.
    final class Authority: Sendable {
        let directory: String
        var caPublicKey: String { directory + "/ca.pub" }

        init() throws {
            directory = try TemporaryDirectory.make(prefix: "mpf-cert-")
            try Self.keygen(["-t", "ed25519", "-f", directory + "/ca"])
        }

        deinit { TemporaryDirectory.remove(directory) }

        /// A new key of `type` and its certificate (`<key>-cert.pub`) for `principals`, valid
        /// over `validity` (ssh-keygen's `-V`); returns the key's path.
        func certifiedKey(_ name: String, type: String, principals: String, validity: String = "-5m:+1h")
            throws -> String
        {
            let key = directory + "/" + name
            try Self.keygen(["-t", type, "-f", key])
            _ = try BenchProcess.run([
                "/usr/bin/ssh-keygen", "-q", "-s", directory + "/ca", "-I", "id-\(name)", "-n", principals,
                "-V",
                validity, key + ".pub",
            ])
            return key
        }

        private static func keygen(_ arguments: [String]) throws {
            _ = try BenchProcess.run(["/usr/bin/ssh-keygen", "-q", "-N", ""] + arguments)
        }
    }

    static func options(_ authority: Authority) -> SSHServerOptions {
        SSHServerOptions(extraConfig: ["TrustedUserCAKeys \(authority.caPublicKey)"])
    }

    /// Runs `echo` as `server.account` with the settings `config` gives the alias `runner`.
    static func echo(_ server: SSHServer, config: String) async throws -> RunnerOutput {
        let configuration = try SSHConfigAliasTests.configuration(
            """
            Host runner
              HostName 127.0.0.1
              Port \(server.port)
              User \(server.account)
              UserKnownHostsFile \(server.knownHostsPath)
            \(config)
            """, in: server.directory)
        let pool = SSHPool(configuration: configuration)
        do {
            let runner = try SSHRunner(spec: try sshCloudSpec("  host: runner"), pool: pool)
            let output = try await runner.run(
                "echo certified", stdin: nil, deadline: .seconds(30), outputLimit: nil)
            let authentication = pool.sessionFacts(for: runner.endpoint)?.authentication ?? ""
            await pool.shutdown()
            #expect(authentication.contains("certificate"), "authenticated by \(authentication)")
            return output
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    /// The `auth_failed` message of a run that must fail.
    static func authFailure(_ server: SSHServer, config: String) async throws -> String {
        do {
            let output = try await echo(server, config: config)
            Issue.record("authenticated: \(output)")
            return ""
        } catch let error as FleetError {
            #expect(error.kind == .authFailed, "\(error)")
            return error.message
        }
    }

    @Test func aCertificateBesideTheKeyAuthenticates() async throws {
        let authority = try Authority()
        try await withSSHServer(Self.options(authority)) { server in
            let key = try await onOwnThread {
                try authority.certifiedKey("ecdsa", type: "ecdsa", principals: server.account)
            }
            let output = try await Self.echo(server, config: "  IdentityFile \(key)")
            #expect(output.stdout.contains("certified"), "\(output)")
            // The key alone is not authorized: the certificate did it.
            unlink(key + "-cert.pub")
            let message = try await Self.authFailure(server, config: "  IdentityFile \(key)")
            #expect(message.contains("key \(key) was refused"), "\(message)")
        }
    }

    @Test func certificateFileNamesTheCertificate() async throws {
        let authority = try Authority()
        try await withSSHServer(Self.options(authority)) { server in
            let key = try await onOwnThread {
                try authority.certifiedKey("named", type: "ecdsa", principals: server.account)
            }
            let elsewhere = authority.directory + "/issued.pub"
            rename(key + "-cert.pub", elsewhere)
            let output = try await Self.echo(
                server, config: "  IdentityFile \(key)\n  CertificateFile \(elsewhere)")
            #expect(output.stdout.contains("certified"), "\(output)")
        }
    }

    /// Runs `body` with an sshd that trusts the CA and a private ssh-agent (its socket) holding
    /// a new certified ECDSA key and its certificate. The key's private file is gone by then
    /// (`.pub` and `-cert.pub` are left): only the agent can sign with it.
    static func withAgentHoldingCertifiedKey(
        _ body: (_ server: SSHServer, _ key: String, _ socket: String) async throws -> Void
    ) async throws {
        let authority = try Authority()
        try await withSSHServer(options(authority)) { server in
            let socket = authority.directory + "/agent.sock"
            let (key, agent) = try await onOwnThread { () throws -> (String, pid_t?) in
                let key = try authority.certifiedKey("agent", type: "ecdsa", principals: server.account)
                // The agent prints `SSH_AGENT_PID=N;`; ssh-add loads the key and its certificate.
                let started = try BenchProcess.run(["/usr/bin/ssh-agent", "-s", "-a", socket])
                let pid = started.components(separatedBy: "SSH_AGENT_PID=").dropFirst().first
                    .flatMap { pid_t($0.prefix { $0.isNumber }) }
                _ = try BenchProcess.run([
                    "/usr/bin/env", "SSH_AUTH_SOCK=\(socket)", "/usr/bin/ssh-add", "-q", key,
                ])
                return (key, pid)
            }
            defer { if let agent { kill(agent, SIGTERM) } }
            try #require(agent != nil, "ssh-agent printed no pid")
            unlink(key)
            try await body(server, key, socket)
        }
    }

    @Test func anAgentCertificateAuthenticates() async throws {
        try await Self.withAgentHoldingCertifiedKey { server, _, socket in
            let output = try await Self.echo(server, config: "  IdentityAgent \(socket)")
            #expect(output.stdout.contains("certified"), "\(output)")
            let message = try await Self.authFailure(server, config: "  IdentityAgent none")
            // No agent was asked (whatever keys this machine's ~/.ssh holds).
            #expect(!message.contains("ssh-agent") || message.contains("IdentityAgent none"), "\(message)")
            #expect(!message.contains(socket), "\(message)")
        }
    }

    /// As in ssh: after the identity files, the agent's keys are offered, unless `IdentitiesOnly`
    /// keeps out every key but the files' own (which the agent may hold, as for a key whose
    /// private file is not usable here).
    @Test func identitiesOnlyKeepsOutTheAgentsOtherKeys() async throws {
        try await Self.withAgentHoldingCertifiedKey { server, key, socket in
            // A key the server does not accept, named by IdentityFile.
            let other = try await onOwnThread { try server.makeClientKey(type: "ecdsa", authorize: false) }

            let withAgent = try await Self.echo(
                server, config: "  IdentityAgent \(socket)\n  IdentityFile \(other)")
            #expect(withAgent.stdout.contains("certified"), "\(withAgent)")

            let message = try await Self.authFailure(
                server, config: "  IdentityAgent \(socket)\n  IdentityFile \(other)\n  IdentitiesOnly yes")
            #expect(message.contains("key \(other) was refused"), "\(message)")
            #expect(
                message.contains("ssh-agent held 0 of the identity files' keys (IdentitiesOnly)"),
                "\(message)")

            // The agent's copy of the named key (its private file is gone; `.pub` and
            // `-cert.pub` are left) is still used.
            let own = try await Self.echo(
                server, config: "  IdentityAgent \(socket)\n  IdentityFile \(key)\n  IdentitiesOnly yes")
            #expect(own.stdout.contains("certified"), "\(own)")
        }
    }

    @Test(arguments: [
        ("expired", "ecdsa", "-2h:-1h", "expired at"),
        ("future", "ecdsa", "+1h:+2h", "is not valid before"),
        ("principal", "ecdsa", "-5m:+1h", "is for the principal(s) someone-else"),
        ("ed25519", "ed25519", "-5m:+1h", "ed25519 certificate, which libssh2 1.10 cannot sign for"),
    ])
    func anUnusableCertificateSaysWhy(name: String, type: String, validity: String, reason: String)
        async throws
    {
        let authority = try Authority()
        try await withSSHServer(Self.options(authority)) { server in
            let principals = name == "principal" ? "someone-else" : server.account
            let key = try await onOwnThread {
                try authority.certifiedKey(name, type: type, principals: principals, validity: validity)
            }
            let message = try await Self.authFailure(server, config: "  IdentityFile \(key)")
            #expect(
                message.contains("certificate \(key)-cert.pub (key id \"id-\(name)\") cannot be used"),
                "\(message)")
            #expect(message.contains(reason), "\(message)")
        }
    }

    @Test func anUntrustedCertificateIsNamed() async throws {
        let authority = try Authority()
        let other = try Authority()
        try await withSSHServer(Self.options(authority)) { server in
            let key = try await onOwnThread {
                try other.certifiedKey("untrusted", type: "ecdsa", principals: server.account)
            }
            let message = try await Self.authFailure(server, config: "  IdentityFile \(key)")
            #expect(
                message.contains("was refused: 127.0.0.1:\(server.port) does not trust its CA"), "\(message)")
        }
    }

    /// `IdentityAgent` values as ssh reads them.
    @Test func identityAgentValues() throws {
        let context = SSHConfigResolver.Context.current
        let settings = try SSHConfigResolver(files: [], context: context).resolve(
            host: "h", user: nil, port: nil)
        func choice(_ value: String) throws -> SSHEndpoint.Agent {
            try SSHEndpoint.agentChoice(value, settings: settings, context: context)
        }
        #expect(try choice("none") == SSHEndpoint.Agent.none)
        #expect(try choice("SSH_AUTH_SOCK") == .environment)
        #expect(try choice("~/agent-%h.sock") == .socket(context.homeDirectory + "/agent-h.sock"))
        let path = try #require(ProcessEnvironment.current["PATH"])
        #expect(try choice("$PATH") == .socket(path))
        #expect(throws: FleetError.self) { try choice("$MPF_SURELY_UNSET_AGENT_VARIABLE") }
    }

    @Test func certificatesAreParsedFromTheirBlob() throws {
        #expect(SSHCertificate(blob: []) == nil)
        #expect(SSHCertificate(blob: Array("not a certificate".utf8)) == nil)
        let certificate = SSHCertificate(
            type: "ecdsa-sha2-nistp256-cert-v01@openssh.com", keyID: "k", principals: ["deploy"],
            validAfter: 100,
            validBefore: 200)
        #expect(certificate.unsupportedReason == nil)
        #expect(certificate.refusal(user: "deploy", now: 150) == nil)
        #expect(certificate.refusal(user: "root", now: 150)?.contains("not root") == true)
        #expect(
            certificate.refusal(user: "deploy", now: 200)?.hasPrefix("it expired at 1970-01-01T00:03:20")
                == true)
        var forAnyone = certificate
        forAnyone.principals = []
        #expect(forAnyone.refusal(user: "root", now: 150) == nil)
    }
}
