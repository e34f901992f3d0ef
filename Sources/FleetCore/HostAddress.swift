#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Host names as the tool keeps and prints them. An IPv6 literal is kept in one spelling, so that
/// runner claims, markers and known_hosts lookups agree whichever way cloud.yaml wrote it, and is
/// bracketed wherever a port follows it, so `::1` port 22 never reads as `::1:22`.
public enum HostAddress {
    /// `host:port`, the one form of every message, JSON line, table row and metric label:
    /// `[::1]:22` for an IPv6 literal.
    public static func display(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The canonical spelling of a host: an IPv6 literal, bracketed or not, in the compressed
    /// lower-case form ssh looks up in known_hosts (`[0:0::1]` → `::1`, a `%zone` kept); any other
    /// name unchanged. nil for what cannot be a host: brackets around anything but an IPv6 literal
    /// (a port included: ports go elsewhere), or a colon outside one.
    public static func canonical(_ host: String) -> String? {
        var literal = Substring(host)
        if literal.hasPrefix("[") || literal.hasSuffix("]") {
            guard literal.count > 2, literal.hasPrefix("["), literal.hasSuffix("]") else { return nil }
            literal = literal.dropFirst().dropLast()
            guard literal.contains(":") else { return nil }
        }
        guard literal.contains(":") else { return host }
        let parts = literal.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = ipv6Text(parts[0]) else { return nil }
        guard parts.count == 2 else { return address }
        return parts[1].isEmpty ? nil : address + "%" + parts[1]
    }

    /// inet_pton then inet_ntop: nil unless `text` is an IPv6 address.
    private static func ipv6Text(_ text: Substring) -> String? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, String(text), &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
