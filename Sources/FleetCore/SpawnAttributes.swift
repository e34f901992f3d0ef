#if canImport(Glibc)
    import Glibc
#endif

/// posix_spawn attributes for a child that starts clean, whatever this process did to its own
/// signals (SIGPIPE ignored, SIGTERM watched, signals blocked on the calling thread).
public enum SpawnAttributes {
    /// Sets initialised `attributes` so the child has no signal blocked and every signal at its
    /// default action; with `newGroup`, it leads a process group of its own (so the whole group
    /// can be killed).
    public static func clean(_ attributes: inout posix_spawnattr_t, newGroup: Bool) {
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newGroup {
            flags |= Int16(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, flags)
    }
}
