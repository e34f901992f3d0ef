#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few file-system operations the tool needs, on POSIX calls, with atomic replacement for every
/// state file it writes: a crash leaves either the old file or the new one, never half of one.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Reads a whole regular file, refusing anything larger than `limit` bytes.
    public static func readBytes(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return nil }
        }
        return bytes
    }

    public static func readText(_ path: String, limit: Int = 64 << 20) -> String? {
        readBytes(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Creates `path` and its parents with `mode`; existing directories are fine. For a user's own
    /// files (`init`); the tool's state and output directories go through `secureDirectory`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(FleetError) {
        if isDirectory(path) { return }
        let parent = PosixPath.dirname(path)
        if parent != path, !parent.isEmpty, parent != "." { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0, errno != EEXIST {
            throw FleetError(.ioError, "cannot create directory \(path): \(errorText())")
        }
    }

    /// Replaces `path` atomically: writes a temporary file in the same directory (created with
    /// `O_EXCL | O_NOFOLLOW`, so it is always a new file and never reached through a planted link),
    /// fsyncs it, renames it over `path` and fsyncs the directory. Readers see the old or the new
    /// content and nothing between; a symlink at `path` is replaced itself, its target untouched.
    public static func writeAtomically(_ path: String, bytes: [UInt8], mode: mode_t = 0o644)
        throws(FleetError)
    {
        let directory = PosixPath.dirname(path)
        let temporary =
            "\(directory)/.\(PosixPath.basename(path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FleetError(.ioError, "cannot write \(path): \(errorText())") }
        var failure: String?
        var offset = 0
        while offset < bytes.count, failure == nil {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno != EINTR { failure = errorText() }
            } else {
                offset += written
            }
        }
        if failure == nil, fchmod(fd, mode) != 0 { failure = errorText() }
        if failure == nil, fsync(fd) != 0 { failure = errorText() }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = errorText() }
        if let failure {
            unlink(temporary)
            throw FleetError(.ioError, "cannot write \(path): \(failure)")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    public static func writeAtomically(_ path: String, text: String, mode: mode_t = 0o644) throws(FleetError)
    {
        try writeAtomically(path, bytes: Array(text.utf8), mode: mode)
    }

    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func homeDirectory() -> String {
        if let home = getenv("HOME"), home.pointee != 0 { return String(cString: home) }
        if let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { return String(cString: dir) }
        return "/"
    }

    /// Expands `~`, makes the path absolute and resolves symlinks for the parts that exist
    /// (Python's non-strict `realpath`, reference §0.6).
    public static func resolve(_ path: String, relativeTo base: String? = nil) -> String {
        var expanded = path
        if expanded == "~" {
            expanded = homeDirectory()
        } else if expanded.hasPrefix("~/") {
            expanded = homeDirectory() + String(expanded.dropFirst(1))
        }
        if !expanded.hasPrefix("/") { expanded = (base ?? currentDirectory()) + "/" + expanded }
        // Component by component, as Python's `realpath`: each existing prefix has its symlinks
        // resolved, and `..` drops the last component even when the parts before it do not exist.
        var resolved = "/"
        for part in PosixPath.normalize(expanded).split(separator: "/") {
            if part == ".." {
                resolved = PosixPath.dirname(resolved)
                continue
            }
            resolved = PosixPath.join(resolved, String(part))
            if let real = realpath(resolved, nil) {
                resolved = String(cString: real)
                free(real)
            }
        }
        return resolved
    }

    /// `resolve` for a file about to be replaced: symlinks in its directory are resolved, the last
    /// component is kept as it is, so a link planted there is replaced, never followed.
    public static func resolveParent(_ path: String, relativeTo base: String? = nil) -> String {
        let name = PosixPath.basename(path)
        guard !name.isEmpty, name != ".", name != ".." else { return resolve(path, relativeTo: base) }
        let directory = path.contains("/") ? PosixPath.dirname(path) : "."
        return PosixPath.join(resolve(directory, relativeTo: base), name)
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Pure POSIX path arithmetic for remote paths, which are never resolved locally (§0.6).
public enum PosixPath {
    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let head = String(path[..<slash])
        if head.isEmpty { return "/" }
        let trimmed = head.replacingTrailingSlashes()
        return trimmed.isEmpty ? "/" : trimmed
    }

    public static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Joins with one `/`; an absolute second part replaces the first (as `posixpath.join`).
    public static func join(_ base: String, _ part: String) -> String {
        if part.hasPrefix("/") { return part }
        if base.isEmpty { return part }
        return base.hasSuffix("/") ? base + part : base + "/" + part
    }

    /// Collapses duplicate slashes and `.` segments; keeps `..` (remote paths are not resolved).
    public static func normalize(_ path: String) -> String {
        if path.isEmpty { return "." }
        let absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        let body = parts.joined(separator: "/")
        if absolute { return "/" + body }
        return body.isEmpty ? "." : body
    }

    /// The file name without its last extension (`chain.yaml` → `chain`, `.hidden` stays).
    public static func stem(_ path: String) -> String {
        let name = basename(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }
}

extension String {
    fileprivate func replacingTrailingSlashes() -> String {
        var result = self
        while result.count > 1, result.hasSuffix("/") { result.removeLast() }
        return result
    }
}
