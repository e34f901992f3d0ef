import FleetCore
import RunnerProtocol
import Transport

/// `bootstrap` (§1.6) and `resume` (§1.12): start or continue a single plan on the runner.
public enum PlanCommands {
    /// Ensures the checkout, uploads the idea to `<ws>/idea.txt` and runs `megaplan init`. Each
    /// command's output goes to `relay` as soon as it finishes (§1.6: the checkout's output is
    /// shown even when init then fails).
    public static func bootstrap(
        _ project: ProjectEnvironment, ideaFile: String, planName: String?, robustness: String,
        relay: (RelayedOutput) -> Void
    ) async throws(FleetError) {
        let local = FileSystem.resolve(ideaFile)
        guard FileSystem.exists(local) else {
            throw FleetError(.missingIdeaFile, "idea file not found: \(local)")
        }
        guard let bytes = FileSystem.readBytes(local) else {
            throw FleetError(.missingIdeaFile, "idea file is not a readable regular file: \(local)")
        }
        let cloud = project.cloud
        let workspace = cloud.repo.workspace
        let remoteIdea = PosixPath.join(workspace, "idea.txt")
        let ensure = try await project.runner.exec(
            RemoteCommands.ensureRepo(url: cloud.repo.url, branch: cloud.repo.branch, workspace: workspace))
        relay(RelayedOutput(ensure))
        try await project.runner.upload(bytes, to: remoteIdea)
        let q = ShellQuote.quote
        var command =
            "cd \(q(workspace)) && megaplan init --project-dir \(q(workspace)) --idea-file \(q(remoteIdea)) --auto-start --robustness \(q(robustness))"
        if let planName, !planName.isEmpty { command += " --name \(q(planName))" }
        relay(RelayedOutput(try await project.runner.exec(command)))
    }

    /// The megaplan arguments for a `next_step` (§1.12 step 3).
    public static func resumeArguments(nextStep: String, plan: String?) -> [String] {
        var arguments: [String] =
            switch nextStep {
            case "execute": ["execute", "--confirm-destructive", "--user-approved", "--retry-blocked-tasks"]
            case "feedback": ["feedback", "workflow"]
            default: ShellWords.split(nextStep)
            }
        if let plan, !plan.isEmpty { arguments += ["--plan", plan] }
        return arguments
    }

    public static func resume(_ project: ProjectEnvironment, plan: String?) async throws(FleetError)
        -> RelayedOutput
    {
        let workspace = project.cloud.repo.workspace
        let status = try await project.runner.statusPayload(plan: plan, workspace: workspace)
        guard let nextStep = status["next_step"]?.stringValue, !nextStep.isEmpty else {
            throw FleetError(.invalidStatus, "Remote status did not include a next_step")
        }
        let arguments = resumeArguments(nextStep: nextStep, plan: plan)
        let output = try await project.runner.exec(
            "cd \(ShellQuote.quote(workspace)) && megaplan \(ShellQuote.join(arguments))")
        return RelayedOutput(output)
    }
}

/// Splits a string into words with POSIX shell rules (Python's `shlex.split`), for `next_step`
/// values such as `override add-note`.
public enum ShellWords {
    public static func split(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            if let open = quote {
                if character == open {
                    quote = nil
                } else if open == "\"", character == "\\", let next = iterator.next() {
                    if next != "\"" && next != "\\" && next != "$" && next != "`" { current.append("\\") }
                    current.append(next)
                } else {
                    current.append(character)
                }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == "\\" {
                if let next = iterator.next() { current.append(next) }
                inWord = true
            } else if character.isWhitespace {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
