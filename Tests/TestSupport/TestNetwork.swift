import BenchSupport
import Foundation

/// A private IPv4 network of hosts, each a network namespace (`ip netns`) with its own address,
/// joined by a bridge in a namespace of its own; this process reaches it as `clientAddress`
/// through one veth pair. `rejectClient` makes a route that only the other hosts have (the host's
/// firewall refuses this process), so a connection that works went through one of them.
/// Needs root, `ip` and `iptables` (scripts/install-deps.sh).
public struct TestNetwork: Sendable {
    /// `10.213.N`, N random, so that networks of test processes running at once do not collide.
    public let prefix: String
    public var clientAddress: String { prefix + ".1" }
    private let tag: String

    public init() throws {
        tag = "mpf" + String(UInt32.random(in: 0..<(1 << 24)), radix: 16)
        prefix = "10.213.\(Int.random(in: 20..<250))"
        do {
            try Self.ip(["netns", "add", lan])
            try Self.ip(["-n", lan, "link", "add", "br0", "type", "bridge"])
            try Self.ip(["-n", lan, "link", "set", "br0", "up"])
            try Self.ip(["link", "add", tag + "c", "type", "veth", "peer", "name", "client", "netns", lan])
            try Self.ip(["addr", "add", clientAddress + "/24", "dev", tag + "c"])
            try Self.ip(["link", "set", tag + "c", "up"])
            try Self.ip(["-n", lan, "link", "set", "client", "master", "br0", "up"])
        } catch {
            remove()
            throw error
        }
    }

    private var lan: String { tag + "-lan" }

    /// Host `index` (1...200): its namespace and address, created on first use.
    public func host(_ index: Int) throws -> (namespace: String, address: String) {
        let namespace = "\(tag)-h\(index)"
        let address = "\(prefix).\(10 + index)"
        guard !FileManager.default.fileExists(atPath: "/run/netns/" + namespace) else {
            return (namespace, address)
        }
        try Self.ip(["netns", "add", namespace])
        try Self.ip([
            "-n", lan, "link", "add", "h\(index)", "type", "veth", "peer", "name", "eth0", "netns", namespace,
        ])
        try Self.ip(["-n", lan, "link", "set", "h\(index)", "master", "br0", "up"])
        try Self.ip(["-n", namespace, "addr", "add", address + "/24", "dev", "eth0"])
        try Self.ip(["-n", namespace, "link", "set", "eth0", "up"])
        try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
        return (namespace, address)
    }

    /// The host in `namespace` refuses this process's TCP connections to `port`.
    public func rejectClient(namespace: String, port: Int) throws {
        _ = try SSHServer.run([
            "/usr/sbin/ip", "netns", "exec", namespace, "/usr/sbin/iptables", "-I", "INPUT", "-s",
            clientAddress,
            "-p", "tcp", "--dport", String(port), "-j", "REJECT", "--reject-with", "tcp-reset",
        ])
    }

    /// Deletes every namespace; their links go with them, the one in this namespace a moment
    /// later, which this waits for.
    public func remove() {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        where entry.hasPrefix(tag + "-") {
            _ = try? Self.ip(["netns", "delete", entry])
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while FileManager.default.fileExists(atPath: "/sys/class/net/\(tag)c"), ContinuousClock.now < deadline
        {
            usleep(20_000)
        }
    }

    private static func ip(_ arguments: [String]) throws {
        _ = try SSHServer.run(["/usr/sbin/ip"] + arguments)
    }
}
