import ArgumentParser
import FleetCore

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a cloud.yaml, a chain spec, or a whole fleet file.",
        discussion: """
            With --fleet, every project's cloud.yaml is checked too. Exit status: 0 when everything \
            is valid, 1 when anything is invalid, 64 on a usage error. With no option, checks \
            cloud.yaml at the project root.
            """
    )

    @Option(help: ArgumentHelp("A cloud.yaml to check.", valueName: "path"))
    var cloudYAML: String?

    @Option(help: ArgumentHelp("A chain spec to check.", valueName: "path"))
    var chainSpec: String?

    @Option(help: ArgumentHelp("A fleet file to check, with each project's cloud.yaml.", valueName: "path"))
    var fleet: String?

    @Flag(help: "Print one JSON object per checked file (path, kind, valid, error, message).")
    var json = false

    func run() async throws {
        var results: [ValidationResult] = []
        if let fleet {
            results += Self.checkFleet(FileSystem.resolve(fleet))
        }
        if let chainSpec {
            let path = FileSystem.resolve(chainSpec)
            results.append(
                ValidationResult(path: path, kind: "chain_spec") { () throws(FleetError) in
                    _ = try ChainSpec.load(path: path)
                })
        }
        if cloudYAML != nil || (fleet == nil && chainSpec == nil) {
            let path = ProjectRoot.cloudYAMLPath(cloudYAML)
            results.append(
                ValidationResult(path: path, kind: "cloud_yaml") { () throws(FleetError) in
                    _ = try CloudSpec.load(path: path)
                })
        }
        for result in results {
            if json {
                Output.stdout(Redactor.shapesOnly.serialized(result.json) + "\n")
            } else if let error = result.error {
                Output.stderr("invalid: \(Redactor.shapesOnly.redact(error.message)) [\(error.code)]\n")
            } else {
                Output.stderr("valid: \(result.path) (\(result.kind))\n")
            }
        }
        if results.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }

    static func checkFleet(_ path: String) -> [ValidationResult] {
        let file: FleetFile
        do {
            file = try FleetFile.load(path: path, origin: "from --fleet")
        } catch {
            return [ValidationResult(path: path, kind: "fleet", error: error)]
        }
        let clouds = file.loadClouds()
        let results = file.projects.map { project in
            var result = ValidationResult(path: project.cloudYAML, kind: "cloud_yaml") {
                () throws(FleetError) in _ = try clouds[project.name]?.get()
            }
            result.project = project.name
            return result
        }
        let shared = ValidationResult(path: path, kind: "fleet") { () throws(FleetError) in
            try file.checkDistinctRunners(clouds)
        }
        return [shared] + results
    }
}

struct ValidationResult {
    var path: String
    var kind: String
    var project: String?
    var error: FleetError?

    init(path: String, kind: String, error: FleetError?) {
        self.path = path
        self.kind = kind
        self.error = error
    }

    init(path: String, kind: String, check: () throws(FleetError) -> Void) {
        self.path = path
        self.kind = kind
        do { try check() } catch { self.error = error }
    }

    var json: JSONValue {
        var object: JSONObject = ["path": .string(path), "kind": .string(kind)]
        if let project { object["project"] = .string(project) }
        object["valid"] = .bool(error == nil)
        object["error"] = .optional(error?.code.rawValue)
        object["message"] = .optional(error?.message)
        return .object(object)
    }
}
