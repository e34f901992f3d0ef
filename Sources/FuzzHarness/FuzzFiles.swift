import FleetCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Corpus files on disk, for the replay tool and the replay test.
public enum FuzzFiles {
    /// `path` itself for a file; for a directory, its regular files (not recursive), sorted by name.
    public static func list(_ path: String) -> [String] {
        guard FileSystem.isDirectory(path) else { return [path] }
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            let full = PosixPath.join(path, name)
            if FileSystem.isRegularFile(full) { names.append(full) }
        }
        return names.sorted()
    }

    public static func read(_ path: String) -> [UInt8]? { FileSystem.readBytes(path) }
}
