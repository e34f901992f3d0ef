import FleetCore

/// The `knownhosts` target: any bytes as a known_hosts file. The parser never fails, and its
/// decisions agree with the rules they implement, checked here independently of the matcher's own
/// loop: a revoked key is refused for every host, `known` and `changed` name an entry that names
/// the host, `unknown` means no entry names it, host names match case-insensitively, the glob
/// matcher agrees with a dynamic-programming reference, hashed names match their own host, and a
/// recorded line reads back as known.
extension FuzzHarness {
    /// Hosts tried against every input, besides those derived from its own patterns.
    static let knownHostsProbes = ["example.com", "[127.0.0.1]:2222", "10.0.0.1", "host", "[::1]:22"]

    static func checkKnownHosts(_ data: [UInt8], _ findings: inout Findings) {
        let file = KnownHosts.parse(data)
        let lineCount = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
        let numbers = file.entries.map(\.line) + file.invalidLines
        findings.expect(Set(numbers).count == numbers.count, "a line is both an entry and invalid")
        findings.expect(numbers.allSatisfy { $0 >= 1 && $0 <= lineCount }, "line number out of range")
        for entry in file.entries {
            findings.expect(
                Base64.decode(Array(Base64.encode(entry.key).utf8)) == entry.key, "key does not round-trip")
            findings.expect(
                SSHKeyBlob.typeName(entry.key) == entry.keyType, "key blob does not start with its type")
        }
        let hosts = Array((knownHostsProbes + derivedHosts(file)).prefix(8))
        var keys = [[UInt8]]()
        for entry in file.entries where !keys.contains(entry.key) && keys.count < 3 { keys.append(entry.key) }
        keys.append(Array("not a key in the file".utf8))
        for host in hosts {
            let naming = file.entries.filter { $0.marker != .revoked && $0.names(host) }
            for key in keys { checkVerdict(file, naming: naming, host: host, key: key, &findings) }
            checkGlobs(file, host: host, &findings)
            let upper = String(
                decoding: Array(host.utf8).map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
            for entry in file.entries.prefix(16) where entry.names(host) != entry.names(upper) {
                findings.expect(false, "line \(entry.line) matches \(host) and \(upper) differently")
            }
            let salt = Digest.sha1(Array(host.utf8))
            let hashed = Array(HostPatterns.hashedField(hostField: host, salt: salt).utf8)
            findings.expect(
                HostPatterns.fieldMatches(hashed, hostField: host), "hashed name does not match \(host)")
            findings.expect(
                !HostPatterns.fieldMatches(hashed, hostField: host + "x"), "hashed name matches another host")
        }
        for entry in file.entries.prefix(4) where entry.marker == .none {
            guard let line = KnownHosts.line(hostField: "recorded.example", key: entry.key) else { continue }
            let again = KnownHosts.parse(Array(line.utf8))
            if case .revoked = file.verdict(hostField: "recorded.example", key: entry.key) { continue }
            findings.expect(
                again.verdict(hostField: "recorded.example", key: entry.key)
                    == again.entries.first.map { .known($0) },
                "a recorded line does not read back as known")
        }
    }

    /// One host name per plain pattern of the file (wildcards filled in, negation dropped), so the
    /// matcher sees hosts that its patterns are about.
    static func derivedHosts(_ file: KnownHosts) -> [String] {
        var hosts: [String] = []
        for entry in file.entries where entry.hosts.first != UInt8(ascii: "|") {
            for pattern in entry.hosts.split(separator: UInt8(ascii: ",")).prefix(2) {
                let filled = pattern.drop { $0 == UInt8(ascii: "!") }.prefix(64).map { byte -> UInt8 in
                    byte == UInt8(ascii: "*")
                        ? UInt8(ascii: "x") : byte == UInt8(ascii: "?") ? UInt8(ascii: "y") : byte
                }
                hosts.append(String(decoding: filled, as: UTF8.self))
            }
        }
        return hosts
    }

    /// `naming`: the file's non-revoked entries that name `host`, found entry by entry.
    static func checkVerdict(
        _ file: KnownHosts, naming: [KnownHosts.Entry], host: String, key: [UInt8], _ findings: inout Findings
    ) {
        let plain = naming.filter { $0.marker == .none }
        let revoked = file.entries.contains { $0.marker == .revoked && $0.key == key }
        let verdict = file.verdict(hostField: host, key: key)
        switch verdict {
        case .revoked(let entry):
            findings.expect(
                entry.marker == .revoked && entry.key == key, "revoked by a line without this key")
        case .known(let entry):
            findings.expect(!revoked, "revoked key accepted for \(host)")
            findings.expect(
                plain.contains(entry) && entry.key == key, "known by a line that does not name it")
        case .changed(let entry):
            findings.expect(!revoked, "revoked key reported as changed for \(host)")
            findings.expect(plain.first == entry, "changed: not the first line naming \(host)")
            findings.expect(!plain.contains { $0.key == key }, "changed although a line has this key")
        case .certAuthorityOnly(let entry):
            findings.expect(!revoked && plain.isEmpty, "cert-authority-only with plain lines for \(host)")
            findings.expect(
                entry.marker == .certAuthority && naming.first == entry, "wrong cert-authority line")
        case .unknown:
            findings.expect(!revoked && naming.isEmpty, "unknown although lines name \(host)")
        }
    }

    /// Every short subpattern against the host: the matcher's glob agrees with a table-filling
    /// reference that shares none of its code.
    static func checkGlobs(_ file: KnownHosts, host: String, _ findings: inout Findings) {
        let text = Array(host.utf8)
        for entry in file.entries.prefix(8) where entry.hosts.first != UInt8(ascii: "|") {
            for pattern in entry.hosts.split(separator: UInt8(ascii: ",")).prefix(2)
            where pattern.count <= 128 {
                let bytes = Array(pattern)
                findings.expect(
                    HostPatterns.glob(bytes, text) == referenceGlob(bytes, text),
                    "glob \(String(decoding: bytes, as: UTF8.self)) disagrees with the reference on \(host)")
            }
        }
    }

    /// Row by row over the pattern: `row[j]` says whether the pattern so far matches the first `j`
    /// text bytes.
    static func referenceGlob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var row = [Bool](repeating: false, count: text.count + 1)
        row[0] = true
        for byte in pattern {
            var next = [Bool](repeating: false, count: text.count + 1)
            for j in 0...text.count {
                if byte == UInt8(ascii: "*") {
                    next[j] = row[j] || (j > 0 && next[j - 1])
                } else if j > 0 {
                    next[j] = row[j - 1] && (byte == UInt8(ascii: "?") || byte == text[j - 1])
                }
            }
            row = next
        }
        return row[text.count]
    }
}
