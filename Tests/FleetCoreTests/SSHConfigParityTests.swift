import TestSupport
import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// The resolver against OpenSSH's own client: for a seeded corpus of generated configurations
/// (Host patterns and negations, Match, Include, tokens, first-wins, quoting, `=`, comments and
/// keyword case), the lines `ssh -G -F FILE HOST` prints for the honoured keywords equal ours.
@Suite struct SSHConfigParityTests {
    static let comparedKeywords: Set<String> = [
        "host", "user", "hostname", "port", "identitiesonly", "stricthostkeychecking", "serveralivecountmax",
        "serveraliveinterval", "hostkeyalias", "identityagent", "identityfile", "certificatefile",
        "globalknownhostsfile", "userknownhostsfile", "connecttimeout", "proxyjump", "proxycommand",
    ]

    struct Case {
        var config: String
        var host: String
    }

    @Test func generatedCorpusMatchesSSHMinusG() async throws {
        let directory = TempDir()
        let home = directory.path + "/home"
        let context = SSHConfigResolver.Context(
            homeDirectory: SSHConfigResolver.Context.current.homeDirectory,
            localUser: SSHConfigResolver.Context.current.localUser, userConfigDirectory: home + "/.ssh")
        var generator = CorpusGenerator(seed: 0x5EED_C0F1)
        var cases: [Case] = []
        for index in 0..<240 {
            let generated = generator.makeCase(index: index)
            for (name, text) in generated.includes { directory.write("home/.ssh/" + name, text) }
            let path = directory.write("case-\(index).conf", generated.config)
            cases.append(Case(config: path, host: generated.host))
        }
        let script = cases.map {
            "HOME='\(home)' ssh -G -F '\($0.config)' '\($0.host)' 2>/dev/null </dev/null; echo '## end'"
        }.joined(separator: "\n")
        let output = try await onOwnThread { runShell(script).output }
        let blocks = String(decoding: output, as: UTF8.self).components(separatedBy: "## end\n")
        #expect(blocks.count == cases.count + 1)
        var compared = 0
        for (index, testCase) in cases.enumerated() where index < blocks.count {
            let expected = Self.grouped(blocks[index].split(separator: "\n").map(String.init))
            let resolver = SSHConfigResolver(
                files: [.init(path: testCase.config, isUserFile: true)], context: context)
            let ours: [String: [String]]?
            do {
                ours = Self.grouped(try resolver.resolve(host: testCase.host).openSSHLines(context: context))
            } catch { ours = nil }
            if expected.isEmpty {
                #expect(
                    ours == nil, "ssh refused case \(index) (\(testCase.config)) but the resolver accepted it"
                )
            } else {
                #expect(ours == expected, "case \(index): \(testCase.config) host \(testCase.host)")
                compared += 1
            }
        }
        #expect(compared >= 200)
    }

    static func grouped(_ lines: [String]) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            let keyword = String(parts[0])
            guard comparedKeywords.contains(keyword) else { continue }
            result[keyword, default: []].append(parts.count > 1 ? String(parts[1]) : "")
        }
        return result
    }
}

