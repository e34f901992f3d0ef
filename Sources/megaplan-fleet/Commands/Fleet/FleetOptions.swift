import ArgumentParser
import Fleet
import FleetCore

/// Choosing and running a fleet: shared by `tick` and `status --all`.
struct FleetOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl, table }

    @Flag(help: "Every project of the fleet file.")
    var all = false

    @Option(
        help: ArgumentHelp(
            "Fleet file (default: $MEGAPLAN_FLEET, else fleet.yaml in the current directory).",
            valueName: "path"))
    var fleet: String?

    @Option(help: ArgumentHelp("Only this project (repeatable).", valueName: "name"))
    var project: [String] = []

    @Option(help: ArgumentHelp("Only projects with this tag (repeatable).", valueName: "tag"))
    var tag: [String] = []

    @Option(
        help: ArgumentHelp(
            "Only shard K of N (0 <= K < N), a stable split by project name.", valueName: "K/N"))
    var shard: String?

    @Option(
        help: ArgumentHelp(
            "Projects in flight across the fleet (default: the fleet file's, else 16).", valueName: "n"))
    var concurrency: Int?

    @Option(
        help: ArgumentHelp(
            "Projects in flight on one host (default: the fleet file's, else 8).", valueName: "n"))
    var perHost: Int?

    @Option(
        help: ArgumentHelp(
            "Seconds one project may take (default: the fleet file's, else 60).", valueName: "seconds"))
    var deadline: Double?

    @Option(
        help: ArgumentHelp(
            "Output: jsonl (one JSON line per project) or table (for people).", valueName: "format"))
    var format: Format?

    @Option(
        help: ArgumentHelp(
            "Print only projects with this outcome (repeatable; the summary still counts every project).",
            valueName: "outcome"))
    var outcome: [FleetLine.Outcome] = []

    @Option(
        help: ArgumentHelp(
            "Print only projects with this effective status (repeatable; an error counts as unknown).",
            valueName: "status"))
    var status: [EffectiveStatus] = []

    @Flag(help: "Print only problems: errors and blocked chains.")
    var quiet = false

    @Option(help: ArgumentHelp("Also write a Prometheus textfile here, atomically.", valueName: "path"))
    var promFile: String?

    @Option(
        help: ArgumentHelp(
            "Where runs keep markers, locks and status history (default: $MEGAPLAN_FLEET_STATE_DIR, else the fleet file's defaults.state_dir, else ~/.megaplan).",
            valueName: "path"))
    var stateDir: String?

    var selectsFleet: Bool { all || !project.isEmpty || !tag.isEmpty || shard != nil }

    /// Checked before anything runs (no lock taken): the same ranges as the fleet file's.
    func validate() throws {
        typealias Limits = FleetFile.Limits
        if let concurrency, !Limits.concurrency.contains(concurrency) {
            throw ValidationError(
                "--concurrency must be from \(Limits.concurrency.lowerBound) to \(Limits.concurrency.upperBound); got \(concurrency)"
            )
        }
        if let perHost, !Limits.perHost.contains(perHost) {
            throw ValidationError(
                "--per-host must be from \(Limits.perHost.lowerBound) to \(Limits.perHost.upperBound); got \(perHost)"
            )
        }
        if let deadline, !Limits.acceptsDeadline(deadline) {
            throw ValidationError(
                "--deadline must be a number of seconds above 0 and at most \(Int(Limits.maximumDeadline)); got \(deadline)"
            )
        }
    }

    /// `--state-dir`, else `$MEGAPLAN_FLEET_STATE_DIR`, else the fleet file's, else `~/.megaplan`.
    func stateDirectory(_ file: FleetFile) -> StateDirectory {
        StateDirectory.resolve(
            option: stateDir, environment: ProcessEnvironment.current,
            fleetDefault: file.defaults.stateDirectory)
    }

    /// The project lines to print, in either format.
    var filter: FleetLineFilter {
        FleetLineFilter(
            outcomes: Set(outcome), statuses: Set(status), problemsOnly: quiet)
    }

    /// `--fleet`, else `$MEGAPLAN_FLEET`, else `./fleet.yaml`; when it is missing, the message says
    /// which of the three chose the path.
    func loadFleet() throws(FleetError) -> FleetFile {
        let environment = ProcessEnvironment.current["MEGAPLAN_FLEET"].flatMap { $0.isEmpty ? nil : $0 }
        let origin =
            fleet != nil
            ? "from --fleet"
            : environment != nil
                ? "from $MEGAPLAN_FLEET"
                : "the default, fleet.yaml in the current directory; choose another with --fleet or $MEGAPLAN_FLEET"
        return try FleetFile.load(
            path: FileSystem.resolve(fleet ?? environment ?? "fleet.yaml"), origin: origin)
    }
}

// The fixed sets of `--outcome` and `--status`: completion and help list their values.
extension FleetLine.Outcome: ExpressibleByArgument {}
extension EffectiveStatus: ExpressibleByArgument {}
