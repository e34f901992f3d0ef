import ArgumentParser
import FleetCore

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a commented cloud.yaml template.",
        discussion:
            "Writes to --cloud-yaml, or cloud.yaml at the project root. Loads no spec and contacts no runner."
    )

    @Option(name: .long, help: ArgumentHelp("Where to write the template.", valueName: "path"))
    var cloudYAML: String?

    @Flag(help: "Overwrite an existing file.")
    var force = false

    func run() async throws {
        try await reportingErrors {
            let target = ProjectRoot.cloudYAMLPath(cloudYAML)
            if FileSystem.exists(target), !force {
                throw FleetError(
                    .invalidArgs, "cloud spec already exists: \(target). Use --force to overwrite.")
            }
            try FileSystem.makeDirectories(PosixPath.dirname(target))
            try FileSystem.writeAtomically(target, text: CloudTemplate.text)
            Output.document(["success": true, "cloud_yaml": .string(target)])
        }
    }
}
