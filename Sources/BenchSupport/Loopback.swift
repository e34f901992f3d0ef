import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// TCP sockets on loopback (127.0.0.1, or ::1 for IPv6 tests) for the harness: its sshd ports,
/// the latency relay, the tests' misbehaving listeners. Every descriptor is close-on-exec, so
/// spawned programs do not hold it.
public enum Loopback {
    /// A socket bound to `host` on a port the kernel picked (not listening yet), and its port.
    public static func bind(host: String = "127.0.0.1") throws -> (descriptor: Int32, port: Int) {
        guard let (fd, address, addressLength) = socket(host: host, port: 0) else {
            throw BenchError("socket failed")
        }
        var bound = address
        var length = addressLength
        let ok = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw BenchError("bind to \(host) failed")
        }
        // sin_port and sin6_port sit at the same offset.
        let port = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        return (fd, Int(UInt16(bigEndian: port)))
    }

    /// A socket connected to `host`:`port`, or nil when nothing accepts there.
    public static func connect(port: Int, host: String = "127.0.0.1") -> Int32? {
        guard let (fd, address, length) = socket(host: host, port: port) else { return nil }
        var target = address
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// A TCP socket of `host`'s family (a numeric address) and the address with `port`.
    private static func socket(host: String, port: Int) -> (Int32, sockaddr_storage, socklen_t)? {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let list else { return nil }
        defer { freeaddrinfo(list) }
        let info = list.pointee
        guard let raw = info.ai_addr else { return nil }
        var address = sockaddr_storage()
        withUnsafeMutableBytes(of: &address) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(info.ai_addrlen)))
        }
        let fd = Glibc.socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        return fd >= 0 ? (fd, address, info.ai_addrlen) : nil
    }
}

extension SSHServer {
    /// A port on `host` that was free a moment ago.
    public static func freePort(host: String = "127.0.0.1") throws -> Int {
        let socket = try Loopback.bind(host: host)
        close(socket.descriptor)
        return socket.port
    }

    /// Whether something accepts TCP connections on `host`:`port`.
    public static func portAccepts(_ port: Int, host: String = "127.0.0.1") -> Bool {
        guard let fd = Loopback.connect(port: port, host: host) else { return false }
        close(fd)
        return true
    }
}