/// Deterministic configurations: SplitMix64 picks blocks, patterns, keywords and their spelling.
struct CorpusGenerator {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }

    static let hosts = [
        "web1", "WEB1", "web12", "db.example.com", "db-2.example.org", "alias", "Bastion", "x",
    ]
    static let patterns = [
        "web*", "web?", "*.example.com", "db*", "*", "alias", "ALIAS", "d?.*", "db-*.example.org", "Bastion",
        "x", "nomatch", "*1",
    ]
    static let listPatterns = [
        "web*", "*.example.com,!db-*", "alias", "db*,x", "!web1,*", "bastion", "*.internal", "real-*",
        "10.0.0.*",
    ]
    static let values: [(String, [String])] = [
        ("HostName", ["real-%h", "10.0.0.5", "Target.Example.NET", "%h.internal", "h%%x"]),
        ("User", ["alice", "bob", "deploy"]),
        ("Port", ["2222", "22", "8022"]),
        ("IdentityFile", ["~/.ssh/id_test", "/keys/%h_%r", "keys/one", "~/.ssh/id_ed25519"]),
        ("IdentitiesOnly", ["yes", "no", "true"]),
        ("IdentityAgent", ["none", "SSH_AUTH_SOCK", "~/agent.sock", "/run/agent-%u"]),
        ("CertificateFile", ["~/.ssh/id_test-cert.pub", "/certs/%h.pub"]),
        ("ProxyJump", ["jump-box", "ops@jump-box:2200", "none", "a@j1:2,j2"]),
        ("ProxyCommand", ["none", "nc %h %p"]),
        ("UserKnownHostsFile", ["~/.ssh/kh_%h", "/tmp/kh1 /tmp/kh2", "none", "kh_%p_%r", "/kh/%n-%d"]),
        ("GlobalKnownHostsFile", ["/etc/ssh/extra_known_hosts", "none", "/g1 /g2"]),
        ("StrictHostKeyChecking", ["yes", "accept-new", "no", "ask", "off", "true"]),
        ("HostKeyAlias", ["Alias-Key", "k1"]),
        ("ConnectTimeout", ["5", "1m", "none", "0"]),
        ("ServerAliveInterval", ["15", "2m30s"]),
        ("ServerAliveCountMax", ["2", "7"]),
    ]

    mutating func keywordSpelling(_ keyword: String) -> String {
        switch next() % 4 {
        case 0: keyword.lowercased()
        case 1: keyword.uppercased()
        default: keyword
        }
    }

    mutating func settingLine() -> String {
        let (keyword, choices) = pick(Self.values)
        var value = pick(choices)
        if !value.contains(" "), !value.contains("%"), chance(20) { value = "\"\(value)\"" }
        let separator = pick([" ", "=", " = ", "\t", "  "])
        let indent = pick(["", "  ", "\t"])
        let comment = chance(15) && keyword != "ProxyCommand" ? pick([" # note", "\t#x"]) : ""
        return indent + keywordSpelling(keyword) + separator + value + comment
    }

    mutating func header() -> String {
        switch next() % 10 {
        case 0...4:
            let count = 1 + Int(next() % 3)
            var items: [String] = []
            for _ in 0..<count { items.append((chance(20) ? "!" : "") + pick(Self.patterns)) }
            return keywordSpelling("Host") + pick([" ", "="]) + items.joined(separator: " ")
        case 5: return "Match " + pick(["host", "HOST", "!host"]) + " " + pick(Self.listPatterns)
        case 6: return "Match originalhost " + pick(Self.listPatterns) + pick(["", " user alice,bob"])
        case 7:
            return "Match " + pick(["user", "!user"]) + " " + pick(["alice", "bob*", "root", "*", "d?ploy"])
        case 8: return "Match " + pick(["all", "final", "final host *.internal", "!final", "final all"])
        default: return "Host *"
        }
    }

    mutating func block() -> [String] {
        var lines = [header()]
        for _ in 0..<(1 + Int(next() % 4)) { lines.append(settingLine()) }
        if chance(15) { lines.append(pick(["# a comment", "", "   ", "\t# indented comment"])) }
        return lines
    }

    mutating func makeCase(index: Int) -> (config: String, host: String, includes: [(String, String)]) {
        var lines: [String] = []
        var includes: [(String, String)] = []
        for _ in 0..<Int(next() % 3) { lines.append(settingLine()) }
        for blockIndex in 0..<(1 + Int(next() % 5)) {
            lines += block()
            if chance(20) {
                let name = "inc-\(index)-\(blockIndex).conf"
                var included: [String] = []
                for _ in 0..<(1 + Int(next() % 3)) { included.append(settingLine()) }
                if chance(50) { included += block() }
                includes.append((name, included.joined(separator: "\n") + "\n"))
                lines.append(
                    keywordSpelling("Include") + " "
                        + pick([name, "inc-\(index)-*.conf", "missing-\(index)-*", "~/.ssh/\(name)"]))
            }
        }
        return (lines.joined(separator: "\n") + "\n", pick(Self.hosts), includes)
    }
}
