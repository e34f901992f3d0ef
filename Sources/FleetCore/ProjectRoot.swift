/// The project root of cloud reference §0.7: the git top level when it holds `.megaplan/`, else
/// the nearest ancestor holding `.megaplan/`, else the current directory.
public enum ProjectRoot {
    public static func find(from start: String = FileSystem.currentDirectory()) -> String {
        let ancestors = sequence(first: start) { path in
            let parent = PosixPath.dirname(path)
            return parent == path ? nil : parent
        }
        if let gitTop = ancestors.first(where: { FileSystem.exists($0 + "/.git") }),
            FileSystem.isDirectory(gitTop + "/.megaplan")
        {
            return gitTop
        }
        return ancestors.first(where: { FileSystem.isDirectory($0 + "/.megaplan") }) ?? start
    }

    /// `--cloud-yaml` resolved, or `<root>/cloud.yaml`.
    public static func cloudYAMLPath(_ given: String?) -> String {
        if let given { return FileSystem.resolve(given) }
        return FileSystem.resolve(find() + "/cloud.yaml")
    }
}

/// Finds the local idea file for a milestone (§3.4).
public enum IdeaFiles {
    public static func candidates(idea: String, workspace: String, ideaDirectory: String, root: String)
        -> [String]
    {
        let relative: String
        if idea == workspace {
            relative = ""
        } else if idea.hasPrefix(workspace + "/") {
            relative = String(idea.dropFirst(workspace.count + 1))
        } else if idea.hasPrefix("/") {
            relative = String(idea.drop(while: { $0 == "/" }))
        } else {
            relative = idea
        }
        var candidates: [String] = []
        func add(_ path: String) {
            let normalized = PosixPath.normalize(path)
            if !candidates.contains(normalized) { candidates.append(normalized) }
        }
        add(PosixPath.join(ideaDirectory, relative))
        add(PosixPath.join(root, relative))
        let rootPrefix = root.hasSuffix("/") ? root : root + "/"
        if ideaDirectory.hasPrefix(rootPrefix) {
            let tail = String(ideaDirectory.dropFirst(rootPrefix.count))
            if !tail.isEmpty, relative.hasPrefix(tail) {
                let rest = String(relative.dropFirst(tail.count).drop(while: { $0 == "/" }))
                add(PosixPath.join(ideaDirectory, rest))
            }
        }
        if idea.hasPrefix("/"), !idea.hasPrefix(workspace + "/") {
            add(PosixPath.join(ideaDirectory, PosixPath.basename(idea)))
        }
        return candidates
    }

    /// The first candidate that exists, or `missing_idea_file` with the reference's message.
    public static func locate(
        label: String, idea: String, workspace: String, ideaDirectory: String, root: String,
        exists: (String) -> Bool = FileSystem.exists
    ) throws(FleetError) -> String {
        let tried = candidates(idea: idea, workspace: workspace, ideaDirectory: ideaDirectory, root: root)
        if let found = tried.first(where: exists) { return found }
        let lines =
            ["milestone '\(label)' idea not found on disk. Tried:"] + tried.map { "- \($0)" } + [
                "Invoke from the repository root or adjust --idea-dir to the directory containing chain ideas."
            ]
        throw FleetError(
            .missingIdeaFile, lines.joined(separator: "\n"),
            extra: ["milestone": .string(label), "tried_paths": .strings(tried)])
    }
}
