import Locks

#if canImport(Glibc)
    import Glibc
#endif

/// Warnings about input this tool accepts as the reference does but a person should fix (a
/// duplicate key in cloud.yaml). Each goes to stderr once per process, whatever the number of
/// times the file is read, redacted like every other output.
public enum Diagnostics {
    private static let printed = Locked<Set<String>>([])
    /// Distinct warnings remembered for de-duplication; past this many (a long fuzzing run) each
    /// is printed again rather than the set growing without bound.
    static let rememberedLimit = 1024

    public static func warn(_ message: String) {
        let line = "warning: " + Redactor.shapesOnly.redact(message) + "\n"
        let isNew = printed.withLock { printed in
            if printed.contains(line) { return false }
            if printed.count < rememberedLimit { printed.insert(line) }
            return true
        }
        guard isNew else { return }
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
