import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh directory under the system temporary directory, removed with its content on deinit.
/// Its path is already resolved (no symlinks), so tests can compare resolved paths literally.
final class TempDir: Sendable {
    let path: String

    init() {
        var template = Array("/tmp/fleetcore-tests-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        let raw = String(
            decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let real = realpath(raw, nil) {
            path = String(cString: real)
            free(real)
        } else {
            path = raw
        }
    }

    deinit { TempDir.removeTree(path) }

    /// Writes `text` to `name` (relative to the directory, parents created) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let full = path + "/" + name
        let parent = String(full[..<full.lastIndex(of: "/")!])
        try! FileSystem.makeDirectories(parent)
        try! FileSystem.writeAtomically(full, text: text)
        return full
    }

    func makeDirectory(_ name: String) -> String {
        let full = path + "/" + name
        try! FileSystem.makeDirectories(full)
        return full
    }

    /// Names in a directory, excluding `.` and `..`.
    static func list(_ directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Permission bits of a path (`0o600`, ...).
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return info.st_mode & 0o7777
    }
}

/// The error a throwing body ends with, or nil when it succeeds.
func failure<T>(_ body: () throws -> T) -> FleetError? {
    do {
        _ = try body()
        return nil
    } catch let error as FleetError {
        return error
    } catch {
        return FleetError(FleetError.Code(rawValue: "unexpected"), "\(error)")
    }
}

/// One YAML validation case: the file text, the expected error code, the `line:col` of the node
/// the message points at (nil when no node location exists) and the reference's wording.
struct YAMLErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let yaml: String
    let code: FleetError.Code
    let location: String?
    let text: String

    init(
        _ name: String, _ yaml: String, _ location: String?, _ text: String,
        code: FleetError.Code = .invalidSpec
    ) {
        self.name = name
        self.yaml = yaml
        self.code = code
        self.location = location
        self.text = text
    }

    var testDescription: String { name }

    /// The full error expected when the YAML sits at `path`.
    func expected(path: String) -> FleetError {
        FleetError(code, (location.map { "\(path):\($0)" } ?? path) + ": " + text)
    }
}

/// Spawns `/bin/sh -c script` and returns its exit status and standard output.
func runShell(_ script: String) -> (status: Int32, output: [UInt8]) {
    var pipeEnds: [Int32] = [0, 0]
    precondition(pipe(&pipeEnds) == 0)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
    let arguments = ["/bin/sh", "-c", script]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ)
    close(pipeEnds[1])
    precondition(spawned == 0, "posix_spawn failed: \(spawned)")
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        output.append(contentsOf: buffer[0..<count])
    }
    close(pipeEnds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return ((status >> 8) & 0xff, output)
}
