import FleetCore
import RunnerProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The directory a provider builds and deploys (cloud reference §8): the image recipe, the container
/// entrypoint, the health server, the Railway and Compose configuration and the `mp-*` wrappers.
///
/// Templates are compiled into this target (`Templates/`); every value taken from `cloud.yaml` is
/// quoted for the language it lands in — `ShellQuote.quote` in shell code, TOML and YAML string
/// syntax in configuration files — before it is substituted.
public enum DeployDirectory {
    /// The wrappers installed into `/usr/local/bin`, in the order §8.1 writes them.
    public static let wrapperNames = ["mp-run", "mp-supervise", "mp-heartbeat", "mp-chain"]

    /// Writes every file of §8.1 into `destination` (creating it and `wrappers/`), overwriting
    /// existing files and leaving stale extra files alone. `entrypoint.sh` and the wrappers are
    /// written with mode 0755, everything else 0644. `docker-compose.yaml` and the compose work
    /// directory exist only for the local provider with a `local` block. Every directory is
    /// checked by `FileSystem.secureDirectory` (from below `base` when given): ours, with no group
    /// or other write, never a link; files are replaced atomically, so a planted link is replaced,
    /// not followed.
    public static func materialize(_ spec: CloudSpec, into destination: String, below base: String? = nil)
        throws(FleetError)
    {
        let wrappers = PosixPath.join(destination, "wrappers")
        try FileSystem.secureDirectory(destination, below: base, createMode: 0o755)
        try FileSystem.secureDirectory(wrappers, createMode: 0o755)

        try write(renderDockerfile(spec), to: PosixPath.join(destination, "Dockerfile"), mode: 0o644)
        try write(renderEntrypoint(spec), to: PosixPath.join(destination, "entrypoint.sh"), mode: 0o755)
        try write(healthServerSource(), to: PosixPath.join(destination, "healthserver.py"), mode: 0o644)
        try write(renderRailwayToml(), to: PosixPath.join(destination, "railway.toml"), mode: 0o644)

        if spec.provider == .local, let local = spec.local {
            try write(
                renderCompose(spec), to: PosixPath.join(destination, "docker-compose.yaml"), mode: 0o644)
            try FileSystem.secureDirectory(
                PosixPath.join(destination, local.workdir), below: destination, createMode: 0o755)
        }

        for name in wrapperNames {
            try write(wrapperSource(name), to: PosixPath.join(wrappers, name), mode: 0o755)
        }
    }

    // MARK: Dockerfile (§8.2)

    public static func renderDockerfile(_ spec: CloudSpec) -> String {
        TemplateRenderer.render(
            TemplateStore.text("Dockerfile.tmpl"), name: "Dockerfile.tmpl",
            values: ["TOOLCHAINS": toolchainBlock(spec.toolchains)])
    }

    /// The toolchain section: one block per entry, separated by one blank line; empty without
    /// toolchains (the template keeps its line, so the Dockerfile has an empty line there).
    static func toolchainBlock(_ toolchains: [CloudSpec.Toolchain]) -> String {
        toolchains.map(toolchainLines).joined(separator: "\n\n")
    }

    private static func toolchainLines(_ toolchain: CloudSpec.Toolchain) -> String {
        switch toolchain.install {
        case "rust":
            return """
                # Toolchain: rust
                RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
                ENV PATH=/root/.cargo/bin:${PATH}
                """
        case "go":
            return """
                # Toolchain: go
                RUN curl -fsSL https://go.dev/dl/go1.22.5.linux-amd64.tar.gz -o /tmp/go.tar.gz \\
                    && tar -C /usr/local -xzf /tmp/go.tar.gz \\
                    && rm -f /tmp/go.tar.gz
                ENV PATH=/usr/local/go/bin:${PATH}
                """
        case "java":
            // Two ENV instructions: within one instruction `${JAVA_HOME}` would still expand to
            // its previous (empty) value.
            return """
                # Toolchain: java
                RUN apt-get update \\
                    && apt-get install -y --no-install-recommends openjdk-17-jdk \\
                    && rm -rf /var/lib/apt/lists/*
                ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
                ENV PATH=${JAVA_HOME}/bin:${PATH}
                """
        default:
            // The install text is Dockerfile text written by the user, emitted as is. The name
            // lands in a comment, which must stay on one line.
            let name = toolchain.name.replacingAll("\r", with: " ").replacingAll("\n", with: " ")
            return "# Toolchain: \(name)\n" + trimmingTrailingNewlines(toolchain.install)
        }
    }

