import Testing

@testable import FleetCore

/// Test keys: well-formed ed25519 and ECDSA blobs (random-looking bytes, never used to sign).
enum TestKeys {
    static func string(_ bytes: [UInt8]) -> [UInt8] {
        let n = bytes.count
        return [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    static func ed25519(_ seed: UInt8) -> [UInt8] {
        string(Array("ssh-ed25519".utf8))
            + string((0..<32).map { UInt8(truncatingIfNeeded: Int($0) * 7 + Int(seed)) })
    }

    static func ecdsa256(_ seed: UInt8) -> [UInt8] {
        string(Array("ecdsa-sha2-nistp256".utf8)) + string(Array("nistp256".utf8))
            + string([4] + (0..<64).map { UInt8(truncatingIfNeeded: Int($0) + Int(seed)) })
    }

    /// `MARKER HOSTS TYPE BASE64` for a blob.
    static func line(_ hosts: String, _ key: [UInt8], marker: String = "") -> String {
        (marker.isEmpty ? "" : marker + " ") + "\(hosts) \(SSHKeyBlob.typeName(key)!) \(Base64.encode(key))"
    }
}

@Suite struct KnownHostsTests {
    let key = TestKeys.ed25519(1)
    let other = TestKeys.ed25519(2)
    let ecdsa = TestKeys.ecdsa256(3)

    func file(_ lines: [String]) -> KnownHosts { KnownHosts.parse(Array(lines.joined(separator: "\n").utf8)) }

    func verdict(_ lines: [String], host: String, port: Int = 22, key: [UInt8]? = nil) -> KnownHosts.Verdict {
        file(lines).verdict(hostField: HostPatterns.hostField(host: host, port: port), key: key ?? self.key)
    }

    // MARK: host patterns

    struct PatternCase: Sendable, CustomTestStringConvertible {
        var field: String
        var host: String
        var port: Int
        var matches: Bool
        var testDescription: String { "\(field) vs \(host):\(port) → \(matches)" }
    }

    static let patternCases: [PatternCase] = [
        .init(field: "host.example.com", host: "host.example.com", port: 22, matches: true),
        .init(field: "host.example.com", host: "HOST.Example.com", port: 22, matches: true),
        .init(field: "HOST.EXAMPLE.COM", host: "host.example.com", port: 22, matches: true),
        .init(field: "host.example.com", host: "host.example.com", port: 2222, matches: false),
        .init(field: "[host.example.com]:2222", host: "host.example.com", port: 2222, matches: true),
        .init(field: "[host.example.com]:2222", host: "host.example.com", port: 22, matches: false),
        .init(field: "[host.example.com]:22", host: "host.example.com", port: 22, matches: false),
        .init(field: "[127.0.0.*]:2222", host: "127.0.0.1", port: 2222, matches: true),
        .init(field: "[127.0.0.*]:2222", host: "127.0.1.1", port: 2222, matches: false),
        .init(field: "[127.0.0.*]:2222", host: "127.0.0.1", port: 22, matches: false),
        .init(field: "*", host: "anything", port: 22, matches: true),
        .init(field: "*", host: "anything", port: 2222, matches: true),
        .init(field: "*.example.com", host: "example.com", port: 22, matches: false),
        .init(field: "*.example.com", host: "a.b.example.com", port: 22, matches: true),
        .init(field: "*.example.com,!bad.example.com", host: "bad.example.com", port: 22, matches: false),
        .init(field: "*.example.com,!bad.example.com", host: "good.example.com", port: 22, matches: true),
        .init(field: "!bad.example.com,*.example.com", host: "bad.example.com", port: 22, matches: false),
        .init(field: "!host", host: "host", port: 22, matches: false),
        .init(field: "!host", host: "other", port: 22, matches: false),
        .init(field: "!*.example.com,*", host: "other", port: 22, matches: true),
        .init(field: "h?st", host: "host", port: 22, matches: true),
        .init(field: "h?st", host: "hst", port: 22, matches: false),
        .init(field: "h*t", host: "ht", port: 22, matches: true),
        .init(field: "alpha,beta", host: "beta", port: 22, matches: true),
        .init(field: "alpha,beta", host: "alphabeta", port: 22, matches: false),
        .init(field: "[::1]:2222", host: "::1", port: 2222, matches: true),
        .init(field: "10.0.0.1", host: "10.0.0.10", port: 22, matches: false),
        .init(field: "host," + String(repeating: "a", count: 1022), host: "host", port: 22, matches: true),
        // OpenSSH gives up on a list with a subpattern of 1023 bytes or more, even after a match.
        .init(field: "host," + String(repeating: "a", count: 1023), host: "host", port: 22, matches: false),
    ]

    @Test(arguments: patternCases)
    func patterns(_ c: PatternCase) {
        let hostField = HostPatterns.hostField(host: c.host, port: c.port)
        #expect(HostPatterns.fieldMatches(Array(c.field.utf8), hostField: hostField) == c.matches)
    }

    @Test func hostFieldIsOpenSSHs() {
        #expect(HostPatterns.hostField(host: "Host.Example", port: 22) == "host.example")
        #expect(HostPatterns.hostField(host: "127.0.0.1", port: 2222) == "[127.0.0.1]:2222")
    }

    @Test func globNeedsNoBacktrackingExplosion() {
        let pattern = Array((String(repeating: "*a", count: 40) + "b").utf8)
        let text = Array(String(repeating: "a", count: 300).utf8)
        let elapsed = ContinuousClock().measure { #expect(!HostPatterns.glob(pattern, text)) }
        #expect(elapsed < .seconds(2))
    }

    @Test func hashedNamesMatchTheirHostOnly() {
        let salt = (0..<20).map { UInt8($0 * 13 & 0xFF) }
        let field = Array(HostPatterns.hashedField(hostField: "[host]:2222", salt: salt).utf8)
        #expect(HostPatterns.fieldMatches(field, hostField: "[host]:2222"))
        #expect(HostPatterns.fieldMatches(field, hostField: "[HOST]:2222"))
        #expect(!HostPatterns.fieldMatches(field, hostField: "host"))
        #expect(!HostPatterns.fieldMatches(field + Array(",host".utf8), hostField: "host"))
        #expect(!HostPatterns.fieldMatches(Array("|1|AAAA|BBBB".utf8), hostField: "host"))
        #expect(!HostPatterns.fieldMatches(Array("|2|x|y".utf8), hostField: "host"))
    }

    /// RFC 2202, HMAC-SHA1 test cases 1 and 6 (a key longer than the block).
    @Test func hmacSHA1Vectors() {
        func hex(_ bytes: [UInt8]) -> String {
            bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        }
        #expect(
            hex(Digest.hmacSHA1(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
                == "b617318655057264e28bc0b6fb378c8ef146be00")
        #expect(
            hex(
                Digest.hmacSHA1(
                    key: [UInt8](repeating: 0xaa, count: 80),
                    message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
    }

    @Test func base64IsStrict() {
        #expect(Base64.decode(Array("aGk=".utf8)) == Array("hi".utf8))
        #expect(Base64.decode(Array("aGVsbG8h".utf8)) == Array("hello!".utf8))
        #expect(Base64.decode(Array("aGk".utf8)) == nil)
        #expect(Base64.decode(Array("aGl=".utf8)) == nil)  // stray bits
        #expect(Base64.decode(Array("a=k=".utf8)) == nil)
        #expect(Base64.decode(Array("aG!=".utf8)) == nil)
        #expect(Base64.decode(Array("".utf8)) == [])
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8($0 * 37 & 0xFF) }
            #expect(Base64.decode(Array(Base64.encode(bytes).utf8)) == bytes)
        }
    }

    // MARK: reading

    @Test func parseReadsMarkersAndSkipsWhatOpenSSHSkips() {
        let text = [
            "# comment", "", "   ", TestKeys.line("plain", key),
            TestKeys.line("revoked-host", key, marker: "@revoked"),
            TestKeys.line("*.ca.example", other, marker: "@cert-authority"),
            TestKeys.line("host", key, marker: "@bogus"),
            TestKeys.line("host", key, marker: "@revoked @revoked"),
            TestKeys.line("host", key, marker: "@revoked\t"),  // a tab ends the marker too
            "host ssh-ed25519", "host ssh-ed25519 AAAA", "host ssh-rsa " + Base64.encode(key),
            "host ssh-ed25519 " + Base64.encode(key) + "AAAA", "host # comment",
            "\t  " + TestKeys.line("indented", other) + " a comment",
            TestKeys.line("crlf", ecdsa) + "\r",
        ]
        let parsed = file(text)
        #expect(parsed.entries.map(\.line) == [4, 5, 6, 9, 15, 16])
        #expect(parsed.entries.map(\.marker) == [.none, .revoked, .certAuthority, .revoked, .none, .none])
        #expect(parsed.invalidLines == [7, 8, 10, 11, 12, 13, 14])
        #expect(parsed.entries[5].keyType == "ecdsa-sha2-nistp256")
        #expect(parsed.entries[4].hosts == Array("indented".utf8))
    }

    @Test func keyTypeNamesArePrintable() {
        let name = "x-\u{1b}[31m"
        let blob = TestKeys.string(Array(name.utf8)) + TestKeys.string([1, 2, 3])
        #expect(file(["host \(name) " + Base64.encode(blob)]).invalidLines == [1])
        let plainName = "x-unknown@example.com"
        let plainBlob = TestKeys.string(Array(plainName.utf8)) + TestKeys.string([1, 2, 3])
        #expect(file(["host \(plainName) " + Base64.encode(plainBlob)]).entries.count == 1)
    }

    @Test func aNulByteEndsTheLine() {
        let bytes = Array((TestKeys.line("a", key) + "\0junk\n" + "\0" + TestKeys.line("b", key) + "\n").utf8)
        let parsed = KnownHosts.parse(bytes)
        #expect(parsed.entries.map(\.line) == [1])
        #expect(parsed.invalidLines.isEmpty)
    }

    // MARK: verdicts

    @Test func knownChangedAndUnknown() {
        #expect(
            verdict([TestKeys.line("host", key)], host: "host")
                == .known(file([TestKeys.line("host", key)]).entries[0]))
        guard case .changed(let recorded) = verdict([TestKeys.line("host", other)], host: "host") else {
            Issue.record("expected changed")
            return
        }
        #expect(recorded.key == other)
        // A key of another type for the host is a change too (OpenSSH's HOST_CHANGED).
        guard case .changed(let typed) = verdict([TestKeys.line("host", ecdsa)], host: "host") else {
            Issue.record("expected changed for another key type")
            return
        }
        #expect(typed.keyType == "ecdsa-sha2-nistp256")
        #expect(verdict([TestKeys.line("other", other)], host: "host") == .unknown)
        #expect(verdict([TestKeys.line("host", other), TestKeys.line("host", key)], host: "host").isKnown)
    }

    @Test func wildcardsAndNegationDecideLikeNames() {
        let wildcardOther = [TestKeys.line("[127.0.0.*]:2222", other)]
        #expect(verdict(wildcardOther, host: "127.0.0.1", port: 2222).isChanged)
        #expect(verdict(wildcardOther, host: "127.0.0.1", port: 22) == .unknown)
        #expect(verdict([TestKeys.line("*", other)], host: "anything").isChanged)
        #expect(verdict([TestKeys.line("[127.0.0.*]:2222", key)], host: "127.0.0.1", port: 2222).isKnown)
        let negated = [TestKeys.line("*,!127.0.0.1", other)]
        #expect(verdict(negated, host: "127.0.0.1") == .unknown)
        #expect(verdict(negated, host: "127.0.0.2").isChanged)
        #expect(verdict([TestKeys.line("!host", other)], host: "host") == .unknown)
    }

    @Test func revokedKeysAreRefusedForEveryHost() {
        for revokedLine in ["@revoked host", "@revoked *", "@revoked other.example", "@revoked !host"] {
            let parts = revokedLine.split(separator: " ", maxSplits: 1).map(String.init)
            let lines = [TestKeys.line("host", key), TestKeys.line(parts[1], key, marker: parts[0])]
            guard case .revoked(let entry) = verdict(lines, host: "host") else {
                Issue.record("\(revokedLine): not revoked")
                continue
            }
            #expect(entry.line == 2)
        }
        // Another revoked key does not touch this one.
        let lines = [TestKeys.line("host", key), TestKeys.line("*", other, marker: "@revoked")]
        #expect(verdict(lines, host: "host").isKnown)
        #expect(verdict(lines, host: "host", key: other).isRevoked)
        // A revoked line is not a record of the host: unknown, not changed, for a different key.
        #expect(verdict([TestKeys.line("host", other, marker: "@revoked")], host: "host") == .unknown)
    }

    @Test func certAuthorityLinesAloneAreNotAKnownKey() {
        let authority = [TestKeys.line("*.example.com", other, marker: "@cert-authority")]
        guard case .certAuthorityOnly(let entry) = verdict(authority, host: "web.example.com") else {
            Issue.record("expected certAuthorityOnly")
            return
        }
        #expect(entry.line == 1)
        // Even when the CA key is the presented key: a CA key is not the host's key.
        #expect(verdict(authority, host: "web.example.com", key: other).isCertAuthorityOnly)
        #expect(verdict(authority, host: "example.org") == .unknown)
        // A plain entry for the host decides.
        #expect(verdict(authority + [TestKeys.line("web.example.com", key)], host: "web.example.com").isKnown)
        #expect(
            verdict(authority + [TestKeys.line("web.example.com", ecdsa)], host: "web.example.com").isChanged)
    }

    @Test func anotherPortFallsBackToThePlainNameForAMatchOnly() {
        let known = file([TestKeys.line("myhost", key)])
        #expect(known.verdict(host: "myhost", port: 2222, key: key).isKnown)
        #expect(known.verdict(host: "myhost", port: 2222, key: other) == .unknown)
        #expect(known.verdict(host: "myhost", port: 22, key: other).isChanged)
        // The [host]:port entry decides first.
        let both = file([TestKeys.line("[myhost]:2222", other), TestKeys.line("myhost", key)])
        #expect(both.verdict(host: "myhost", port: 2222, key: key).isChanged)
        // A host named only by CA lines on its port is still known by its plain name's key.
        let authority = file([
            TestKeys.line("[myhost]:*", other, marker: "@cert-authority"), TestKeys.line("myhost", key),
        ])
        #expect(authority.verdict(host: "myhost", port: 2222, key: key).isKnown)
        #expect(authority.verdict(host: "myhost", port: 2222, key: ecdsa).isCertAuthorityOnly)
    }

    @Test func hashedEntriesAreMatched() {
        let salt = [UInt8](repeating: 7, count: 20)
        let hashed = HostPatterns.hashedField(hostField: "[127.0.0.1]:2222", salt: salt)
        #expect(verdict([TestKeys.line(hashed, key)], host: "127.0.0.1", port: 2222).isKnown)
        #expect(verdict([TestKeys.line(hashed, other)], host: "127.0.0.1", port: 2222).isChanged)
        #expect(verdict([TestKeys.line(hashed, other)], host: "127.0.0.1", port: 22) == .unknown)
    }

    @Test func recordedLineReadsBackAsKnown() throws {
        let line = try #require(KnownHosts.line(hostField: "[127.0.0.1]:2222", key: ecdsa))
        #expect(line == "[127.0.0.1]:2222 ecdsa-sha2-nistp256 \(Base64.encode(ecdsa))\n")
        #expect(KnownHosts.parse(Array(line.utf8)).verdict(hostField: "[127.0.0.1]:2222", key: ecdsa).isKnown)
    }

    @Test func fingerprintIsOpenSSHs() {
        // SHA256 of an empty blob, base64 without padding.
        #expect(KnownHosts.fingerprint([]) == "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
    }
}

extension KnownHosts.Verdict {
    var isKnown: Bool { if case .known = self { true } else { false } }
    var isChanged: Bool { if case .changed = self { true } else { false } }
    var isRevoked: Bool { if case .revoked = self { true } else { false } }
    var isCertAuthorityOnly: Bool { if case .certAuthorityOnly = self { true } else { false } }
}
