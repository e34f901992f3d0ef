#if canImport(Glibc)
    import Glibc
#endif

/// How the runner's status program gets megaplan's answers: the plan status (§4.4), the
/// human-verification list (§4.5) and the sync refresh (§6.4).
///
/// `inProcess` (the default): the program imports megaplan once and calls the functions the
/// commands call (`megaplan.cli.main`, the console entry of `megaplan`, and the refresh's own
/// `python3 -c` program), in the workspace, with the same environment, exit status, stdout and
/// stderr; any probe it cannot run that way (no megaplan in this python3, a `megaplan` command run
/// by another interpreter, a `main` of another shape, a workspace holding a `megaplan` of its own,
/// an uncaught exception) runs as the command instead, and says so (`probe_mode`). The re-read
/// after the refresh reads the state, spec and policy files and the tmux and log probes again, and
/// reuses the plan status and verification list read a moment before unless the state names
/// another current plan or workspace: the refresh changes the chain state's sync fields, not the
/// plan. The window this leaves (a plan's state changing between the first read and the re-read)
/// is the refresh's duration, shorter than the one between the reference's own state read and its
/// `verify-human` run (a `megaplan status` and two more commands, each a round trip).
///
/// `command`: every probe runs as its command and the re-read runs them all again, as before
/// (kept for the benchmark's comparison: `MEGAPLAN_FLEET_RUNNER_PROBES=command`).
public enum RunnerProbes: String, Sendable {
    case inProcess = "in_process"
    case command

    /// The environment variable that switches the runner back to `command`.
    public static let environmentVariable = "MEGAPLAN_FLEET_RUNNER_PROBES"

    /// `command` when the environment asks for it, else `inProcess`.
    public static var configured: RunnerProbes {
        guard let value = getenv(environmentVariable) else { return .inProcess }
        return String(cString: value) == RunnerProbes.command.rawValue ? .command : .inProcess
    }
}
