#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The checks that keep a root cron job from being steered by another local user through the
/// files it writes: directories no one else can write to, lock files that are ours and never
/// reached through a link. Every file the tool creates goes through these and `writeAtomically`.
extension FileSystem {
    /// Who may own a directory the tool writes into.
    public enum DirectoryTrust: Sendable {
        /// The tool's own state (markers, locks, deploy directories): it must be ours.
        case ours
        /// An output directory the user chose (the Prometheus textfile directory): ours, or
        /// another user's that neither its group nor anyone else can write. A sticky directory
        /// (`/tmp`) is accepted as it is: no one can remove or rename our file there, and we only
        /// replace files atomically.
        case output
    }

    /// Makes sure `path` is a directory that only we (or, for `.output`, its owner) can change,
    /// creating it (and missing parents) with `createMode`. Every existing directory from below
    /// `base` down to `path` is checked (only `path` without `base`): one of ours that its group or
    /// others can write is repaired (those bits removed); a symlink, a non-directory or another
    /// user's directory is refused with a message naming the path, owner and mode.
    public static func secureDirectory(
        _ path: String, below base: String? = nil, createMode: mode_t = 0o700, trust: DirectoryTrust = .ours
    ) throws(FleetError) {
        let parent = PosixPath.dirname(path)
        let base = base.map { PosixPath.normalize($0) }
        if let base, parent != path, parent.count > base.count,
            parent.hasPrefix(base == "/" ? "/" : base + "/")
        {
            try secureDirectory(parent, below: base, createMode: createMode, trust: trust)
        } else if !isDirectory(path), parent != path, parent != "." {
            try makeDirectories(parent, mode: createMode)
        }
        if mkdir(path, createMode) != 0, errno != EEXIST {
            throw FleetError(.ioError, "cannot create directory \(path): \(errorText())")
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = errno == ELOOP || errno == ENOTDIR ? unsafeKind(path) : errorText()
            throw FleetError(.ioError, "refusing directory \(path): \(reason)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw FleetError(.ioError, "cannot inspect directory \(path): \(errorText())")
        }
        let sharedWrite = info.st_mode & (S_IWGRP | S_IWOTH)
        if trust == .output, sharedWrite == 0 || info.st_mode & S_ISVTX != 0 { return }
        if info.st_uid != geteuid() {
            throw FleetError(
                .ioError,
                "refusing directory \(path): owned by \(ownerText(info.st_uid)) with mode \(modeText(info.st_mode)), "
                    + "not by \(ownerText(geteuid())); another user could replace what we write there")
        }
        if sharedWrite != 0, fchmod(descriptor, info.st_mode & 0o7777 & ~(S_IWGRP | S_IWOTH)) != 0 {
            throw FleetError(
                .ioError,
                "cannot remove group/other write from directory \(path) (mode \(modeText(info.st_mode))): \(errorText())"
            )
        }
    }

    /// Opens (creating with mode 0600) a lock file without following a link and without
    /// truncating it, refusing one that is not a regular file of ours with a single link; group
    /// and other access is removed, so no one else can open it to hold its `flock`.
    public static func openLockFile(_ path: String) throws(FleetError) -> Int32 {
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == ELOOP ? unsafeKind(path) : errorText()
            throw FleetError(.ioError, "cannot open lock file \(path): \(reason)")
        }
        var info = stat()
        var refusal: String?
        if fstat(descriptor, &info) != 0 {
            refusal = errorText()
        } else if info.st_mode & S_IFMT != S_IFREG {
            refusal = "not a regular file"
        } else if info.st_uid != geteuid() {
            refusal = "owned by \(ownerText(info.st_uid)), not by \(ownerText(geteuid()))"
        } else if info.st_nlink != 1 {
            refusal = "it has \(info.st_nlink) hard links"
        } else if info.st_mode & 0o077 != 0, fchmod(descriptor, 0o600) != 0 {
            refusal = "cannot make it private: \(errorText())"
        }
        if let refusal {
            close(descriptor)
            throw FleetError(.ioError, "refusing lock file \(path): \(refusal)")
        }
        return descriptor
    }

    private static func unsafeKind(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errorText() }
        switch info.st_mode & S_IFMT {
        case S_IFLNK: return "it is a symbolic link (not followed)"
        case S_IFDIR: return "it is a directory"
        default: return "not a directory"
        }
    }

    static func ownerText(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }

    static func modeText(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
