import CLibSSH2
import Foundation

/// The network half of `doctor`: the name lookup, the TCP connect and the server's banner of one
/// endpoint, each timed, outside the pool (whose connections do the same steps without saying
/// how long each took). Runs on a thread of its own: it waits in `poll`, never in the
/// cooperative pool.
public struct SSHReachability: Sendable, Equatable {
    /// The addresses the name resolved to, in the resolver's order.
    public var addresses: [String] = []
    public var lookupTime: Duration?
    public var connectTime: Duration?
    /// The server's first line (`SSH-2.0-…`).
    public var banner: String?
    /// The first step that failed and why; nil when all three worked.
    public var problem: String?

    /// Probes `endpoint`, each step bounded by what is left of `timeout`.
    public static func probe(_ endpoint: SSHEndpoint, timeout: Duration) async -> SSHReachability {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: probeBlocking(endpoint, deadline: .now + timeout))
            }
        }
    }

    private static func probeBlocking(_ endpoint: SSHEndpoint, deadline: ContinuousClock.Instant)
        -> SSHReachability
    {
        var result = SSHReachability()
        let started = ContinuousClock.now
        guard let lookup = SSHNameLookup.start(host: endpoint.host, port: endpoint.port) else {
            result.problem = "cannot start a name lookup: \(String(cString: strerror(errno)))"
            return result
        }
        guard wait(lookup.readyFD, events: Int16(POLLIN), until: deadline), let outcome = lookup.result else {
            result.problem = "name lookup of \(endpoint.host) did not finish in time"
            return result
        }
        result.lookupTime = .now - started
        guard case .resolved(let addresses) = outcome, !addresses.isEmpty else {
            if case .failed(let code) = outcome {
                result.problem = "cannot resolve \(endpoint.host): \(String(cString: gai_strerror(code)))"
            } else {
                result.problem = "\(endpoint.host) resolved to no address"
            }
            return result
        }
        result.addresses = addresses.map(\.text)
        let connecting = ContinuousClock.now
        var problem = "no address"
        for address in addresses {
            let fd = socket(
                address.family, address.socketType | Int32(SOCK_CLOEXEC.rawValue), address.socketProtocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            _ = mpf_set_nonblocking(fd)
            let rc = address.address.withUnsafeBytes { raw in
                connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
            guard rc == 0 || errno == EINPROGRESS else {
                problem = "connect to \(address.text): \(String(cString: strerror(errno)))"
                continue
            }
            guard wait(fd, events: Int16(POLLOUT), until: deadline) else {
                problem = "connect to \(address.text) did not finish in time"
                break
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            guard soError == 0 else {
                problem = "connect to \(address.text): \(String(cString: strerror(soError)))"
                continue
            }
            result.connectTime = .now - connecting
            switch readLine(fd, until: deadline) {
            case .success(let line): result.banner = line
            case .failure(let why): result.problem = "no SSH banner from \(address.text): \(why.message)"
            }
            return result
        }
        result.problem = problem
        return result
    }

    private struct ReadFailure: Error {
        var message: String
    }

    /// The first line the server sends (at most 255 bytes, RFC 4253 §4.2), without its CR LF.
    private static func readLine(_ fd: Int32, until deadline: ContinuousClock.Instant) -> Result<
        String, ReadFailure
    > {
        var bytes: [UInt8] = []
        while bytes.count < 255 {
            guard wait(fd, events: Int16(POLLIN), until: deadline) else {
                return .failure(ReadFailure(message: "nothing arrived in time"))
            }
            var byte: UInt8 = 0
            let count = recv(fd, &byte, 1, 0)
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            guard count == 1 else { return .failure(ReadFailure(message: "the connection was closed")) }
            if byte == 0x0A { break }
            if byte != 0x0D { bytes.append(byte) }
        }
        let line = String(decoding: bytes, as: UTF8.self)
        return line.hasPrefix("SSH-") ? .success(line) : .failure(ReadFailure(message: "got \"\(line)\""))
    }

    /// Whether `fd` became ready before `deadline`.
    private static func wait(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - .now
            guard left > .zero else { return false }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(min(left / .milliseconds(1), 60_000).rounded(.up))
            let rc = poll(&pfd, 1, max(1, milliseconds))
            if rc > 0 { return true }
            if rc < 0, errno != EINTR { return false }
        }
    }
}

extension SSHResolvedAddress {
    /// The numeric address (`127.0.0.1`, `::1`).
    var text: String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let rc = address.withUnsafeBytes { raw in
            getnameinfo(
                raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count), &host,
                socklen_t(host.count), nil, 0, NI_NUMERICHOST)
        }
        guard rc == 0 else { return "?" }
        return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