    // MARK: entrypoint.sh (§8.3)

    public static func renderEntrypoint(_ spec: CloudSpec) -> String {
        let q = ShellQuote.quote
        let workspace = spec.repo.workspace
        let values: [String: String] = [
            "REPO_URL": q(spec.repo.url),
            "REPO_BRANCH": q(spec.repo.branch),
            "WORKSPACE": q(workspace),
            "MODE": q(spec.mode.rawValue),
            "IDEA_FILE": q(ideaFile(spec)),
            "CHAIN_SPEC": q(chainSpec(spec)),
            "AUTO_PLAN_NAME": q(planName(spec)),
            "ENSURE_REPO": RemoteCommands.ensureRepo(
                url: spec.repo.url, branch: spec.repo.branch, workspace: spec.repo.workspace),
            "CODEX_MODEL": tomlString(spec.codex.model),
            "CODEX_REASONING": tomlString(spec.codex.reasoning),
            "MEGAPLAN_REF": q(spec.megaplanRef),
            "ROUTING": routingLines(spec).joined(separator: "\n"),
            "ROBUSTNESS": doubleQuotedWhenSafe(robustness(spec)),
            "IDLE_RUNNER": idleRunner(spec),
            "CHAIN_RUNNER": chainRunner(spec),
            "AUTO_RUNNER": autoRunner(spec),
        ]
        return TemplateRenderer.render(
            TemplateStore.text("entrypoint.sh.tmpl"), name: "entrypoint.sh.tmpl", values: values)
    }

    /// One `megaplan config set agents.<phase> <agent>` line per phase, in §2.4 order. The agent is
    /// the phase's own entry, else `agents.default`, else the built-in route.
    static func routingLines(_ spec: CloudSpec) -> [String] {
        CloudSpec.phaseKeys.map { phase in
            let agent =
                spec.agent(for: phase) ?? spec.agent(for: "default") ?? CloudSpec.defaultRoutes[phase]!
            return "megaplan config set agents.\(phase) \(ShellQuote.quote(agent)) >/dev/null 2>&1 || true"
        }
    }

    /// `tmux new-session -d -s agent -c q(ws) "bash -l"`.
    static func idleRunner(_ spec: CloudSpec) -> String {
        "tmux new-session -d -s agent -c \(ShellQuote.quote(spec.repo.workspace)) \"bash -l\""
    }

    /// Starts session `agent` running the chain runner script (see `chainRunnerScript`).
    static func chainRunner(_ spec: CloudSpec) -> String {
        tmuxAgentSession(spec, script: chainRunnerScript(spec))
    }

    /// Starts session `agent` running the auto runner script (see `autoRunnerScript`).
    static func autoRunner(_ spec: CloudSpec) -> String {
        tmuxAgentSession(spec, script: autoRunnerScript(spec))
    }

    /// The chain runner: `set -euo pipefail` / `exec mp-supervise chain mp-chain q(chain.spec)`.
    static func chainRunnerScript(_ spec: CloudSpec) -> String {
        "set -euo pipefail\nexec mp-supervise chain mp-chain \(ShellQuote.quote(chainSpec(spec)))"
    }

    /// The auto runner. Every value is quoted into the script text itself, and the script reaches
    /// tmux as one single-quoted argument, so nothing in it (`$PLAN_DIR` included) is expanded by
    /// the entrypoint shell — the reference's defect of §12.6.
    static func autoRunnerScript(_ spec: CloudSpec) -> String {
        let q = ShellQuote.quote
        let workspace = spec.repo.workspace
        let plan = planName(spec)
        return """
            set -euo pipefail
            PLAN_DIR=\(q(workspace + "/.megaplan/plans/" + plan))
            if [ ! -d "$PLAN_DIR" ]; then
              IDEA_TEXT="$(cat \(q(ideaFile(spec))))"
              megaplan init --project-dir \(q(workspace)) --name \(q(plan)) --auto-approve --robustness \(q(robustness(spec))) "$IDEA_TEXT"
            fi
            exec mp-supervise \(q("auto-" + plan)) megaplan auto --plan \(q(plan))
            """
    }

