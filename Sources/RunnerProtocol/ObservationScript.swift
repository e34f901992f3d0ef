import FleetCore

/// Everything one status read needs, gathered by ONE remote command instead of the reference's
/// six or seven: a small Python program (`Programs/status_read.py`, embedded at build time; the
/// runner has Python, core megaplan is Python) reads the state, spec and runtime-policy files and
/// runs the reference's probe command lines (§4.10, `RemoteCommands.Probe`, passed in its
/// arguments) against the workspace and session it resolves with the §5.3 precedence. It can also
/// run the supervisor's sync refresh and observe again, so a whole tick's reads (observe, refresh,
/// re-read) cost one command.
public enum ObservationScript {
    /// What one run does besides the observation.
    public enum Mode: Equatable, Sendable {
        /// Observe only (a status read, a dry-run tick).
        case observe
        /// Run this sync refresh (§6.4), then observe again.
        case refresh(String)
        /// Observe, then build the sync refresh from what was observed and run it, then observe
        /// again: a whole tick's reads in one command. The runner resolves the refresh's arguments
        /// from the state it just read, with the repositories the client knows (cloud.yaml's
        /// before the state's, the marker's after). It declines (runs nothing) unless the status
        /// read will succeed on the client (the state has the types `ChainState` accepts, the spec
        /// has the digest of one the client parsed) and its resolution cannot differ from the
        /// client's; the client checks the command it ran.
        case observeAndRefresh(RepoCandidates, specDigest: String?)
    }

    /// The end of a run. It travels as two plain arguments after the program (`--deadline BUDGET
    /// UNTIL`), not inside it, so the program's text stays the same at every tick of an unchanged
    /// chain (a replayed runner keys its answers on that text, `RunnerReplay`).
    public struct Deadline: Sendable, Equatable {
        /// Seconds the whole run may take (the project's deadline, less a margin). Past it the
        /// program stops its probe (the probe's whole process group), runs no refresh, and exits
        /// 124.
        public var budget: Double
        /// The same end as a wall-clock time (seconds since 1970), so time the command spent
        /// waiting for a connection is not granted twice; used only when the runner's clock
        /// makes it fall within `budget`.
        public var until: Double

        public init(budget: Double, until: Double) {
            self.budget = budget
            self.until = until
        }
    }

    /// Arguments for one run, serialized as a JSON literal inside the program.
    public struct Request: Sendable {
        public var spec: String
        public var fallbackWorkspace: String
        public var fallbackSession: String
        public var mode: Mode
        public var probeTimeout: Int
        /// The most bytes of a file or a probe's output the program sends back (the client's
        /// limit on remote text).
        public var outputLimit: Int
        /// The project's deadline, or nil: no bound but each probe's.
        public var deadline: Deadline? = nil
        public var probes = RunnerProbes.inProcess

        public init(
            spec: String, fallbackWorkspace: String, fallbackSession: String, mode: Mode, probeTimeout: Int,
            outputLimit: Int, probes: RunnerProbes = .inProcess
        ) {
            self.spec = spec
            self.fallbackWorkspace = fallbackWorkspace
            self.fallbackSession = fallbackSession
            self.mode = mode
            self.probeTimeout = probeTimeout
            self.outputLimit = outputLimit
            self.probes = probes
        }

        var json: JSONValue {
            var refresh: String?
            var fold: JSONValue = .null
            switch mode {
            case .observe: break
            case .refresh(let command): refresh = command
            case .observeAndRefresh(let repos, let digest):
                fold = [
                    "before": .strings(repos.beforeState), "after": .strings(repos.afterState),
                    "spec_sha256": .optional(digest),
                ]
            }
            return .object([
                "spec": .string(spec),
                "state": .string(ChainPaths.stateFile(spec: spec)),
                "policy": .string(ChainPaths.runtimePolicyFile(spec: spec)),
                "fallback_workspace": .string(fallbackWorkspace),
                "fallback_session": .string(fallbackSession),
                "refresh": .optional(refresh),
                "fold": fold,
                "timeout": .int(probeTimeout),
                "in_process": .bool(probes == .inProcess),
                "limit": .int(outputLimit),
                "probes": RemoteCommands.Probe.templates,
                "chain_log": .string(RemoteCommands.chainLog),
                "sync_refresh": RemoteCommands.SyncRefresh.templates,
            ])
        }
    }

    /// The line prefix that marks the result, so login-shell noise before it is skipped.
    public static let resultPrefix = "MEGAPLAN-FLEET-OBSERVATION "

    /// The program's path among the module's embedded files.
    static let programPath = "Programs/status_read.py"

    /// The program's text, with its arguments still a placeholder.
    static let program: String = {
        guard let bytes = EmbeddedFiles.bytes(programPath) else {
            preconditionFailure("\(programPath) is not embedded: the EmbedFiles plugin did not run")
        }
        return String(decoding: bytes, as: UTF8.self)
    }()

    public static func command(_ request: Request) -> String {
        // Base64 keeps any byte of any path out of the program's own syntax.
        let program = program.replacingAll(
            "@ARGS@", with: Base64.encode(Array(request.json.serialized().utf8)))
        // Shipped deflated in base64: a command free of quotes stays small however deeply it is
        // wrapped (`bash -lc`, `timeout … sh -c`), where every wrapping multiplies the quotes of
        // a program text, which then outgrew what sshd takes in one request.
        guard let packed = Deflate.zlib(Array(program.utf8)) else {
            return "python3 -c \(ShellQuote.quote(program))" + deadlineArguments(request.deadline)
        }
        let loader =
            "import base64, zlib; exec(zlib.decompress(base64.b64decode('\(Base64.encode(packed))')))"
        return "python3 -c \(ShellQuote.quote(loader))" + deadlineArguments(request.deadline)
    }

    /// ` --deadline BUDGET UNTIL` (Python reads both with `float`), or nothing.
    static func deadlineArguments(_ deadline: Deadline?) -> String {
        deadline.map { " --deadline \($0.budget) \($0.until)" } ?? ""
    }
}

/// The extra repositories of §5.3 that do not come from the chain state: cloud.yaml's are merged
/// before the state's, the marker's after (non-blank strings, in order, duplicates kept).
public struct RepoCandidates: Sendable, Equatable {
    public var beforeState: [String]
    public var afterState: [String]
}

extension RepoCandidates {
    public init(cloud: CloudSpec, marker: Marker?) {
        beforeState = cloud.extraRepos.filter { !$0.isBlank }
        afterState = (marker?.extraRepos ?? []).compactMap(\.stringValue).filter { !$0.isBlank }
    }
}
