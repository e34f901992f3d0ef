import CLibSSH2
import FleetCore
import Foundation

/// A running ssh_config `ProxyCommand`: `/bin/sh -c "exec COMMAND"` in a process group of its own,
/// with one end of a socket pair as its stdin and stdout and a pipe as its stderr. The SSH session
/// runs over the other end (`socket`), exactly as over a TCP connection. Owned by one connection's
/// I/O thread, like the session, and never shared.
final class SSHProxyCommand {
    /// The session's end of the socket pair (non-blocking); closed by the connection's teardown.
    let socket: Int32
    private let pid: pid_t
    private var stderrFD: Int32
    /// The last `stderrLimit` bytes the command wrote to its stderr.
    private var stderr: [UInt8] = []
    private var reaped = false

    static let stderrLimit = 2048
    /// How long a command may take to exit by itself once its socket is closed before its
    /// process group is killed.
    static let exitGrace = Duration.milliseconds(500)

    /// Starts `command`; the failure names `hostPort`.
    init(command: String, hostPort: String) throws(SSHError) {
        func failure(_ what: String, _ code: Int32) -> SSHError {
            SSHError(
                kind: .unreachable, host: hostPort,
                message:
                    "cannot start the ProxyCommand for \(hostPort): \(what): \(String(cString: strerror(code)))"
            )
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0
        else { throw failure("socketpair", errno) }
        var errorPipe: [Int32] = [-1, -1]
        guard mpf_pipe_cloexec(&errorPipe) == 0 else {
            let code = errno
            close(pair[0])
            close(pair[1])
            throw failure("pipe", code)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], 0)
        posix_spawn_file_actions_adddup2(&actions, pair[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
        // Whatever other threads opened without close-on-exec stays out of the command.
        mpf_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        SpawnAttributes.clean(&attributes, newGroup: true)
        // OpenSSH runs `exec COMMAND` through a shell (sshconnect.c `expand_proxy_command`).
        let arguments: [String] = ["/bin/sh", "-c", "exec " + command]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/bin/sh", &actions, &attributes, argv, environ)
        close(pair[1])
        close(errorPipe[1])
        guard rc == 0 else {
            close(pair[0])
            close(errorPipe[0])
            throw failure("posix_spawn /bin/sh", rc)
        }
        _ = mpf_set_nonblocking(pair[0])
        _ = mpf_set_nonblocking(errorPipe[0])
        socket = pair[0]
        pid = child
        stderrFD = errorPipe[0]
    }

    deinit {
        stop()
        if stderrFD >= 0 { close(stderrFD) }
    }

    /// The stderr pipe while it is open, for the connection's poll() set (a command that fills
    /// the pipe would otherwise stall).
    var pollFD: Int32? { stderrFD >= 0 ? stderrFD : nil }

    /// Reads what the command wrote to its stderr, keeping the last `stderrLimit` bytes; closes the
    /// pipe at its end.
    func drainStderr() {
        guard stderrFD >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(stderrFD, &buffer, buffer.count)
            if n > 0 {
                stderr.append(contentsOf: buffer[0..<n])
                if stderr.count > Self.stderrLimit { stderr.removeFirst(stderr.count - Self.stderrLimit) }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 || errno != EAGAIN {
                close(stderrFD)
                stderrFD = -1
            }
            return
        }
    }

    /// Waits up to `exitGrace` for the command to exit on its own (the caller has closed or shut
    /// down `socket`), then kills its process group; reaps it either way. Idempotent.
    func stop() {
        guard !reaped else { return }
        reaped = true
        let deadline = ContinuousClock.now + Self.exitGrace
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid || (rc < 0 && errno != EINTR) { break }
            if ContinuousClock.now >= deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            drainStderr()
            usleep(10_000)
        }
        drainStderr()
    }

    /// The command's stderr as one line (its lines joined with ` | `); empty when it wrote nothing.
    var stderrSummary: String {
        String(decoding: stderr, as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " | ")
    }
}
