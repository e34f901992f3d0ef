import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Sockets a test owns, found by the ports of the servers it started: unlike the process's
/// descriptor count, no other test running beside it changes this figure.
public enum OwnedSockets {
    /// Sockets of this process connected to one of `ports` (client side: the local port is not
    /// one of them), from /proc/self/fd and /proc/net/tcp{,6}.
    public static func connected(toPorts ports: Set<Int>) -> Int {
        var inodes = Set<String>()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            var buffer = [CChar](repeating: 0, count: 256)
            let count = readlink("/proc/self/fd/\(name)", &buffer, buffer.count - 1)
            guard count > 0 else { continue }
            let target = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("socket:[") { inodes.insert(String(target.dropFirst(8).dropLast())) }
        }
        var count = 0
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for row in (FileSystem.readText(table) ?? "").split(separator: "\n").dropFirst() {
                let fields = row.split(separator: " ")
                guard fields.count > 9, inodes.contains(String(fields[9])) else { continue }
                func port(_ field: Substring) -> Int {
                    Int(field.split(separator: ":").last ?? "", radix: 16) ?? -1
                }
                if ports.contains(port(fields[2])), !ports.contains(port(fields[1])) { count += 1 }
            }
        }
        return count
    }
}
