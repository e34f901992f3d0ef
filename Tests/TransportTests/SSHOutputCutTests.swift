import FleetCore
import TestSupport
import Testing

@testable import Transport

/// `exec` output past the cap loses the word the cut splits, so no prefix of a secret survives
/// that redaction could no longer recognise (review of issue 13: 12 of 22 characters did).
@Suite struct SSHOutputCutTests {
    static let secret = "Zq7xK2mPv9RtL4wNc8HbY3"

    @Test func aSecretSplitByTheOutputCapLeavesNoPiece() async throws {
        try await withSSHServer { server in
            var configuration = server.configuration()
            configuration.defaultOutputLimit = 1000
            let pool = SSHPool(configuration: configuration)
            let endpoint = server.endpoint
            let spec = try CloudSpec.parse(
                text: """
                    repo:
                      url: https://github.com/example/app.git
                    provider: ssh
                    ssh:
                      host: \(endpoint.host)
                      port: \(endpoint.port)
                      user: \(endpoint.user ?? "root")
                      identity_file: \(endpoint.identityFile ?? "")
                      runtime: host
                    """, path: "/tmp/cloud.yaml")
            let runner = SSHRunner(spec: spec, pool: pool)
            // 990 bytes of words, then the secret across the 1000-byte cap, on both streams.
            let words = String(repeating: "word ", count: 198)
            let output = try await runner.run(
                "printf '%s%s\\n' '\(words)' \(Self.secret); printf '%s%s\\n' '\(words)' \(Self.secret) >&2",
                stdin: nil, deadline: .seconds(30))
            await pool.shutdown()
            #expect(output.stdout.hasPrefix(words))
            #expect(output.stderr.contains("truncated at 1000 bytes"))
            let characters = Array(Self.secret)
            for start in 0...(characters.count - 8) {
                let piece = String(characters[start..<start + 8])
                #expect(!output.stdout.contains(piece), "stdout keeps \(piece)")
                #expect(!output.stderr.contains(piece), "stderr keeps \(piece)")
            }
        }
    }
}
