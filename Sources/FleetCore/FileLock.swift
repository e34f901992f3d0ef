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

    /// The lock, or nil when another holder has it. Its directory is made private (see
    /// `FileSystem.secureDirectory`, checked from below `stateRoot` when given) and the file is
    /// opened by `FileSystem.openLockFile`: never through a link, never truncated, refused when it
    /// is not ours, so no other local user can plant it or hold it.
    public static func tryAcquire(_ path: String, stateRoot: String? = nil) throws(FleetError) -> FileLock? {
        try FileSystem.secureDirectory(PosixPath.dirname(path), below: stateRoot)
        let descriptor = try FileSystem.openLockFile(path)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            if failure == EINTR { continue }
            close(descriptor)
            if failure == EWOULDBLOCK { return nil }
            throw FleetError(.ioError, "cannot lock \(path): \(String(cString: strerror(failure)))")
        }
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
