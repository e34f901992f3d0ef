import CLibSSH2
import Foundation
import Locks

/// One address `getaddrinfo` returned, copied out of its list so it can cross threads.
struct SSHResolvedAddress: Sendable {
    var family: Int32
    var socketType: Int32
    var socketProtocol: Int32
    var address: [UInt8]
}

/// A name lookup the connection thread can stop waiting for.
///
/// `getaddrinfo` cannot be interrupted: against a resolver that never answers it blocks for the
/// resolver's whole retry schedule (10 s to 90 s), and a connection thread blocked in it could
/// neither meet the project's deadline nor let the pool shut down (the fleet lock stayed held,
/// SIGTERM waited). So the lookup runs on a detached thread of its own, and the connection thread
/// waits on `readyFD` together with its wake-up descriptor, up to its deadline. A result that
/// comes too late is dropped by the lookup thread, which owns nothing anyone waits for.
final class SSHNameLookup: Sendable {
    enum Outcome: Sendable {
        case resolved([SSHResolvedAddress])
        /// getaddrinfo's error code.
        case failed(Int32)
    }

    /// Readable once the outcome is ready. Closed when the last holder (the lookup thread or the
    /// connection) lets go of this object, so a late lookup never writes to a reused descriptor.
    let readyFD: Int32
    private let outcome = Locked<Outcome?>(nil)
    private let host: String
    private let port: String

    private init?(host: String, port: Int) {
        let fd = mpf_eventfd()
        if fd < 0 { return nil }
        readyFD = fd
        self.host = host
        self.port = String(port)
    }

    deinit { close(readyFD) }

    /// Starts the lookup on a detached thread; nil when no descriptor or thread is available.
    static func start(host: String, port: Int) -> SSHNameLookup? {
        guard let lookup = SSHNameLookup(host: host, port: port) else { return nil }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // The thread holds its own reference: the object (and readyFD) outlives a connection that
        // stopped waiting.
        let raw = Unmanaged.passRetained(lookup).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { argument in
                Unmanaged<SSHNameLookup>.fromOpaque(argument!).takeRetainedValue().resolve()
                return nil
            }, raw)
        if rc != 0 {
            Unmanaged<SSHNameLookup>.fromOpaque(raw).release()
            return nil
        }
        return lookup
    }

    /// The outcome, once `readyFD` is readable.
    var result: Outcome? { outcome.withLock { $0 } }

    private func resolve() {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let code = getaddrinfo(host, port, &hints, &list)
        var addresses: [SSHResolvedAddress] = []
        var cursor = code == 0 ? list : nil
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let address = info.pointee.ai_addr else { continue }
            addresses.append(
                SSHResolvedAddress(
                    family: info.pointee.ai_family, socketType: info.pointee.ai_socktype,
                    socketProtocol: info.pointee.ai_protocol,
                    address: Array(
                        UnsafeRawBufferPointer(start: address, count: Int(info.pointee.ai_addrlen)))))
        }
        if let list { freeaddrinfo(list) }
        outcome.withLock { $0 = code == 0 ? .resolved(addresses) : .failed(code) }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(readyFD, $0.baseAddress, 8) }
    }
}
