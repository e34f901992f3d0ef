import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// CPU time of a set of processes and all their descendants, exited ones included: a cgroup v1
/// `cpuacct` group (root only). Used for the runner side (the sshd hosts and every command they
/// run), which /proc cannot attribute once the short-lived commands are gone. Without the cgroup
/// file system, `seconds` is nil and the figure is left out.
public final class CPUAccount: Sendable {
    private let path: String?

    public init(name: String) {
        let root = "/sys/fs/cgroup/cpuacct"
        let candidate = "\(root)/\(name)"
        if geteuid() == 0, FileSystem.isDirectory(root), mkdir(candidate, 0o755) == 0 || errno == EEXIST,
            FileSystem.isRegularFile(candidate + "/cpuacct.usage")
        {
            path = candidate
        } else {
            path = nil
        }
    }

    /// Moves `pid` into the group; processes it starts afterwards belong to it too.
    public func add(_ pid: pid_t) {
        guard let path else { return }
        let fd = open(path + "/cgroup.procs", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let text = "\(pid)\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    /// CPU seconds used by the group so far.
    public var seconds: Double? {
        guard let path, let text = FileSystem.readText(path + "/cpuacct.usage"),
            let nanoseconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return nanoseconds / 1e9
    }

    /// Removes the group (after its processes have exited).
    public func remove() {
        guard let path else { return }
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(20_000)
        }
    }
}
