import PackagePlugin

/// Embeds a target's data files in its code, so the built program needs no resource bundle beside
/// it: every file of the target that SwiftPM does not compile itself (templates, scripts, any other
/// data) becomes one entry of a generated `EmbeddedFiles` enum, by its path relative to the target's
/// folder. The generator (`embed-files`) reruns only when one of those files changes.
@main
struct EmbedFiles: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let root = target.directoryURL.path(percentEncoded: false)
        let files = target.sourceFiles
            .filter { $0.type == .unknown || $0.type == .resource }
            .map(\.url)
            .sorted { $0.path(percentEncoded: false) < $1.path(percentEncoded: false) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) files of \(target.name)",
                executable: try context.tool(named: "embed-files").url,
                arguments: [output.path(percentEncoded: false), root]
                    + files.map { $0.path(percentEncoded: false) },
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
