import BenchSupport
import FleetCore
import SSHClient
import TestSupport
import Testing

@testable import Transport

/// `exec` output past the cap is not cut but refused (`remote_error` naming the cap), so no
/// prefix of a secret split by the cap survives anywhere (review of issue 13: 12 of 22
/// characters did when the output was cut).
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
            let runner = try SSHRunner(spec: spec, pool: pool)
            // 990 bytes of words, then the secret across the 1000-byte cap, on both streams.
            let words = String(repeating: "word ", count: 198)
            var message = ""
            do {
                _ = try await runner.run(
                    "printf '%s%s\\n' '\(words)' \(Self.secret); printf '%s%s\\n' '\(words)' \(Self.secret) >&2",
                    stdin: nil, deadline: .seconds(30))
                Issue.record("output over the cap was accepted")
            } catch let error as FleetError {
                #expect(error.kind == .remoteError, "\(error)")
                message = error.message
            }
            await pool.shutdown()
            #expect(message.contains("more than 1000 bytes on std"), "\(message)")
            let characters = Array(Self.secret)
            for start in 0...(characters.count - 8) {
                let piece = String(characters[start..<start + 8])
                #expect(!message.contains(piece), "the error keeps \(piece)")
            }
        }
    }
}
