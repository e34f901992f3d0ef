import BenchSupport
import FleetCore
import Foundation
import SSHClient
import TestSupport
import Testing

@testable import Transport

/// known_hosts semantics against a real sshd: revoked keys, patterns, hashed names,
/// `@cert-authority`-only hosts, and what accept-new may write; plus the identity-file permission
/// rule. Each case checks the error kind, the message and that known_hosts is left as it was.
@Suite("Host keys against a real sshd", .serialized)
struct HostKeyPolicyTests {
    /// `TYPE BASE64` of the server's host key.
    static func hostKey(_ server: SSHServer) throws -> String {
        try server.knownHostsLine().split(separator: " ").dropFirst().joined(separator: " ")
    }

    /// `TYPE BASE64` of a key the server does not have.
    static func otherKey(_ server: SSHServer) throws -> String {
        let path = try server.makeClientKey(type: "ed25519", authorize: false)
        let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        return pub.split(separator: " ").prefix(2).joined(separator: " ")
    }

    static func fingerprint(_ server: SSHServer) throws -> String {
        let out = try SSHServer.run(["/usr/bin/ssh-keygen", "-l", "-f", server.directory + "/host_key.pub"])
        return String(out.split(separator: " ")[1])
    }

    /// Runs one command with `known_hosts` holding `lines`; returns the error (nil: it succeeded)
    /// and checks the file is unchanged when `unchanged`.
    static func attempt(
        _ server: SSHServer, _ lines: [String], policy: HostKeyPolicy, unchanged: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> SSHError? {
        let text = lines.joined(separator: "\n") + "\n"
        try text.write(toFile: server.knownHostsPath, atomically: true, encoding: .utf8)
        let pool = SSHPool(configuration: server.configuration(hostKeyPolicy: policy))
        var failure: SSHError?
        do {
            _ = try await pool.run("true", on: server.endpoint)
        } catch {
            failure = error
        }
        await pool.shutdown()
        if unchanged {
            let after = try String(contentsOfFile: server.knownHostsPath, encoding: .utf8)
            #expect(after == text, "known_hosts was modified", sourceLocation: sourceLocation)
        }
        return failure
    }

    @Test("a @revoked key is refused under strict and accept-new, whatever hosts its line names")
    func revokedKeyRefused() async throws {
        try await withSSHServer { server in
            let key = try Self.hostKey(server)
            let fingerprint = try Self.fingerprint(server)
            let layouts: [[String]] = [
                [try server.knownHostsLine(), "@revoked * \(key)"],
                ["@revoked [127.0.0.1]:\(server.port) \(key)"],
                ["@revoked other.example.org \(key)"],
            ]
            for lines in layouts {
                for policy in HostKeyPolicy.allCases {
                    let error = try await Self.attempt(server, lines, policy: policy)
                    #expect(
                        error?.kind == .hostKeyRevoked, "\(policy) \(lines): \(String(describing: error))")
                    #expect(error?.message.contains("REVOKED") == true)
                    #expect(error?.message.contains(fingerprint) == true)
                    #expect(error?.message.contains(server.knownHostsPath) == true)
                    #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
                }
            }
            #expect(
                SSHRunner.fleetError(SSHError(kind: .hostKeyRevoked, host: "h:22", message: "m")).kind
                    == .hostKeyRevoked)
        }
    }

    @Test("a wildcard pattern recording another key is a changed key, never a new one")
    func wildcardWithAnotherKeyIsChanged() async throws {
        try await withSSHServer { server in
            let other = try Self.otherKey(server)
            for pattern in [
                "[127.0.0.*]:\(server.port)", "*", "[127.0.0.1]:*,nothing", "[127.0.0.?]:\(server.port)",
            ] {
                for policy in HostKeyPolicy.allCases {
                    let error = try await Self.attempt(server, ["\(pattern) \(other)"], policy: policy)
                    #expect(
                        error?.kind == .hostKeyChanged, "\(pattern) \(policy): \(String(describing: error))")
                    #expect(error?.message.contains("line 1") == true)
                }
            }
        }
    }

    @Test("a wildcard pattern with the host's key accepts it; a negated one excludes the line")
    func wildcardAndNegation() async throws {
        try await withSSHServer { server in
            let key = try Self.hostKey(server)
            let other = try Self.otherKey(server)
            for pattern in [
                "[127.0.0.*]:\(server.port)", "*", "nothing,[127.0.0.1]:*", "[127.0.0.1]:\(server.port)",
            ] {
                let error = try await Self.attempt(server, ["\(pattern) \(key)"], policy: .strict)
                #expect(error == nil, "\(pattern): \(String(describing: error))")
            }
            // On a port other than 22, the plain host name may know the key (OpenSSH's lookup
            // without the port), but never makes a different key a change.
            #expect(try await Self.attempt(server, ["127.0.0.1 \(key)"], policy: .strict) == nil)
            let portless = try await Self.attempt(server, ["127.0.0.1 \(other)"], policy: .strict)
            #expect(portless?.kind == .hostKeyUnknown, "\(String(describing: portless))")
            // The negated pattern excludes the line: the host is unknown, not changed.
            let negated = ["*,![127.0.0.1]:\(server.port) \(other)"]
            let unknown = try await Self.attempt(server, negated, policy: .strict)
            #expect(unknown?.kind == .hostKeyUnknown, "\(String(describing: unknown))")
            // accept-new then records the key, and the next strict connection is accepted.
            #expect(try await Self.attempt(server, negated, policy: .acceptNew, unchanged: false) == nil)
            let text = try String(contentsOfFile: server.knownHostsPath, encoding: .utf8)
            #expect(text == negated[0] + "\n" + (try server.knownHostsLine()) + "\n")
        }
    }

    @Test("hashed entries: the right key is known, another key is a change")
    func hashedEntries() async throws {
        try await withSSHServer { server in
            let salt = (0..<20).map { UInt8($0 * 11 & 0xFF) }
            let field = HostPatterns.hashedField(hostField: "[127.0.0.1]:\(server.port)", salt: salt)
            #expect(
                try await Self.attempt(server, ["\(field) \(try Self.hostKey(server))"], policy: .strict)
                    == nil)
            let changed = try await Self.attempt(
                server, ["\(field) \(try Self.otherKey(server))"], policy: .acceptNew)
            #expect(changed?.kind == .hostKeyChanged, "\(String(describing: changed))")
        }
    }

    @Test("a host named only by @cert-authority lines is refused with a clear message under both policies")
    func certAuthorityOnlyRefused() async throws {
        try await withSSHServer { server in
            let lines = ["@cert-authority [127.0.0.1]:* \(try Self.otherKey(server))"]
            for policy in HostKeyPolicy.allCases {
                let error = try await Self.attempt(server, lines, policy: policy)
                #expect(error?.kind == .hostKeyUnknown, "\(policy): \(String(describing: error))")
                #expect(error?.message.contains("host certificates are not supported") == true)
                #expect(error?.message.contains("record the host's own key") == true)
                #expect(error?.message.contains(try Self.fingerprint(server)) == true)
            }
            // With the host's plain key recorded as well, the plain key decides.
            #expect(
                try await Self.attempt(server, lines + [try server.knownHostsLine()], policy: .strict) == nil)
        }
    }

    @Test("accept-new never writes through a symlink, nor to a file another user owns")
    func acceptNewWritesOnlyItsOwnFile() async throws {
        try await withSSHServer { server in
            let target = server.directory + "/target"
            try "# someone else's file\n".write(toFile: target, atomically: true, encoding: .utf8)
            let symlinked = server.directory + "/linked_known_hosts"
            try FileManager.default.createSymbolicLink(atPath: symlinked, withDestinationPath: target)
            let dangling = server.directory + "/dangling_known_hosts"
            try FileManager.default.createSymbolicLink(
                atPath: dangling, withDestinationPath: server.directory + "/created-through-link")
            for path in [symlinked, dangling] {
                var config = server.configuration(hostKeyPolicy: .acceptNew)
                config.knownHostsPath = path
                let pool = SSHPool(configuration: config)
                do {
                    _ = try await pool.run("true", on: server.endpoint)
                    Issue.record("\(path): accepted")
                } catch let error as SSHError {
                    #expect(error.kind == .hostKeyUnknown, "\(error)")
                    #expect(error.message.contains("symbolic link"), "\(error)")
                    #expect(error.message.contains(path), "\(error)")
                }
                await pool.shutdown()
            }
            // Nor through a hard link (another name for the same file).
            let hardLink = server.directory + "/hardlinked_known_hosts"
            #expect(link(target, hardLink) == 0)
            var hardConfig = server.configuration(hostKeyPolicy: .acceptNew)
            hardConfig.knownHostsPath = hardLink
            let hardPool = SSHPool(configuration: hardConfig)
            do {
                _ = try await hardPool.run("true", on: server.endpoint)
                Issue.record("\(hardLink): accepted")
            } catch let error as SSHError {
                #expect(error.kind == .hostKeyUnknown, "\(error)")
                #expect(error.message.contains("2 hard links"), "\(error)")
            }
            await hardPool.shutdown()
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "# someone else's file\n")
            #expect(!FileManager.default.fileExists(atPath: server.directory + "/created-through-link"))
            unlink(hardLink)
            // A symlinked file is still read (as OpenSSH does): a known key is accepted through it.
            try server.writeKnownHosts(to: target)
            var config = server.configuration(hostKeyPolicy: .strict)
            config.knownHostsPath = symlinked
            let pool = SSHPool(configuration: config)
            #expect(try await pool.run("echo ok", on: server.endpoint).stdoutText == "ok\n")
            await pool.shutdown()
        }
    }

    @Test("a known_hosts path that is not a readable file leaves the host unknown, naming the path")
    func unreadableKnownHosts() async throws {
        try await withSSHServer { server in
            let directory = server.directory + "/known_hosts_directory"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            for policy in HostKeyPolicy.allCases {
                var config = server.configuration(hostKeyPolicy: policy)
                config.knownHostsPath = directory
                let pool = SSHPool(configuration: config)
                do {
                    _ = try await pool.run("true", on: server.endpoint)
                    Issue.record("\(policy): accepted")
                } catch let error as SSHError {
                    #expect(error.kind == .hostKeyUnknown, "\(error)")
                    #expect(
                        error.message.contains("cannot read \(directory): not a regular file"), "\(error)")
                }
                await pool.shutdown()
            }
        }
    }

    @Test(
        "accept-new does not append to a known_hosts file owned by another user", .enabled(if: geteuid() == 0)
    )
    func acceptNewRefusesAForeignFile() async throws {
        try await withSSHServer { server in
            let path = server.directory + "/foreign_known_hosts"
            try "# owned by the test account\n".write(toFile: path, atomically: true, encoding: .utf8)
            let account = try #require(getpwnam(RunnerAccount.test))
            #expect(chown(path, account.pointee.pw_uid, account.pointee.pw_gid) == 0)
            var config = server.configuration(hostKeyPolicy: .acceptNew)
            config.knownHostsPath = path
            let pool = SSHPool(configuration: config)
            do {
                _ = try await pool.run("true", on: server.endpoint)
                Issue.record("accepted")
            } catch let error as SSHError {
                #expect(error.kind == .hostKeyUnknown, "\(error)")
                #expect(error.message.contains("owned by uid \(account.pointee.pw_uid)"), "\(error)")
            }
            await pool.shutdown()
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "# owned by the test account\n")
        }
    }

    @Test("a private key readable or writable by group or others is refused, naming the file and its mode")
    func openPrivateKeyRefused() async throws {
        try await withSSHServer { server in
            for mode in [0o644, 0o640, 0o604, 0o620, 0o700 | 0o002] {
                let copy = server.directory + "/client_copy_\(String(mode, radix: 8))"
                try? FileManager.default.removeItem(atPath: copy)
                try FileManager.default.copyItem(atPath: server.clientKeyPath, toPath: copy)
                #expect(chmod(copy, mode_t(mode)) == 0)
                var endpoint = server.endpoint
                endpoint.identityFile = copy
                let pool = SSHPool(configuration: server.configuration())
                do {
                    _ = try await pool.run("true", on: endpoint)
                    Issue.record("mode \(String(mode, radix: 8)) accepted")
                } catch let error as SSHError {
                    #expect(error.kind == .authFailed, "\(error)")
                    #expect(error.message.contains(copy), "\(error)")
                    #expect(error.message.contains("mode 0\(String(mode, radix: 8))"), "\(error)")
                }
                await pool.shutdown()
                // The same file with mode 0600 works.
                #expect(chmod(copy, 0o600) == 0)
                let fixed = SSHPool(configuration: server.configuration())
                #expect(try await fixed.run("echo ok", on: endpoint).stdoutText == "ok\n")
                await fixed.shutdown()
            }
        }
    }

    /// OpenSSH checks the mode only of key files the user owns (`sshkey_perm_ok`): another user's
    /// key file, readable by this one, is used whatever its mode.
    @Test(
        "a private key owned by another user is not checked for its mode, as in OpenSSH",
        .enabled(if: geteuid() == 0))
    func foreignPrivateKeyModeNotChecked() async throws {
        try await withSSHServer { server in
            let copy = server.directory + "/client_foreign"
            try FileManager.default.copyItem(atPath: server.clientKeyPath, toPath: copy)
            let account = try #require(getpwnam(RunnerAccount.test))
            #expect(chown(copy, account.pointee.pw_uid, account.pointee.pw_gid) == 0)
            #expect(chmod(copy, 0o644) == 0)
            var endpoint = server.endpoint
            endpoint.identityFile = copy
            let pool = SSHPool(configuration: server.configuration())
            #expect(try await pool.run("echo ok", on: endpoint).stdoutText == "ok\n")
            await pool.shutdown()
        }
    }

    /// How OpenSSH's `ssh` client judged the host: its exit status and warnings.
    static func openSSHVerdict(_ output: Substring) -> String {
        if output.contains("rc=0") { return "known" }
        if output.contains("REVOKED HOST KEY") { return "revoked" }
        if output.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") { return "changed" }
        if output.contains("host key is known for") { return "unknown" }
        return "other: " + output
    }

    static func ourVerdict(_ verdict: KnownHosts.Verdict) -> String {
        switch verdict {
        case .known: "known"
        case .changed: "changed"
        case .revoked: "revoked"
        // OpenSSH treats a plain key of a host named only by CA lines as new.
        case .certAuthorityOnly, .unknown: "unknown"
        }
    }

    /// Differential test against OpenSSH's client: generated known_hosts files (patterns that do
    /// and do not name the host, negation, hashed names, markers, the host's key and others of two
    /// types), each judged by `ssh -o StrictHostKeyChecking=yes` against the real sshd and by
    /// `KnownHosts`. The one deliberate difference, an `@revoked` line with the host's key that does
    /// not name the host (OpenSSH ignores it, this tool refuses the key), is checked to be refused.
    @Test("verdicts agree with OpenSSH's ssh client on generated known_hosts files")
    func verdictsAgreeWithOpenSSH() async throws {
        try await withSSHServer { server in
            let port = server.port
            let field = "[127.0.0.1]:\(port)"
            let keys = [
                try Self.hostKey(server), try Self.otherKey(server),
                try {
                    let path = try server.makeClientKey(type: "ecdsa", authorize: false)
                    let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
                    return pub.split(separator: " ").prefix(2).joined(separator: " ")
                }(),
            ]
            let salt = [UInt8](repeating: 42, count: 20)
            let naming = [
                field, "[127.0.0.*]:\(port)", "*", "[127.0.0.1]:*", "[127.0.0.?]:\(port)", "nothing,\(field)",
                "\(field),!nothing", "[127.0.0.1]:\(port)".uppercased(),
                HostPatterns.hashedField(hostField: field, salt: salt),
            ]
            let notNaming = [
                "127.0.0.1", "[127.0.0.1]:1", "other", "*,!\(field)", "!\(field),*", "!*",
                "[127.0.0.2]:\(port)",
                HostPatterns.hashedField(hostField: "[127.0.0.2]:\(port)", salt: salt),
            ]
            var random = SystemRandomNumberGenerator()
            // Each verdict once for certain, then random files.
            var files = [
                "\(field) \(keys[0])\n", "\(field) \(keys[1])\n", "@revoked \(field) \(keys[0])\n",
                "other \(keys[0])\n", "@cert-authority * \(keys[1])\n",
            ]
            for _ in 0..<48 {
                let lines = (0..<Int.random(in: 1...3, using: &random)).map { _ -> String in
                    let hosts =
                        Bool.random(using: &random) ? naming.randomElement()! : notNaming.randomElement()!
                    let marker = ["", "", "", "", "@revoked ", "@cert-authority "].randomElement()!
                    return marker + hosts + " " + keys.randomElement()!
                }
                files.append(lines.joined(separator: "\n") + "\n")
            }
            var script = ""
            for (index, text) in files.enumerated() {
                let path = server.directory + "/differential-\(index)"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                script +=
                    "echo '## case'; /usr/bin/ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=\(path) -o GlobalKnownHostsFile=/dev/null -o CheckHostIP=no -o UpdateHostKeys=no -o IdentitiesOnly=yes -o ConnectTimeout=20 -i \(server.clientKeyPath) -p \(port) \(server.account)@127.0.0.1 true 2>&1; echo rc=$?\n"
            }
            let output = try SSHServer.run(["/bin/sh", "-c", script + "true"])
            let answers = output.components(separatedBy: "## case\n").dropFirst().map { Substring($0) }
            #expect(answers.count == files.count)
            let presented = try #require(
                Base64.decode(Array(try Self.hostKey(server).split(separator: " ")[1].utf8)))
            var seen: Set<String> = []
            var deliberate = 0
            for (text, answer) in zip(files, answers) {
                let file = KnownHosts.parse(Array(text.utf8))
                let ours = Self.ourVerdict(file.verdict(host: "127.0.0.1", port: port, key: presented))
                let theirs = Self.openSSHVerdict(answer)
                if file.entries.contains(where: {
                    $0.marker == .revoked && $0.key == presented && !$0.names(field)
                }) {
                    // The deliberate difference: refused here whatever OpenSSH says.
                    #expect(ours == "revoked", "\(text)")
                    deliberate += 1
                    continue
                }
                #expect(ours == theirs, "\(text)\nssh said: \(answer)")
                seen.insert(theirs)
            }
            print(
                "known_hosts differential: \(files.count) files, \(deliberate) with the deliberate @revoked difference"
            )
            // The generated files reach every verdict.
            #expect(seen == ["known", "changed", "revoked", "unknown"])
        }
    }
}
