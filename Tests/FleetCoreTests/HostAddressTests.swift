import Testing

@testable import FleetCore

/// IPv6 literals: one spelling kept, brackets wherever a port follows (issue 11).
@Suite struct HostAddressTests {
    @Test(arguments: [
        ("::1", 22, "[::1]:22"), ("fe80::1%eth0", 2222, "[fe80::1%eth0]:2222"),
        ("127.0.0.1", 2222, "127.0.0.1:2222"), ("runner.example", 22, "runner.example:22"),
    ])
    func display(_ host: String, _ port: Int, _ shown: String) {
        #expect(HostAddress.display(host: host, port: port) == shown)
    }

    @Test(arguments: [
        ("::1", "::1"), ("[::1]", "::1"), ("[0:0:0:0:0:0:0:1]", "::1"), ("2001:DB8::A", "2001:db8::a"),
        ("[FE80::1%eth0]", "fe80::1%eth0"), ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"), ("Runner.Example", "Runner.Example"), ("alias", "alias"),
    ])
    func canonical(_ host: String, _ expected: String) {
        #expect(HostAddress.canonical(host) == expected)
    }

    @Test(arguments: [
        "[::1", "::1]", "[]", "[box]", "[127.0.0.1]", "[::1]:22", "::1:22:", "1:2:3", "box:22", "::g",
        "fe80::1%", "[[::1]]",
    ])
    func malformed(_ host: String) {
        #expect(HostAddress.canonical(host) == nil)
    }

    /// What OpenSSH looks up in known_hosts (sshconnect.c `put_host_port`): the bare address on
    /// port 22, else `[address]:port`.
    @Test func knownHostsField() {
        #expect(HostPatterns.hostField(host: "::1", port: 22) == "::1")
        #expect(HostPatterns.hostField(host: "::1", port: 2222) == "[::1]:2222")
    }
}
