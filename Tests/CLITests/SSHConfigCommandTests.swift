import BenchSupport
import FleetCore
import TestSupport
import Testing

/// `megaplan-fleet ssh-config HOST` prints what `ssh -G` prints for the honoured keywords, takes
/// `--user`/`--port` as `ssh -l`/`-p`, reports unhonoured security keywords and names the line of
/// an unsupported `Match`.
@Suite struct SSHConfigCommandTests {
    static let keywords: Set<Substring> = [
        "host", "user", "hostname", "port", "identitiesonly", "stricthostkeychecking", "identityfile",
        "userknownhostsfile", "connecttimeout", "proxyjump", "serveraliveinterval",
    ]

    static func honoured(_ text: String) -> [String] {
        text.split(separator: "\n").filter { line in
            keywords.contains(line.split(separator: " ", maxSplits: 1).first ?? "")
        }.map(String.init).sorted()
    }

    @Test func printsTheResolutionAsSSHMinusGDoes() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/ssh_config"
        try write(
            config,
            """
            Host runner-alias
              HostName 10.1.2.3
              Port=2200
              IdentityFile ~/.ssh/fleet_key
              ForwardAgent yes
              ConnectTimeout 1m
            Match user ops
              UserKnownHostsFile /etc/fleet/known_hosts
            Host *
              User deploy
              StrictHostKeyChecking accept-new

            """)
        for extra in [[], ["--user", "ops", "--port", "22"]] {
            let result = try await CLI.run(
                ["ssh-config", "runner-alias", "--ssh-config", config] + extra, home: directory,
                cwd: directory)
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("does not honour ForwardAgent (\(config) line 5)"), "\(result)")
            let sshArguments =
                ["-T", "-G", "-F", config] + (extra.isEmpty ? [] : ["-l", "ops", "-p", "22"]) + [
                    "runner-alias"
                ]
            let expected = try await onOwnThread {
                try SSHServer.run(["/usr/bin/ssh"] + sshArguments)
            }
            #expect(Self.honoured(result.stdout) == Self.honoured(expected))
            #expect(result.stdout.contains(extra.isEmpty ? "user deploy\n" : "user ops\n"))
        }
    }

    @Test func anUnsupportedMatchNamesTheFileAndLine() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/ssh_config"
        try write(config, "Host a\n  Port 2\nMatch exec \"true\"\n  Port 3\n")
        let result = try await CLI.run(
            ["ssh-config", "a", "--ssh-config", config], home: directory, cwd: directory)
        #expect(result.status == 1, "\(result)")
        #expect(result.errorCode == "invalid_ssh_config")
        #expect(
            result.message
                == "\(config) line 3: Match exec is not supported (only host, originalhost, user, all and final)"
        )
    }
}