    /// tmux 3 runs a command given as several arguments directly, without another shell, so the
    /// script is passed to `bash -lc` as exactly one (quoted) argument.
    private static func tmuxAgentSession(_ spec: CloudSpec, script: String) -> String {
        "tmux new-session -d -s agent -c \(ShellQuote.quote(spec.repo.workspace)) bash -lc \(ShellQuote.quote(script))"
    }

    private static func ideaFile(_ spec: CloudSpec) -> String { spec.auto?.ideaFile ?? "/workspace/idea.txt" }
    private static func chainSpec(_ spec: CloudSpec) -> String { spec.chain?.spec ?? "/workspace/chain.yaml" }
    private static func planName(_ spec: CloudSpec) -> String { spec.auto?.planName ?? "idle-plan" }
    private static func robustness(_ spec: CloudSpec) -> String { spec.auto?.robustness ?? "standard" }

    /// `"value"` as the reference writes it when the value needs no quoting (every character that
    /// `ShellQuote` leaves bare is also inert inside double quotes); otherwise `ShellQuote.quote`.
    private static func doubleQuotedWhenSafe(_ value: String) -> String {
        let quoted = ShellQuote.quote(value)
        return quoted == value ? "\"\(value)\"" : quoted
    }

    // MARK: docker-compose.yaml (§8.4)

    public static func renderCompose(_ spec: CloudSpec) -> String {
        let workdir = spec.local?.workdir ?? "workspace"  // §2.7: the Local provider's default
        let workspace = spec.repo.workspace
        return TemplateRenderer.render(
            TemplateStore.text("docker-compose.yaml.tmpl"), name: "docker-compose.yaml.tmpl",
            values: [
                "WORKSPACE": composeScalar(workspace),
                "PORT": String(spec.resources.port),
                "VOLUME": composeScalar("./\(workdir):\(workspace)"),
            ])
    }

    // MARK: Verbatim files (§8.5-§8.7)

    /// `railway.toml` (§8.5); it takes no values from the spec.
    public static func renderRailwayToml() -> String { TemplateStore.text("railway.toml") }

    /// `healthserver.py` (§8.6), verbatim.
    public static func healthServerSource() -> String { TemplateStore.text("healthserver.py") }

    /// One wrapper script (§8.7), verbatim.
    public static func wrapperSource(_ name: String) -> String { TemplateStore.text("wrappers/" + name) }

    // MARK: Quoting for configuration languages

    /// A TOML basic string.
    static func tomlString(_ value: String) -> String { QuotedString.toml.quoted(value) }

    /// A YAML scalar for the Compose file: plain when it is obviously safe (so ordinary paths stay
    /// exactly as §8.4 shows them), otherwise a double-quoted YAML string. `$` is doubled first,
    /// because Compose interpolates variables inside every string.
    static func composeScalar(_ value: String) -> String {
        let escaped = value.replacingAll("$", with: "$$")
        return isPlainYAMLSafe(escaped) ? escaped : QuotedString.yaml.quoted(escaped)
    }

    private static func isPlainYAMLSafe(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, !value.hasSuffix(":") else { return false }
        func word(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "." || scalar == "/"
        }
        guard word(first) else { return false }
        return value.unicodeScalars.allSatisfy { word($0) || "-+=:,@%".unicodeScalars.contains($0) }
    }

    private static func trimmingTrailingNewlines(_ text: String) -> String {
        var result = Substring(text)
        while let last = result.last, last == "\n" || last == "\r" || last == "\r\n" {
            result = result.dropLast()
        }
        return String(result)
    }

    private static func write(_ text: String, to path: String, mode: mode_t) throws(FleetError) {
        try FileSystem.writeAtomically(path, text: text, mode: mode)
    }
}
