import FleetCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP relay on loopback that holds every chunk `oneWayDelay` before forwarding it, in each
/// direction: a round trip through it costs twice the delay (ssh-bench and fleet-bench both use it). One
/// thread per direction per connection; the relay's own connect to the target is immediate.
public final class LatencyRelay: Sendable {
    public let port: Int
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)

    public init(targetPort: Int, oneWayDelay: Duration) throws {
        let (listener, port) = try Loopback.bind()
        self.listener = listener
        self.port = port
        listen(listener, 256)
        let delay = oneWayDelay
        Thread.detachNewThread { [self] in
            while !self.stopped.load(ordering: .relaxed) {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if self.stopped.load(ordering: .relaxed) { return }
                    continue
                }
                guard let upstream = Loopback.connect(port: targetPort) else {
                    close(client)
                    continue
                }
                for fd in [client, upstream] {
                    var on: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                }
                let pair = Pair(a: client, b: upstream)
                Thread.detachNewThread { Self.pump(from: client, to: upstream, delay: delay, pair: pair) }
                Thread.detachNewThread { Self.pump(from: upstream, to: client, delay: delay, pair: pair) }
            }
        }
    }

    /// Closes both sockets once both directions have finished.
    final class Pair: Sendable {
        let a: Int32
        let b: Int32
        let finished = Atomic<Int>(0)

        init(a: Int32, b: Int32) {
            self.a = a
            self.b = b
        }

        func done() {
            if finished.add(1, ordering: .acquiringAndReleasing).newValue == 2 {
                close(a)
                close(b)
            }
        }
    }

    static func pump(from source: Int32, to destination: Int32, delay: Duration, pair: Pair) {
        var queue: [(due: ContinuousClock.Instant, bytes: [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        var sourceOpen = true
        while sourceOpen || !queue.isEmpty {
            let now = ContinuousClock.now
            while let first = queue.first, first.due <= now {
                var offset = 0
                var failed = false
                while offset < first.bytes.count {
                    let n = first.bytes.withUnsafeBytes {
                        write(destination, $0.baseAddress! + offset, $0.count - offset)
                    }
                    if n <= 0 {
                        failed = true
                        break
                    }
                    offset += n
                }
                if failed {
                    sourceOpen = false
                    queue.removeAll()
                } else {
                    queue.removeFirst()
                }
            }
            var timeout: Int32 = -1
            if let first = queue.first {
                let wait = first.due - ContinuousClock.now
                timeout = max(0, Int32((wait.secondsDouble * 1000).rounded(.up)))
            }
            if !sourceOpen {
                if let first = queue.first {
                    let wait = first.due - ContinuousClock.now
                    if wait > .zero { usleep(UInt32(max(0, wait.secondsDouble * 1e6))) }
                }
                continue
            }
            var fds = pollfd(fd: source, events: Int16(POLLIN), revents: 0)
            if poll(&fds, 1, timeout) > 0 {
                let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if n <= 0 {
                    sourceOpen = false
                } else {
                    queue.append((ContinuousClock.now + delay, Array(buffer[0..<n])))
                }
            }
        }
        shutdown(destination, Int32(SHUT_WR))
        pair.done()
    }

    /// Round trip through the relay in ms, from an SSH banner: connect (local, the relay accepts
    /// at once), read the server banner, which comes back after one delayed leg plus the relay's
    /// local connect; reports twice the one-way delay seen.
    public func measureRTT() -> Double {
        let start = ContinuousClock.now
        guard let fd = Loopback.connect(port: port) else { return .infinity }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return (ContinuousClock.now - start).secondsDouble * 1000 * 2
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
