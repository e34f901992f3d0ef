import BenchSupport
import TestSupport
import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// Differential test: generated known_hosts files (patterns with `*`, `?`, `!`, lists, ports,
/// case, hashed names, markers, malformed lines) looked up with OpenSSH's own `ssh-keygen -F` and
/// with `KnownHosts`; both must name the same lines, with the same markers, for every host.
@Suite struct KnownHostsOpenSSHTests {
    /// A fixed seed makes every run generate the same files.
    typealias Generator = SplitMix64

    static let hosts = [
        "a", "b", "ab", "host", "h1", "10.0.0.1", "[a]:2222", "[host]:2222", "[10.0.0.1]:2222",
    ]

    static func pattern(_ random: inout Generator) -> String {
        let special = [
            "*", "?", "[*]:2222", "[a]:*", "*:2222", "h*", "*1", "[?]:2222", "1?.0.0.*", "", "A", "HOST",
        ]
        var text =
            Int.random(in: 0..<4, using: &random) == 0
            ? special.randomElement(using: &random)! : hosts.randomElement(using: &random)!
        if Int.random(in: 0..<3, using: &random) == 0, !text.isEmpty {
            var bytes = Array(text)
            bytes[Int.random(in: 0..<bytes.count, using: &random)] = ["*", "?"].randomElement(using: &random)!
            text = String(bytes)
        }
        if Int.random(in: 0..<5, using: &random) == 0 { text = text.uppercased() }
        if Int.random(in: 0..<5, using: &random) == 0 { text = "!" + text }
        return text
    }

    static func line(_ random: inout Generator, keys: [[UInt8]]) -> String {
        switch Int.random(in: 0..<40, using: &random) {
        case 0: return "# a comment"
        case 1: return ""
        case 2: return "@bogus * " + TestKeys.line("x", keys[0]).split(separator: " ", maxSplits: 1)[1]
        case 3: return "host"
        default: break
        }
        var hostsField: String
        if Int.random(in: 0..<6, using: &random) == 0 {
            let salt = (0..<20).map { _ in UInt8.random(in: 0...255, using: &random) }
            hostsField = HostPatterns.hashedField(hostField: hosts.randomElement(using: &random)!, salt: salt)
        } else {
            hostsField = (0..<Int.random(in: 1...3, using: &random)).map { _ in pattern(&random) }
                .joined(separator: ",")
            if hostsField.isEmpty { hostsField = "a" }
        }
        let marker = ["", "", "", "", "", "", "@revoked", "@cert-authority"].randomElement(using: &random)!
        let separator = Int.random(in: 0..<6, using: &random) == 0 ? "\t" : " "
        let key = keys.randomElement(using: &random)!
        let body = "\(hostsField)\(separator)\(SSHKeyBlob.typeName(key)!) \(Base64.encode(key))"
        return (marker.isEmpty ? "" : marker + " ") + body
    }

    /// Line number and marker of every line `ssh-keygen -F` reports for each host.
    static func openSSHMatches(file: String) throws -> [String: [String]] {
        let script = hosts.map { "ssh-keygen -F '\($0)' -f '\(file)'; echo '## end'" }.joined(separator: "; ")
        let output = try SSHServer.run(["/bin/sh", "-c", script + "; true"])
        var result: [String: [String]] = [:]
        var index = 0
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "## end" {
                index += 1
                continue
            }
            guard line.hasPrefix("# Host "), let range = line.range(of: " found: line ") else { continue }
            let rest = line[range.upperBound...].split(separator: " ")
            let marker = rest.count > 1 ? String(rest[1]) : ""
            result[hosts[index], default: []].append("\(rest[0])\(marker.isEmpty ? "" : " " + marker)")
        }
        return result
    }

    static func ourMatches(_ file: KnownHosts) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for host in hosts {
            for entry in file.entries where entry.names(host) {
                let marker =
                    entry.marker == .revoked ? " REVOKED" : entry.marker == .certAuthority ? " CA" : ""
                result[host, default: []].append("\(entry.line)\(marker)")
            }
        }
        return result
    }

    @Test func matchesWhatSSHKeygenFinds() throws {
        var random = Generator(seed: 20_261_204)
        let keys = [TestKeys.ed25519(1), TestKeys.ed25519(2), TestKeys.ecdsa256(3)]
        var template = Array("/tmp/knownhosts-diff-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed") }
        let directory = String(cString: made)
        defer { _ = try? SSHServer.run(["/bin/rm", "-rf", directory]) }
        var compared = 0
        for number in 0..<60 {
            let lines = (0..<Int.random(in: 1...14, using: &random)).map { _ in Self.line(&random, keys: keys)
            }
            let text = lines.joined(separator: "\n") + "\n"
            let path = directory + "/known_hosts-\(number)"
            try FileSystem.writeAtomically(path, text: text, mode: 0o600)
            let expected = try Self.openSSHMatches(file: path)
            let ours = Self.ourMatches(KnownHosts.parse(Array(text.utf8)))
            #expect(ours == expected, "\(path):\n\(text)")
            compared += expected.values.map(\.count).reduce(0, +)
        }
        // The generator must produce real matches (of every kind) for the comparison to mean much.
        #expect(compared > 200)
    }
}
