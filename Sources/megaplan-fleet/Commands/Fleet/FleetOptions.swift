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

    @Option(help: ArgumentHelp("Also write a Prometheus textfile here, atomically.", valueName: "path"))
    var promFile: String?

    @Option(
        help: ArgumentHelp(
            "Where runs keep markers, locks and status history (default: $MEGAPLAN_FLEET_STATE_DIR, else the fleet file's defaults.state_dir, else ~/.megaplan).",
            valueName: "path"))
    var stateDir: String?

    var selectsFleet: Bool { all || !project.isEmpty || !tag.isEmpty || shard != nil }

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let perHost, perHost < 1 { throw ValidationError("--per-host must be at least 1") }
        if let deadline, !(deadline > 0) {
            throw ValidationError("--deadline must be a positive number of seconds")
        }
    }

    /// `--state-dir`, else `$MEGAPLAN_FLEET_STATE_DIR`, else the fleet file's, else `~/.megaplan`.
    func stateDirectory(_ file: FleetFile) -> StateDirectory {
        StateDirectory.resolve(
            option: stateDir, environment: ProcessEnvironment.current,
            fleetDefault: file.defaults.stateDirectory)
    }

    /// `--fleet`, else `$MEGAPLAN_FLEET`, else `./fleet.yaml`.
    var fleetPath: String {
        let environment = ProcessEnvironment.current["MEGAPLAN_FLEET"].flatMap { $0.isEmpty ? nil : $0 }
        return FileSystem.resolve(fleet ?? environment ?? "fleet.yaml")
    }
}
