#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive, non-blocking, cross-process lock on a file (`flock`). The kernel releases it when
/// the holder exits for any reason, SIGKILL included, so a crashed tick never blocks the next.
/// `flock` locks belong to the open file description, so two holders inside one process exclude
/// each other as well.
public final class FileLock: Sendable {
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// The lock, or nil when another holder has it. Errors opening the file are thrown.
    public static func tryAcquire(_ path: String) throws(FleetError) -> FileLock? {
        try FileSystem.makeDirectories(PosixPath.dirname(path), mode: 0o700)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw FleetError(.ioError, "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            if failure == EINTR { continue }
            close(descriptor)
            if failure == EWOULDBLOCK { return nil }
            throw FleetError(.ioError, "cannot lock \(path): \(String(cString: strerror(failure)))")
        }
        // Record the holder for people reading the file; the lock itself is the flock.
        let note = Array("pid \(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = note.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return FileLock(path: path, descriptor: descriptor)
    }

    /// Runs `body` holding the lock; `onBusy` runs instead when another holder has it.
    public static func withLock<T>(
        _ path: String, onBusy: () async throws -> T, _ body: () async throws -> T
    ) async throws -> T {
        guard let lock = try tryAcquire(path) else { return try await onBusy() }
        defer { lock.release() }
        return try await body()
    }

    deinit { close(descriptor) }

    /// Releases now rather than at deinit (closing the descriptor drops the flock).
    public func release() { flock(descriptor, LOCK_UN) }
}
