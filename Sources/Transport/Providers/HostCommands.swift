import FleetCore
import RunnerProtocol

/// The command lines the `ssh` provider runs on the Docker host itself (cloud reference §7.4), with
/// every value quoted, in one table that the shell property tests walk.
public enum HostCommands {
    static func q(_ value: String) -> String { ShellQuote.quote(value) }

    /// A runner command inside the container, in a login shell (§7.4).
    public static func inContainer(_ command: String, container: String, interactiveInput: Bool) -> String {
        "docker exec\(interactiveInput ? " -i" : "") \(q(container)) bash -lc \(q(command))"
    }

    /// A runner command on a host that is the runner itself (`ssh.runtime: host`).
    public static func inLoginShell(_ command: String) -> String { "bash -lc \(q(command))" }

    public static func build(container: String, remoteDir: String) -> String {
        "docker build -t \(q(container)) \(q(remoteDir))"
    }

    public static func envFilePath(remoteDir: String) -> String { PosixPath.join(remoteDir, ".env") }

    /// Writes standard input to the 0600 `.env` file: secrets never appear in a command line.
    public static func writeEnvFile(remoteDir: String) -> String {
        let env = q(envFilePath(remoteDir: remoteDir))
        return "umask 077 && mkdir -p \(q(remoteDir)) && cat > \(env) && chmod 600 \(env)"
    }

    public static func removeContainer(_ container: String) -> String {
        "docker rm -f \(q(container)) >/dev/null 2>&1 || true"
    }

    public static func runContainer(_ container: String, remoteDir: String, port: Int) -> String {
        "docker run -d --name \(q(container)) --restart unless-stopped --env-file \(q(envFilePath(remoteDir: remoteDir))) -p \(port):\(port) \(q(container))"
    }

    public static func stopContainer(_ container: String) -> String { "docker stop \(q(container))" }

    public static func removeTree(_ path: String) -> String { "rm -rf -- \(q(path))" }

    /// Moves `target` aside, renames `staging` into its place and removes the old tree; if the
    /// second rename fails, the old tree is put back and the staging copy removed (`build`).
    public static func replaceDirectory(_ target: String, with staging: String, aside: String) -> String {
        let (target, staging, aside) = (q(target), q(staging), q(aside))
        return
            "if [ -e \(target) ] || [ -L \(target) ]; then mv -- \(target) \(aside) || { rm -rf -- \(staging); exit 1; }; fi; "
            + "if mv -- \(staging) \(target); then rm -rf -- \(aside); "
            + "else rm -rf -- \(staging); if [ -e \(aside) ]; then mv -- \(aside) \(target); fi; exit 1; fi"
    }

    public static func destroy(container: String, remoteDir: String) -> String {
        "\(removeContainer(container)) && rm -rf \(q(remoteDir))"
    }

    /// `container` nil: the host runtime, whose tmux server is the account's own.
    public static func attach(container: String?) -> String {
        container.map { "docker exec -it \(q($0)) tmux attach -t agent" } ?? "tmux attach -t agent"
    }

    public static func containerLogs(_ container: String, follow: Bool) -> String {
        follow ? "docker logs -f \(q(container))" : "docker logs --tail 200 \(q(container))"
    }

    /// The chain log of a host runtime, which has no container logs.
    public static func chainLog(workspace: String, follow: Bool) -> String {
        let log = q(PosixPath.join(workspace, RemoteCommands.chainLog))
        return follow ? "tail -n 200 -F \(log)" : "tail -n 200 \(log)"
    }
}
