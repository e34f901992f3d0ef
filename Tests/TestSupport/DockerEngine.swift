import BenchSupport
import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A private Docker engine for the tests that are about Docker: `dockerd` started by hand with its
/// own data root, exec root and socket, no bridge and no iptables rules, so it touches nothing of
/// the machine's (../shared/notes/test-hosts.md). No image registry is reachable here, so runner
/// images come from `docker import` of a root file system made from this machine's own programs
/// (Tests/Fixtures/docker/runner-rootfs.sh). dockerd needs root; CI runs as root.
public final class DockerEngine: Sendable {
    public let directory: String
    public let socketPath: String
    private let daemon: pid_t

    /// `DOCKER_HOST` for clients of this engine.
    public var host: String { "unix://" + socketPath }

    /// Whether an engine can be started here: root and Debian's docker.io (dockerd and its client).
    public static var isAvailable: Bool {
        geteuid() == 0 && FileSystem.exists("/usr/sbin/dockerd") && FileSystem.exists("/usr/bin/docker")
    }

    /// Starts the engine and waits until it answers (at most 60 s: a first start sets up its
    /// storage). The socket is opened to every local account, so an SSH test account can use it.
    public init() throws {
        directory = try TemporaryDirectory.make(prefix: "mpf-docker-")
        socketPath = directory + "/docker.sock"
        chmod(directory, 0o711)
        daemon = try BenchProcess.spawn(
            [
                "/usr/sbin/dockerd", "--data-root", directory + "/data", "--exec-root", directory + "/exec",
                "--pidfile", directory + "/dockerd.pid", "-H", "unix://" + socketPath, "--bridge=none",
                "--iptables=false", "--ip6tables=false",
            ],
            stdoutPath: directory + "/dockerd.log", stderrPath: directory + "/dockerd.log", newGroup: true)
        let deadline = ContinuousClock.now + .seconds(60)
        var status: Int32 = 0
        while (try? docker(["version", "--format", "{{.Server.Version}}"])) == nil {
            guard ContinuousClock.now < deadline, waitpid(daemon, &status, WNOHANG) == 0 else {
                let log = FileSystem.readText(directory + "/dockerd.log") ?? ""
                stop()
                throw BenchError("dockerd did not start: \(log.suffix(2000))")
            }
            usleep(200_000)
        }
        chmod(socketPath, 0o666)
    }

    /// Runs the docker client against this engine; throws with its output when it fails.
    @discardableResult
    public func docker(_ arguments: [String]) throws -> String {
        try BenchProcess.run(["/usr/bin/env", "DOCKER_HOST=" + host, "/usr/bin/docker"] + arguments)
    }

    /// Imports a runner image (bash, python3, git, tmux and the runner stand-ins) under `tag`. Its
    /// command sleeps until `docker stop`, which it obeys at once (a process 1 without a handler
    /// would ignore SIGTERM and cost every stop ten seconds). With `dockerfileBase` it also holds
    /// the stand-ins that let the deploy directory's Dockerfile build on it (runner-rootfs.sh).
    public func importRunnerImage(tag: String, dockerfileBase: Bool = false) throws {
        let tarball = directory + "/runner-rootfs.tar"
        try BenchProcess.run(
            [
                "/bin/sh", RunnerAccount.checkoutFixtures + "/../docker/runner-rootfs.sh",
                RunnerAccount.checkoutFixtures,
                tarball,
            ] + (dockerfileBase ? ["dockerfile-base"] : []))
        defer { unlink(tarball) }
        try docker([
            "import", "--change", #"CMD ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]"#,
            "--change",
            "ENV PATH=/usr/local/bin:/usr/bin:/bin PYTHONPATH=/opt/megaplan-stub/python LANG=C.UTF-8",
            tarball, tag,
        ])
    }

    /// Removes every container, stops the engine and deletes its files.
    public func stop() {
        if let ids = try? docker(["ps", "-aq"]), !ids.isEmpty {
            _ = try? docker(["rm", "-f"] + ids.split(separator: "\n").map(String.init))
        }
        Glibc.kill(-daemon, SIGTERM)
        var status: Int32 = 0
        while waitpid(daemon, &status, 0) < 0 && errno == EINTR {}
        // dockerd unmounts its layers on the way out; anything left mounted is unmounted here so
        // the directory can go.
        _ = try? BenchProcess.run([
            "/bin/sh", "-c",
            "grep -o \" \(directory)[^ ]*\" /proc/mounts | sort -r | xargs -r -n1 umount -l",
        ])
        TemporaryDirectory.remove(directory)
    }
}
