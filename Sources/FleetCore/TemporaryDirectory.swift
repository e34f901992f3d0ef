#if canImport(Glibc)
    import Glibc
#endif

/// Private temporary directories (mode 0700, from `mkdtemp`).
public enum TemporaryDirectory {
    public static func make(prefix: String) throws(FleetError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw FleetError(
                .ioError,
                "cannot create a temporary directory in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Removes a tree; errors are ignored (it is only ever our own scratch space). A link is
    /// removed itself, never followed, wherever it is in the tree.
    public static func remove(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0, let directory = fdopendir(descriptor) else {
            if descriptor >= 0 { close(descriptor) }
            unlink(path)
            return
        }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            remove(path + "/" + name)
        }
        closedir(directory)
        rmdir(path)
    }
}
