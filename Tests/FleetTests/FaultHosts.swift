import BenchSupport
import FleetCore
import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP listener on 127.0.0.1 that misbehaves as an SSH server, driven by one poll() thread:
/// - `.silent`: accepts every connection and never sends a byte (no SSH banner);
/// - `.dropAfter(bytes:targetPort:)`: a proxy to a real sshd that forwards everything the client
///   sends but only the first `bytes` of the server's answer, then closes both sides (the
///   connection drops in the middle of the key exchange).
/// Every descriptor is close-on-exec (set right after it is made), so programs spawned by the
/// tests do not inherit them.
final class FaultListener: Sendable {
    enum Mode: Sendable {
        case silent
        case dropAfter(bytes: Int, targetPort: Int)
    }

    let port: Int
    let mode: Mode
    private let listener: Int32
    private let wake: (read: Int32, write: Int32)
    private let stopped = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    /// Connections accepted so far (tests assert the client really got this far).
    var accepted: Int { acceptedCount.load(ordering: .relaxed) }
    private let acceptedCount = Atomic<Int>(0)

    init(_ mode: Mode) throws {
        self.mode = mode
        let (fd, port) = try Loopback.bind()
        guard listen(fd, 64) == 0 else {
            close(fd)
            throw BenchError("listen failed")
        }
        self.port = port
        listener = fd
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(fd)
            throw BenchError("pipe failed")
        }
        for descriptor in pipeFDs { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        wake = (pipeFDs[0], pipeFDs[1])
        Thread.detachNewThread { [self] in self.loop() }
    }

    deinit { stop() }

    /// Stops the thread and closes every socket (idempotent); returns once they are closed.
    func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) == false {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
        for _ in 0..<500 {
            if finished.load(ordering: .acquiring) { return }
            usleep(2_000)
        }
    }

    private struct Link {
        var client: Int32
        var server: Int32  // -1 for the silent mode
        var forwarded = 0
    }

    private func loop() {
        var links: [Link] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        func closeLink(_ index: Int) {
            close(links[index].client)
            if links[index].server >= 0 { close(links[index].server) }
            links.remove(at: index)
        }
        while !stopped.load(ordering: .acquiring) {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
            ]
            for link in links {
                // A silent listener reads (and drops) what the client sends, so it never blocks it.
                fds.append(pollfd(fd: link.client, events: Int16(POLLIN), revents: 0))
                if link.server >= 0 { fds.append(pollfd(fd: link.server, events: Int16(POLLIN), revents: 0)) }
            }
            let n = poll(&fds, nfds_t(fds.count), 200)
            if n <= 0 { continue }
            if fds[1].revents != 0 { break }
            // Walk the links backwards so closing one does not shift the ones still to visit.
            var slot = fds.count
            for index in links.indices.reversed() {
                let hasServer = links[index].server >= 0
                slot -= hasServer ? 2 : 1
                let clientEvents = fds[slot].revents
                let serverEvents = hasServer ? fds[slot + 1].revents : 0
                var drop = false
                if clientEvents != 0 {
                    let count = buffer.withUnsafeMutableBytes {
                        read(links[index].client, $0.baseAddress, $0.count)
                    }
                    if count <= 0 {
                        drop = true
                    } else if hasServer {
                        _ = buffer.withUnsafeBytes { write(links[index].server, $0.baseAddress, count) }
                    }
                }
                if !drop, serverEvents != 0, case .dropAfter(let limit, _) = mode {
                    let count = buffer.withUnsafeMutableBytes {
                        read(links[index].server, $0.baseAddress, $0.count)
                    }
                    if count <= 0 {
                        drop = true
                    } else {
                        let allowed = min(count, max(0, limit - links[index].forwarded))
                        if allowed > 0 {
                            _ = buffer.withUnsafeBytes { write(links[index].client, $0.baseAddress, allowed) }
                            links[index].forwarded += allowed
                        }
                        if links[index].forwarded >= limit { drop = true }
                    }
                }
                if drop { closeLink(index) }
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    acceptedCount.add(1, ordering: .relaxed)
                    switch mode {
                    case .silent: links.append(Link(client: client, server: -1))
                    case .dropAfter(_, let targetPort):
                        if let server = Loopback.connect(port: targetPort) {
                            links.append(Link(client: client, server: server))
                        } else {
                            close(client)
                        }
                    }
                }
            }
        }
        while !links.isEmpty { closeLink(links.count - 1) }
        close(listener)
        close(wake.read)
        close(wake.write)
        finished.store(true, ordering: .releasing)
    }
}

/// What the process table and the file system say after a run.
enum LeakProbe {
    /// PIDs of live processes whose environment holds `KEY=value` (children inherit it, so this
    /// finds whatever a run left behind, whoever adopted it).
    static func processes(withEnvironment entry: String) -> [pid_t] {
        let needle = Array(entry.utf8)
        var found: [pid_t] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), pid != getpid(),
                let bytes = FileSystem.readBytes("/proc/\(name)/environ")
            else { continue }
            let state = FileSystem.readText("/proc/\(name)/stat") ?? ""
            if let close = state.lastIndex(of: ")"), state[state.index(after: close)...].hasPrefix(" Z") {
                continue  // a zombie holds no resources; its parent reaps it
            }
            if bytes.split(separator: 0).contains(where: { Array($0) == needle }) { found.append(pid) }
        }
        return found
    }

    /// Every regular file under `root`, recursively (symbolic links not followed).
    static func files(under root: String) -> [String] {
        var result: [String] = []
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        while let relative = enumerator.nextObject() as? String {
            let path = root + "/" + relative
            var info = stat()
            if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG { result.append(path) }
        }
        return result
    }

    /// Windows of `secret` that are long enough to identify it (and short enough to catch a
    /// value cut in half by a truncation before redaction).
    static func fragments(of secret: String, length: Int = 8) -> [String] {
        let characters = Array(secret)
        guard characters.count > length else { return [secret] }
        return (0...(characters.count - length)).map { String(characters[$0..<($0 + length)]) }
    }

    /// The first fragment of `secret` found in `text`, if any.
    static func leak(of secret: String, in text: String) -> String? {
        fragments(of: secret).first { text.contains($0) }
    }

    static func descriptorCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    /// What each open descriptor of this process refers to (for messages).
    static func descriptors() -> [Int: String] {
        var result: [Int: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let fd = Int(name) else { continue }
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = readlink("/proc/self/fd/\(name)", &buffer, buffer.count - 1)
            result[fd] =
                count > 0
                ? String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        }
        return result
    }

    static func threadCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).count
    }
}
