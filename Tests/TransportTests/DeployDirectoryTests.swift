import BenchSupport
import FleetCore
import Foundation
import Testing

@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Helpers

/// Builds a validated spec from cloud.yaml text (the only public way to make a `CloudSpec`).
private func makeSpec(_ yaml: String) throws -> CloudSpec {
    try CloudSpec.parse(text: yaml, path: "/tmp/cloud.yaml")
}

private let baseYAML = "repo:\n  url: https://github.com/example/app.git\n"

/// A YAML double-quoted scalar (JSON string syntax is valid YAML for these test values).
private func yamlString(_ value: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    let data = try! encoder.encode(value)
    return String(decoding: data, as: UTF8.self)
}

private struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A scratch directory; callers remove it with `defer { dir.remove() }`.
private struct TempDir {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/deploy-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Written with a close-on-exec descriptor: a program written without one can be inherited
    /// by a child another test spawns at that moment, and executing it then fails with "Text file
    /// busy" (exit 126) for as long as that child lives.
    func write(_ name: String, _ text: String, executable: Bool = false) throws {
        let target = file(name)
        try FileSystem.makeDirectories(PosixPath.dirname(target))
        try FileSystem.writeAtomically(target, text: text, mode: executable ? 0o755 : 0o644)
    }

    func read(_ name: String) -> String? { try? String(contentsOfFile: file(name), encoding: .utf8) }
}

/// A child process started with every signal unblocked and at its default disposition.
///
/// Foundation's `Process` on Linux hands its children a mask that blocks nearly every signal, so
/// `timeout`, `kill` and `trap ... INT` silently stop working in them; the wrappers under test rely
/// on signals, hence `posix_spawn` with `POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF`.
private struct Child {
    let pid: pid_t

    init(
        _ executable: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:],
        stdout: String = "/dev/null", stderr: String = "/dev/null"
    ) throws {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TMUX")
        for (key, value) in environment { env[key] = value }
        // bash changes the directory, then execs the program itself.
        let argv =
            [
                "/bin/bash", "-c", "cd -- \"$0\" && exec \"$@\"",
                cwd ?? FileManager.default.currentDirectoryPath, executable,
            ] + arguments
        let child = try BenchProcess.spawn(
            argv, environment: env, stdoutPath: stdout, stderrPath: stderr, append: true)
        pid = child
    }

    /// Waits for the child, killing it after `seconds` so a broken test cannot hang the suite.
    /// Returns the exit status, or 128 + signal.
    func wait(seconds: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 { return -1 }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(10_000)
        }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

/// Runs a program to completion; output goes through files so large output cannot deadlock.
private func run(
    _ executable: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:],
    scratch: TempDir
) throws -> RunResult {
    let id = UUID().uuidString
    let outPath = scratch.file(".out-\(id)")
    let errPath = scratch.file(".err-\(id)")
    let child = try Child(
        executable, arguments, cwd: cwd, environment: environment, stdout: outPath, stderr: errPath)
    let status = child.wait()
    let result = RunResult(
        status: status,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    try? FileManager.default.removeItem(atPath: outPath)
    try? FileManager.default.removeItem(atPath: errPath)
    return result
}

private func bashSyntaxCheck(_ script: String, scratch: TempDir) throws -> RunResult {
    let name = "syntax-\(UUID().uuidString).sh"
    try scratch.write(name, script)
    return try run("/bin/bash", ["-n", scratch.file(name)], scratch: scratch)
}

/// A stub program that records its arguments (one record per call, NUL-separated fields, records
/// ended by a line `--end--`) in `<dir>/<name>.argv`.
private func stubRecorder(_ name: String, in bin: TempDir, body: String = "") throws {
    let script = """
        #!/bin/bash
        for arg in "$@"; do printf '%s\\0' "$arg"; done >> \(ShellQuote.quote(bin.file(name + ".argv")))
        printf -- '--end--\\n' >> \(ShellQuote.quote(bin.file(name + ".argv")))
        \(body)
        exit 0
        """
    try bin.write(name, script, executable: true)
}

/// The calls recorded by `stubRecorder`, each as its argument list.
private func recordedCalls(_ name: String, in bin: TempDir) -> [[String]] {
    guard let text = bin.read(name + ".argv") else { return [] }
    return text.components(separatedBy: "--end--\n").dropLast().map { record in
        record.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
    }
}

/// A tmux stand-in: `has-session` answers "no such session"; `new-session -d -s S -c DIR CMD...`
/// records its argv, changes to DIR and runs the command the way tmux 3 does (one argument → a
/// shell command line; several → argv). `bash -lc` becomes `bash -c` so the login profile cannot
/// reset PATH away from the stubs.
private func stubTmux(in bin: TempDir, hasSession: Bool = false) throws {
    try stubRecorder(
        "tmux", in: bin,
        body: """
            if [ "$1" = has-session ]; then exit \(hasSession ? 0 : 1); fi
            shift
            dir=.
            while [ "$#" -gt 0 ]; do
              case "$1" in
                -d) shift ;;
                -s) shift 2 ;;
                -c) dir="$2"; shift 2 ;;
                *) break ;;
              esac
            done
            cd "$dir"
            if [ "$#" -ge 3 ] && [ "$1" = bash ] && [ "$2" = -lc ]; then exec bash -c "$3"; fi
            if [ "$#" -eq 1 ]; then exec bash -c "$1"; fi
            exec "$@"
            """)
}

/// The lines between the runner markers of the rendered entrypoint, preceded by the rendered
/// assignments of `MODE`, `IDEA_FILE` and `CHAIN_SPEC` — the entrypoint code that starts a runner.
private func runnerFragment(_ entrypoint: String) -> String {
    let lines = entrypoint.components(separatedBy: "\n")
    let assignments = lines.filter {
        $0.hasPrefix("MODE=") || $0.hasPrefix("IDEA_FILE=") || $0.hasPrefix("CHAIN_SPEC=")
    }
    let begin = lines.firstIndex(of: "# --- runner: begin ---")!
    let end = lines.firstIndex(of: "# --- runner: end ---")!
    return (["set -euo pipefail"] + assignments + Array(lines[begin...end])).joined(separator: "\n") + "\n"
}

private func mode(of path: String) throws -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else { throw CocoaError(.fileNoSuchFile) }
    return Int(info.st_mode & 0o7777)
}

private func assertOrdered(
    _ text: String, _ markers: [String], sourceLocation: SourceLocation = #_sourceLocation
) {
    var cursor = text.startIndex
    for marker in markers {
        guard let range = text.range(of: marker, range: cursor..<text.endIndex) else {
            Issue.record("missing or out of order: \(marker)", sourceLocation: sourceLocation)
            return
        }
        cursor = range.upperBound
    }
}

private func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

// MARK: - Dockerfile (§8.2)

@Suite struct DeployDirectoryTests {
    @Test func dockerfileCarriesTheReferenceSubstrings() throws {
        let dockerfile = DeployDirectory.renderDockerfile(try makeSpec(baseYAML))
        for needle in [
            "FROM ubuntu:22.04",
            "DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "PYENV_ROOT=/root/.pyenv",
            "PATH=/root/.pyenv/shims:/root/.pyenv/bin:/root/.local/bin:/usr/local/bin:/usr/bin:/bin",
            "NVM_DIR=/root/.nvm", "BUN_INSTALL=/root/.bun",
            "--no-install-recommends", "rm -rf /var/lib/apt/lists/*",
            "      unzip \\",
            "npm i -g @openai/codex @anthropic-ai/claude-code @dexh/shannon@0.0.2",
            "https://bun.sh/install",
            "ln -sf \"$NVBIN/codex\"  /usr/local/bin/codex",
            "ln -sf \"$NVBIN/claude\" /usr/local/bin/claude",
            "ln -sf \"$NVBIN/shannon\" /usr/local/bin/shannon",
            "ln -sf /root/.bun/bin/bun /usr/local/bin/bun",
            "codex --version", "claude --version", "command -v shannon", "bun --version",
            "https://cli.github.com/packages", "/etc/apt/keyrings", "install -y --no-install-recommends gh",
            "pyenv install 3.11.11", "pyenv global 3.11.11", "pip install --no-cache-dir --upgrade pip",
            "pipx",
            "nvm-sh/nvm/v0.40.1/install.sh", "nvm install 20", "nvm alias default 20",
            "ln -sf \"$NVBIN/node\" /usr/local/bin/node", "/usr/local/bin/npm", "/usr/local/bin/npx",
            "pip install --no-cache-dir \"megaplan-harness[agent] @ git+https://github.com/peteromallet/megaplan.git\"",
            "megaplan --help",
            "COPY entrypoint.sh healthserver.py /usr/local/bin/",
            "COPY wrappers/ /usr/local/bin/",
            "chmod +x /usr/local/bin/entrypoint.sh /usr/local/bin/mp-*",
            "WORKDIR /workspace\n", "EXPOSE 8080\n", "CMD [\"/usr/local/bin/entrypoint.sh\"]\n",
        ] {
            #expect(dockerfile.contains(needle), "Dockerfile lacks \(needle)")
        }
        #expect(!dockerfile.contains("megaplan/cloud/wrappers"))
        #expect(!dockerfile.contains("{{"))
    }

    @Test func dockerfileInstallsEveryAptPackage() throws {
        let dockerfile = DeployDirectory.renderDockerfile(try makeSpec(baseYAML))
        let packages = [
            "build-essential", "bubblewrap", "ca-certificates", "curl", "git", "jq", "libbz2-dev",
            "libffi-dev",
            "liblzma-dev", "libncurses-dev", "libreadline-dev", "libsqlite3-dev", "libssl-dev",
            "openssh-client",
            "procps", "ripgrep", "sudo", "tmux", "tzdata", "unzip", "vim", "wget", "xz-utils", "zlib1g-dev",
            "zsh",
        ]
        for package in packages {
            #expect(dockerfile.contains("      \(package) \\\n"), "apt lacks \(package)")
        }
    }

    @Test func dockerfileOrderAndFixedPort() throws {
        let dockerfile = DeployDirectory.renderDockerfile(
            try makeSpec(baseYAML + "resources:\n  port: 9000\n"))
        assertOrdered(
            dockerfile,
            [
                "FROM ubuntu:22.04", "ENV DEBIAN_FRONTEND", "apt-get install", "cli.github.com",
                "pyenv install",
                "nvm install 20", "bun.sh/install", "npm i -g", "megaplan-harness[agent]", "megaplan --help",
                "COPY entrypoint.sh", "COPY wrappers/", "chmod +x", "WORKDIR /workspace", "EXPOSE 8080",
                "CMD [",
            ])
        #expect(!dockerfile.contains("9000"))
        #expect(dockerfile.hasSuffix("CMD [\"/usr/local/bin/entrypoint.sh\"]\n"))
    }

    @Test func noToolchainsLeavesOneEmptyLine() throws {
        let dockerfile = DeployDirectory.renderDockerfile(try makeSpec(baseYAML))
        #expect(DeployDirectory.toolchainBlock([]) == "")
        #expect(dockerfile.contains("megaplan --help >/dev/null\n\n\nCOPY entrypoint.sh"))
        #expect(!dockerfile.contains("# Toolchain"))
    }

    @Test func toolchainAliasesUseTheExactRecipes() throws {
        let spec = try makeSpec(baseYAML + "toolchains: [rust, go, java]\n")
        let dockerfile = DeployDirectory.renderDockerfile(spec)
        let rust = """
            # Toolchain: rust
            RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
            ENV PATH=/root/.cargo/bin:${PATH}
            """
        let go = """
            # Toolchain: go
            RUN curl -fsSL https://go.dev/dl/go1.22.5.linux-amd64.tar.gz -o /tmp/go.tar.gz \\
                && tar -C /usr/local -xzf /tmp/go.tar.gz \\
                && rm -f /tmp/go.tar.gz
            ENV PATH=/usr/local/go/bin:${PATH}
            """
        let java = """
            # Toolchain: java
            RUN apt-get update \\
                && apt-get install -y --no-install-recommends openjdk-17-jdk \\
                && rm -rf /var/lib/apt/lists/*
            ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
            ENV PATH=${JAVA_HOME}/bin:${PATH}
            """
        let block = [rust, go, java].joined(separator: "\n\n")
        #expect(DeployDirectory.toolchainBlock(spec.toolchains) == block)
        #expect(dockerfile.contains("megaplan --help >/dev/null\n\n" + block + "\nCOPY entrypoint.sh"))
        #expect(rust.contains("https://sh.rustup.rs") && rust.contains("sh -s -- -y"))
    }

    @Test func customToolchainSnippetIsEmittedVerbatim() throws {
        let yaml =
            baseYAML + """
                toolchains:
                  - rust
                  - name: deno
                    install: "RUN curl -fsSL https://deno.land/install.sh | sh"
                  - name: zig
                    install: |
                      RUN echo '{{NOT_A_PLACEHOLDER}}' > /etc/zig
                      ENV ZIG=1

                """
        let spec = try makeSpec(yaml)
        let block = DeployDirectory.toolchainBlock(spec.toolchains)
        #expect(
            block.hasSuffix(
                """

                # Toolchain: deno
                RUN curl -fsSL https://deno.land/install.sh | sh

                # Toolchain: zig
                RUN echo '{{NOT_A_PLACEHOLDER}}' > /etc/zig
                ENV ZIG=1
                """))
        #expect(block.hasPrefix("# Toolchain: rust\n"))
        // User text that looks like a placeholder is not rescanned.
        #expect(DeployDirectory.renderDockerfile(spec).contains("'{{NOT_A_PLACEHOLDER}}'"))
    }

    @Test func aliasNameWithCustomInstallUsesTheInstallText() throws {
        let spec = try makeSpec(
            baseYAML + "toolchains:\n  - {name: rust, install: go}\n  - {name: my tool, install: RUN true}\n")
        let block = DeployDirectory.toolchainBlock(spec.toolchains)
        #expect(block.hasPrefix("# Toolchain: go\n"))
        #expect(block.hasSuffix("\n\n# Toolchain: my tool\nRUN true"))
    }

    // MARK: - entrypoint.sh (§8.3)

    @Test func entrypointObservableAssertions() throws {
        let spec = try makeSpec(
            baseYAML
                + "mode: auto\nauto:\n  plan_name: my-plan\n  idea_file: /workspace/idea.txt\n  robustness: heavy\n"
        )
        let script = DeployDirectory.renderEntrypoint(spec)
        #expect(script.hasPrefix("#!/usr/bin/env bash\n"))
        #expect(!script.contains("{{"))
        for placeholder in ["${REPO_URL}", "${REPO_BRANCH}", "${WORKSPACE}", "${WORKSPACE_PATH}", "${MODE}"] {
            #expect(!script.contains(placeholder))
        }
        #expect(occurrences(of: "/workspace/app", in: script) >= 2)
        #expect(
            script.contains(
                "mkdir -p /workspace && if [ ! -d /workspace/app/.git ]; then git clone --branch main -- https://github.com/example/app.git /workspace/app; else true; fi"
            ))
        let routing = script.components(separatedBy: "\n").filter {
            $0.hasPrefix("megaplan config set agents.")
        }
        #expect(routing.count == 13)
        #expect(
            !script.components(separatedBy: "\n").contains {
                $0.contains("config set agents.") && !$0.hasPrefix("megaplan config set agents.")
            })
        // Auto runner.
        #expect(script.contains("if [ ! -f \"$IDEA_FILE\" ]; then"))
        #expect(script.contains("megaplan init --project-dir /workspace/app --name my-plan"))
        #expect(script.contains("megaplan auto --plan my-plan"))
        #expect(script.contains("--auto-approve --robustness heavy"))
        #expect(script.contains("exec mp-supervise auto-my-plan megaplan auto --plan my-plan"))
        // Chain runner.
        #expect(script.contains("if [ ! -f \"$CHAIN_SPEC\" ]; then"))
        #expect(script.contains("mp-chain /workspace/chain.yaml"))
        // Idle runner.
        #expect(script.contains("tmux new-session -d -s agent -c /workspace/app \"bash -l\""))
        #expect(script.contains("execution.robustness \"heavy\""))
    }

    /// `codex login --with-api-key` reads the key from stdin: it gets exactly the value, with no
    /// trailing newline (the reference pipes `printf '%s'`).
    @Test func codexLoginReceivesTheKeyWithoutANewline() throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubRecorder("codex", in: bin, body: "cat > \(ShellQuote.quote(bin.file("codex.stdin")))")
        let lines = DeployDirectory.renderEntrypoint(try makeSpec(baseYAML)).components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex(of: "# 7. Codex login."))
        let end = try #require(lines.firstIndex(of: "# 8. Claude token (never fatal)."))
        let block = lines[begin..<end].joined(separator: "\n")
            .replacingOccurrences(of: "/root/.codex", with: scratch.file("codex-home"))
        try scratch.write("login.sh", "set -euo pipefail\n" + block + "\n")
        let key = "sk-test-0123456789abcdef"
        let result = try run(
            "/bin/bash", [scratch.file("login.sh")],
            environment: ["PATH": bin.path + ":/usr/bin:/bin", "OPENAI_API_KEY": key], scratch: scratch)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(recordedCalls("codex", in: bin) == [["login", "--with-api-key"]])
        #expect(bin.read("codex.stdin") == key)
    }

    @Test func entrypointStepsInOrderWithExactStrings() throws {
        let spec = try makeSpec(
            baseYAML + "codex:\n  model: gpt-5.4-mini\n  reasoning: medium\nmegaplan:\n  ref: v0.19.0\n"
                + "mode: chain\nchain:\n  spec: /workspace/app/chains/main.yaml\n")
        let script = DeployDirectory.renderEntrypoint(spec)
        assertOrdered(
            script,
            [
                "set -euo pipefail",
                "tee -a /var/log/entrypoint.log",
                "entrypoint starting ===",
                "mkdir -p /workspace /root/.ssh /root/.config/megaplan /root/.codex\n",
                "chmod 700 /root/.ssh\n",
                "REPO_URL=https://github.com/example/app.git",
                "REPO_BRANCH=main",
                "WORKSPACE_PATH=/workspace/app\n",
                "MODE=chain\n",
                "IDEA_FILE=/workspace/idea.txt\n",
                "CHAIN_SPEC=/workspace/app/chains/main.yaml\n",
                "AUTO_PLAN_NAME=idle-plan\n",
                "export MEGAPLAN_TRUSTED_CONTAINER=1\n",
                "git config --global user.email \"${GIT_EMAIL:-codex-agent@example.com}\"",
                "git config --global user.name \"${GIT_NAME:-Codex Agent}\"",
                "git config --global init.defaultBranch main",
                "git config --global pull.rebase false",
                "git config --global --add safe.directory /workspace/app",
                "if [[ -n \"${GITHUB_TOKEN:-}\" ]]; then",
                "git config --global credential.helper store",
                "https://x-access-token:%s@github.com",
                "/root/.git-credentials",
                "chmod 600 /root/.git-credentials",
                "mkdir -p /workspace && if [ ! -d /workspace/app/.git ]; then git clone --branch main --",
                "OPENAI_API_KEY", "! -f /root/.codex/auth.json", "codex login --with-api-key", "|| true",
                "if [[ -n \"${ANTHROPIC_API_KEY:-}\" ]]; then",
                "timeout 15 claude setup-token",
                "WARN: Claude token auth failed or timed out; continuing — claude CLI will use ANTHROPIC_API_KEY env var directly",
                "# sandbox_mode = \"danger-full-access\" stays on because the container is the sandbox.",
                "/root/.codex/config.toml",
                "model = \"gpt-5.4-mini\"\n",
                "model_reasoning_effort = \"medium\"\n",
                "sandbox_mode = \"danger-full-access\"\n",
                "approval_policy = \"never\"\n",
                "MEGAPLAN_REF=v0.19.0",
                "pip install --upgrade --force-reinstall --no-cache-dir \"megaplan-harness[agent] @ git+https://github.com/peteromallet/megaplan.git@$MEGAPLAN_REF\"",
                "megaplan config set agents.plan ",
                "megaplan config set agents.tiebreaker_challenger ",
                "megaplan config set execution.auto_approve true >/dev/null 2>&1 || true\n",
                "megaplan config set execution.robustness \"standard\" >/dev/null 2>&1 || true\n",
                "echo \"Runner mode: $MODE\"",
                "tmux has-session -t heartbeat",
                "tmux new-session -d -s heartbeat -c /workspace \"bash -lc '/usr/local/bin/mp-heartbeat'\"",
                "python3 /usr/local/bin/healthserver.py &",
                "HEALTH_PID=$!",
                "tmux has-session -t agent",
                "WARN: idea file missing, dropping to idle",
                "WARN: chain spec missing, dropping to idle",
                "echo \"tmux 'agent' session ready — attach: railway ssh --session agent\"",
                "echo \"=== entrypoint idle ===\"",
                "wait \"$HEALTH_PID\"",
            ])
        #expect(script.contains("=== $(date -u +%Y-%m-%dT%H:%M:%SZ) entrypoint starting ==="))
        #expect(!script.contains("exit 1"))
        #expect(script.contains("exec mp-supervise chain mp-chain /workspace/app/chains/main.yaml"))
    }

    @Test func routingFollowsPhaseThenDefaultThenBuiltIn() throws {
        func routes(_ yaml: String) throws -> [String] {
            DeployDirectory.routingLines(try makeSpec(baseYAML + yaml))
        }
        // Absent agents → {default: codex}: every phase goes to codex.
        let defaults = try routes("")
        #expect(defaults.count == 13)
        for (line, phase) in zip(defaults, CloudSpec.phaseKeys) {
            #expect(line == "megaplan config set agents.\(phase) codex >/dev/null 2>&1 || true")
        }
        // No default entry: built-in routes, overridden per phase.
        let builtIn = try routes("agents:\n  review: claude\n  feedback: shannon\n")
        let expected = CloudSpec.phaseKeys.map { phase -> String in
            let agent = ["review": "claude", "feedback": "shannon"][phase] ?? CloudSpec.defaultRoutes[phase]!
            return "megaplan config set agents.\(phase) \(agent) >/dev/null 2>&1 || true"
        }
        #expect(builtIn == expected)
        #expect(builtIn[5] == "megaplan config set agents.feedback shannon >/dev/null 2>&1 || true")
        #expect(builtIn[0] == "megaplan config set agents.plan claude >/dev/null 2>&1 || true")
        // Default plus a phase override.
        let mixed = try routes("agents:\n  default: hermes\n  execute: claude\n")
        #expect(mixed[7] == "megaplan config set agents.execute claude >/dev/null 2>&1 || true")
        #expect(mixed.filter { $0.contains(" hermes ") }.count == 12)
        // The built-in feedback route needs no quoting.
        let fallback = try routes("agents:\n  plan: codex\n")
        #expect(fallback[5] == "megaplan config set agents.feedback claude:low >/dev/null 2>&1 || true")
    }

    @Test func entrypointQuotesAwkwardValues() throws {
        let yaml = """
            repo:
              url: "https://github.com/example/it's app.git"
              branch: "feature/x y"
              workspace: "/workspace/my app"
            codex:
              model: 'gpt "quoted" \\ model'
            megaplan:
              ref: "main; rm -rf /"
            mode: auto
            auto:
              plan_name: "it's"
              idea_file: "/workspace/my ideas/idea $1.txt"
              robustness: "very heavy"

            """
        let spec = try makeSpec(yaml)
        let scratch = try TempDir()
        defer { scratch.remove() }
        let script = DeployDirectory.renderEntrypoint(spec)
        #expect(!script.contains("{{"))
        #expect(script.contains("WORKSPACE_PATH='/workspace/my app'\n"))
        #expect(script.contains("git config --global --add safe.directory '/workspace/my app'\n"))
        #expect(script.contains("IDEA_FILE='/workspace/my ideas/idea $1.txt'\n"))
        #expect(script.contains("AUTO_PLAN_NAME='it'\"'\"'s'\n"))
        #expect(script.contains("then REPO_URL='https://github.com/example/it'\"'\"'s app.git'; fi"))
        #expect(script.contains("then MEGAPLAN_REF='main; rm -rf /'; fi"))
        #expect(
            script.contains(
                "mkdir -p /workspace && if [ ! -d '/workspace/my app/.git' ]; then git clone --branch 'feature/x y' -- 'https://github.com/example/it'\"'\"'s app.git' '/workspace/my app'; else true; fi"
            ))
        #expect(script.contains("tmux new-session -d -s agent -c '/workspace/my app' \"bash -l\""))
        #expect(script.contains("model = \"gpt \\\"quoted\\\" \\\\ model\"\n"))
        #expect(
            script.contains("megaplan config set execution.robustness 'very heavy' >/dev/null 2>&1 || true"))
        #expect(try bashSyntaxCheck(script, scratch: scratch).status == 0)
    }

    @Test(arguments: ["idle", "auto", "chain"])
    func entrypointPassesBashSyntaxCheck(mode: String) throws {
        var yaml = baseYAML + "mode: \(mode)\n"
        if mode == "auto" { yaml += "auto: {plan_name: p, idea_file: /workspace/idea.txt}\n" }
        if mode == "chain" { yaml += "chain: {spec: \"/workspace/chain spec.yaml\"}\n" }
        let scratch = try TempDir()
        defer { scratch.remove() }
        let result = try bashSyntaxCheck(
            DeployDirectory.renderEntrypoint(try makeSpec(yaml)), scratch: scratch)
        #expect(result.status == 0, "bash -n: \(result.stderr)")
    }

    // MARK: - Runners, executed

    @Test func autoRunnerRunsWithAwkwardPlanNameAndNoUnboundVariable() throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubTmux(in: bin)
        try stubRecorder("megaplan", in: bin)
        try stubRecorder("mp-supervise", in: bin)
        let workspace = scratch.file("my app")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let ideaPath = scratch.file("idea's file.txt")
        let ideaText = "Build \"x\" for it's $HOME and `date`\nsecond line"
        try ideaText.write(toFile: ideaPath, atomically: true, encoding: .utf8)
        let plan = "it's a \"plan\" $USER"
        let yaml =
            "repo:\n  url: https://github.com/example/app.git\n  workspace: \(yamlString(workspace))\n"
            + "mode: auto\nauto:\n  plan_name: \(yamlString(plan))\n  idea_file: \(yamlString(ideaPath))\n"
            + "  robustness: \"light weight\"\n"
        let spec = try makeSpec(yaml)
        let fragment = runnerFragment(DeployDirectory.renderEntrypoint(spec))
        try scratch.write("runner.sh", fragment)
        let environment = ["PATH": bin.path + ":/usr/bin:/bin"]

        let first = try run(
            "/bin/bash", [scratch.file("runner.sh")], cwd: scratch.path, environment: environment,
            scratch: scratch)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(!first.stderr.contains("unbound variable"))
        let tmux = recordedCalls("tmux", in: bin)
        #expect(tmux.count == 2)
        #expect(tmux.first == ["has-session", "-t", "agent"])
        let launch = try #require(tmux.last)
        #expect(
            Array(launch.prefix(8)) == ["new-session", "-d", "-s", "agent", "-c", workspace, "bash", "-lc"])
        #expect(launch.count == 9)
        #expect(launch.last == DeployDirectory.autoRunnerScript(spec))
        #expect(
            recordedCalls("megaplan", in: bin) == [
                [
                    "init", "--project-dir", workspace, "--name", plan, "--auto-approve", "--robustness",
                    "light weight", ideaText,
                ]
            ])
        #expect(
            recordedCalls("mp-supervise", in: bin) == [["auto-" + plan, "megaplan", "auto", "--plan", plan]])

        // Once the plan exists, the runner goes straight to `megaplan auto`.
        try FileManager.default.createDirectory(
            atPath: workspace + "/.megaplan/plans/" + plan, withIntermediateDirectories: true)
        let second = try run(
            "/bin/bash", [scratch.file("runner.sh")], cwd: scratch.path, environment: environment,
            scratch: scratch)
        #expect(second.status == 0, "stderr: \(second.stderr)")
        #expect(recordedCalls("megaplan", in: bin).count == 1)
        #expect(recordedCalls("mp-supervise", in: bin).count == 2)
    }

    @Test func autoRunnerDropsToIdleWithoutIdeaFile() throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubRecorder("tmux", in: bin, body: "[ \"$1\" = has-session ] && exit 1")
        let workspace = scratch.file("ws")
        let yaml =
            "repo:\n  url: u\n  workspace: \(yamlString(workspace))\nmode: auto\n"
            + "auto:\n  plan_name: p\n  idea_file: \(yamlString(scratch.file("missing.txt")))\n"
        let fragment = runnerFragment(DeployDirectory.renderEntrypoint(try makeSpec(yaml)))
        try scratch.write("runner.sh", fragment)
        let result = try run(
            "/bin/bash", [scratch.file("runner.sh")], environment: ["PATH": bin.path + ":/usr/bin:/bin"],
            scratch: scratch)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("WARN: idea file missing, dropping to idle"))
        #expect(
            recordedCalls("tmux", in: bin).last == [
                "new-session", "-d", "-s", "agent", "-c", workspace, "bash -l",
            ])
    }

    @Test func chainRunnerSupervisesMpChain() throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubTmux(in: bin)
        try stubRecorder("mp-supervise", in: bin)
        let workspace = scratch.file("ws")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        let chainSpec = scratch.file("chain's spec.yaml")
        try scratch.write("chain's spec.yaml", "milestones: []\n")
        let yaml =
            "repo:\n  url: u\n  workspace: \(yamlString(workspace))\nmode: chain\n"
            + "chain:\n  spec: \(yamlString(chainSpec))\n"
        let spec = try makeSpec(yaml)
        try scratch.write("runner.sh", runnerFragment(DeployDirectory.renderEntrypoint(spec)))
        let result = try run(
            "/bin/bash", [scratch.file("runner.sh")], environment: ["PATH": bin.path + ":/usr/bin:/bin"],
            scratch: scratch)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(recordedCalls("mp-supervise", in: bin) == [["chain", "mp-chain", chainSpec]])
        #expect(recordedCalls("tmux", in: bin).last?.last == DeployDirectory.chainRunnerScript(spec))
        #expect(
            DeployDirectory.chainRunnerScript(spec).hasPrefix(
                "set -euo pipefail\nexec mp-supervise chain mp-chain "))

        // Without the spec file the runner drops to idle.
        try FileManager.default.removeItem(atPath: chainSpec)
        let idle = try run(
            "/bin/bash", [scratch.file("runner.sh")], environment: ["PATH": bin.path + ":/usr/bin:/bin"],
            scratch: scratch)
        #expect(idle.stdout.contains("WARN: chain spec missing, dropping to idle"))
        #expect(
            recordedCalls("tmux", in: bin).last == [
                "new-session", "-d", "-s", "agent", "-c", workspace, "bash -l",
            ])
    }

    @Test func existingAgentSessionIsLeftAlone() throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubTmux(in: bin, hasSession: true)
        try scratch.write(
            "runner.sh", runnerFragment(DeployDirectory.renderEntrypoint(try makeSpec(baseYAML))))
        let result = try run(
            "/bin/bash", [scratch.file("runner.sh")], environment: ["PATH": bin.path + ":/usr/bin:/bin"],
            scratch: scratch)
        #expect(result.status == 0)
        #expect(recordedCalls("tmux", in: bin) == [["has-session", "-t", "agent"]])
    }

    // MARK: - Wrappers (§8.7)

    @Test(arguments: DeployDirectory.wrapperNames)
    func wrapperPassesBashSyntaxCheck(name: String) throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let source = DeployDirectory.wrapperSource(name)
        #expect(source.hasPrefix("#!/usr/bin/env bash\n"))
        #expect(!source.contains("{{"))
        let result = try bashSyntaxCheck(source, scratch: scratch)
        #expect(result.status == 0, "bash -n \(name): \(result.stderr)")
    }

    private func materializedWrappers() throws -> TempDir {
        let dir = try TempDir()
        try DeployDirectory.materialize(try makeSpec(baseYAML), into: dir.path)
        return dir
    }

    @Test func mpChainCreatesTheLogDirectoryInAFreshClone() throws {
        let deploy = try materializedWrappers()
        defer { deploy.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubRecorder(
            "megaplan", in: bin, body: "echo \"stub megaplan trusted=$MEGAPLAN_TRUSTED_CONTAINER $*\"")
        let clone = try TempDir()
        defer { clone.remove() }
        let env = ["PATH": bin.path + ":/usr/bin:/bin"]
        let chain = deploy.file("wrappers/mp-chain")

        let result = try run(
            chain, ["/workspace/app/chain b.yaml"], cwd: clone.path, environment: env, scratch: clone)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: clone.file(".megaplan/cloud-chain.log")))
        #expect(
            recordedCalls("megaplan", in: bin) == [
                ["chain", "start", "--spec", "/workspace/app/chain b.yaml"]
            ])
        #expect(
            clone.read(".megaplan/cloud-chain.log")
                == "stub megaplan trusted=1 chain start --spec /workspace/app/chain b.yaml\n")

        let one = try run(chain, ["/s.yaml", "--one"], cwd: clone.path, environment: env, scratch: clone)
        #expect(one.status == 0)
        #expect(recordedCalls("megaplan", in: bin).last == ["chain", "start", "--spec", "/s.yaml", "--one"])
        let other = try run(chain, ["/s.yaml", "--two"], cwd: clone.path, environment: env, scratch: clone)
        #expect(other.status == 0)
        #expect(recordedCalls("megaplan", in: bin).last == ["chain", "start", "--spec", "/s.yaml"])
        #expect(clone.read(".megaplan/cloud-chain.log")?.components(separatedBy: "\n").count == 4)
    }

    @Test func mpChainArgumentsMatchTheCanonicalChainStart() throws {
        let canonical =
            "MEGAPLAN_TRUSTED_CONTAINER=1 megaplan chain start --spec \"$SPEC\" --one >> .megaplan/cloud-chain.log 2>&1"
        let source = DeployDirectory.wrapperSource("mp-chain")
        #expect(source.contains("exec env " + canonical))
        #expect(
            source.contains(
                "exec env MEGAPLAN_TRUSTED_CONTAINER=1 megaplan chain start --spec \"$SPEC\" >> .megaplan/cloud-chain.log 2>&1"
            ))
        assertOrdered(source, ["mkdir -p .megaplan", ">> .megaplan/cloud-chain.log"])
    }

    @Test func mpRunUsageAndModes() throws {
        let deploy = try materializedWrappers()
        defer { deploy.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        let mpRun = deploy.file("wrappers/mp-run")
        let env = ["PATH": bin.path + ":/usr/bin:/bin"]
        for arguments in [[], ["only-session"]] {
            let usage = try run(mpRun, arguments, environment: env, scratch: bin)
            #expect(usage.status == 64)
            #expect(usage.stderr == "usage: mp-run <session-name> <command...>\n")
        }
        // Inside tmux the command runs in place.
        let inPlace = try run(
            mpRun, ["s", "printf", "%s|", "a b", "it's"], environment: env.merging(["TMUX": "x"]) { $1 },
            scratch: bin)
        #expect(inPlace.status == 0)
        #expect(inPlace.stdout == "a b|it's|")
    }

    @Test func mpRunRefusesAnExistingSession() throws {
        let deploy = try materializedWrappers()
        defer { deploy.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubTmux(in: bin, hasSession: true)
        let result = try run(
            deploy.file("wrappers/mp-run"), ["job", "true"],
            environment: ["PATH": bin.path + ":/usr/bin:/bin"],
            scratch: bin)
        #expect(result.status == 65)
        #expect(
            result.stderr
                == "mp-run: tmux session 'job' already exists. Attach: railway ssh -- tmux attach -t job\n")
    }

    @Test func mpRunLaunchesADetachedSession() throws {
        let deploy = try materializedWrappers()
        defer { deploy.remove() }
        let bin = try TempDir()
        defer { bin.remove() }
        try stubRecorder("tmux", in: bin, body: "[ \"$1\" = has-session ] && exit 1")
        let result = try run(
            deploy.file("wrappers/mp-run"), ["job", "echo", "a b"],
            environment: ["PATH": bin.path + ":/usr/bin:/bin", "WORKSPACE_PATH": "/srv/my app"], scratch: bin)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(
            result.stdout
                == "mp-run: launched 'job' in detached tmux. Attach: railway ssh -- tmux attach -t job  |  Log: /workspace/job.log\n"
        )
        let launch = try #require(recordedCalls("tmux", in: bin).last)
        #expect(
            Array(launch.prefix(8)) == ["new-session", "-d", "-s", "job", "-c", "/srv/my app", "bash", "-lc"])
        #expect(launch.last == "set -o pipefail; echo a\\ b 2>&1 | tee -a /workspace/job.log")
    }

    @Test func mpSuperviseUsageAndCleanExit() throws {
        let deploy = try materializedWrappers()
        defer { deploy.remove() }
        let logs = try TempDir()
        defer { logs.remove() }
        let supervise = deploy.file("wrappers/mp-supervise")
        for arguments in [[], ["suffix"]] {
            let usage = try run(supervise, arguments, scratch: logs)
            #expect(usage.status == 64)
            #expect(usage.stderr == "usage: mp-supervise <log-suffix> <cmd...>\n")
        }
        let clean = try run(
            supervise, ["unit", "bash", "-c", "echo inner output; exit 0"],
            environment: ["MP_LOG_DIR": logs.path],
            scratch: logs)
        #expect(clean.status == 0, "stderr: \(clean.stderr)")
        #expect(clean.stdout.contains("inner output\n"))
        assertOrdered(
            clean.stdout,
            [
                "] starting cmd: bash -c echo inner output; exit 0\n", "inner output\n",
                "] cmd exited rc=0\n",
                "] cmd exited clean (rc=0) — supervisor exiting; inner driver owns plan state\n",
            ])
        let log = try #require(logs.read("supervise-unit.log"))
        let lines = log.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.hasPrefix("[supervise ") })
        #expect(!lines.contains("inner output"))
    }

    @Test func mpSuperviseBackoffAndStreakRules() throws {
        // The retry schedule is checked on the script text: running it would sleep for minutes.
        let source = DeployDirectory.wrapperSource("mp-supervise")
        for needle in [
            "quota_exceeded|insufficient_quota|rate_limit",
            "STREAK: same error class '$class' x$streak — supervisor stops",
            "quota retries exhausted ($quota_count > $QUOTA_MAX) — supervisor stops",
            "quota_exceeded retry $quota_count/$QUOTA_MAX — sleeping 1800s",
            "non-quota retries exhausted ($error_count > $ERROR_MAX) — supervisor stops",
            "error retry $error_count/$ERROR_MAX — sleeping ${backoff}s",
            "backoff=$((60 << (error_count - 1)))",
            "QUOTA_MAX=4", "ERROR_MAX=5", "STREAK_MAX=5", "sleep 1800",
        ] {
            #expect(source.contains(needle), "mp-supervise lacks \(needle)")
        }
    }

    @Test func mpHeartbeatWarnsStallsAndInterrupts() throws {
        let deploy = try materializedWrappers()
        defer { deploy.remove() }
        let logs = try TempDir()
        defer { logs.remove() }
        // A stand-in for `codex exec ... -o /tmp/...` whose output file never changes. Its command
        // line uses a unique program name, so no other watcher on this machine can interrupt it
        // and this watcher sees nothing else; the default pattern is checked on the script text.
        let tag = UUID().uuidString
        let output = "/tmp/heartbeat-test-\(tag).txt"
        try "last line of output\n".write(toFile: output, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let fake = try Child(
            "/bin/bash",
            ["-c", "trap 'exit 7' INT; while :; do sleep 0.2; done", "codex-\(tag)", "exec", "-o", output])
        defer { kill(fake.pid, SIGKILL) }

        // Two runs, each left looping until `timeout` stops it: the watcher samples once per
        // interval, and on a busy machine one sample can jump from quiet straight past the stall
        // threshold, so the warning is checked with a stall threshold no run reaches.
        func watch(stallSeconds: Int) throws -> String {
            let result = try run(
                "/usr/bin/timeout", ["6", deploy.file("wrappers/mp-heartbeat")],
                environment: [
                    "MP_LOG_DIR": logs.path, "HEARTBEAT_INTERVAL_SECS": "1", "HEARTBEAT_WARN_SECS": "1",
                    "HEARTBEAT_STALL_SECS": String(stallSeconds), "HEARTBEAT_MATCH": "codex-\(tag) exec",
                ], scratch: logs)
            #expect(result.status == 124)  // still looping when timeout stopped it
            let log = try #require(logs.read("heartbeat.log"))
            try FileManager.default.removeItem(atPath: logs.path + "/heartbeat.log")
            return log
        }
        let warned = try watch(stallSeconds: 3600)
        #expect(warned.hasPrefix("[heartbeat "))
        #expect(warned.contains("] starting (warn=1s stall=3600s kill=1)\n"))
        #expect(warned.contains("] WARN pid=\(fake.pid) "))
        #expect(warned.contains("file=\(output)\n"))
        #expect(!warned.contains("STALL"))
        let stalled = try watch(stallSeconds: 2)
        #expect(stalled.contains("] STALL pid=\(fake.pid) "))
        #expect(stalled.contains("file=\(output) last=last line of output"))
        #expect(fake.wait(seconds: 5) == 7)  // SIGINT reached it
        #expect(
            DeployDirectory.wrapperSource("mp-heartbeat").contains("MATCH=\"${HEARTBEAT_MATCH:-codex exec}\"")
        )
    }

    // MARK: - Health server (§8.6)

    @Test func healthServerAnswersEveryGet() throws {
        let scratch = try TempDir()
        defer { scratch.remove() }
        let server = DeployDirectory.healthServerSource()
        #expect(server.contains("OK - reigh-megaplan-dev container alive\\n"))
        #expect(server.contains("ThreadingHTTPServer"))
        try scratch.write("healthserver.py", server)
        let port = Int.random(in: 20000...40000)
        let script = """
            python3 \(ShellQuote.quote(scratch.file("healthserver.py"))) > server.out 2>&1 &
            pid=$!
            trap 'kill $pid' EXIT
            for _ in $(seq 50); do grep -q listening server.out 2>/dev/null && break; sleep 0.1; done
            cat server.out
            curl -s -m 5 -i http://127.0.0.1:\(port)/
            echo ---
            curl -s -m 5 http://127.0.0.1:\(port)/any/path?x=1
            """
        let result = try run(
            "/bin/bash", ["-c", script], cwd: scratch.path, environment: ["PORT": "\(port)"], scratch: scratch
        )
        #expect(result.stdout.hasPrefix("healthserver listening on :\(port)\n"))
        #expect(result.stdout.contains("HTTP/1.0 200 OK\r\n"))
        #expect(result.stdout.contains("Content-Type: text/plain; charset=utf-8\r\n"))
        #expect(result.stdout.contains("Content-Length: 40\r\n"))
        #expect(
            result.stdout.hasSuffix(
                "\r\n\r\nOK - reigh-megaplan-dev container alive\n---\nOK - reigh-megaplan-dev container alive\n"
            ))
    }

    // MARK: - Compose and Railway (§8.4, §8.5)

    @Test func composeMatchesTheReference() throws {
        let spec = try makeSpec(baseYAML + "provider: local\nresources:\n  port: 9090\n")
        #expect(
            DeployDirectory.renderCompose(spec) == """
                services:
                  agent:
                    build:
                      context: .
                    working_dir: /workspace/app
                    env_file:
                      - .env
                    ports:
                      - "9090:9090"
                    volumes:
                      - ./workspace:/workspace/app

                """)
    }

    @Test func composeQuotesAwkwardValues() throws {
        let yaml = """
            provider: local
            repo:
              url: u
              workspace: "/workspace/my app #1 $HOME \\"x\\""
            local:
              workdir: "data dir"

            """
        let compose = DeployDirectory.renderCompose(try makeSpec(yaml))
        #expect(compose.contains("    working_dir: \"/workspace/my app #1 $$HOME \\\"x\\\"\"\n"))
        #expect(compose.contains("      - \"./data dir:/workspace/my app #1 $$HOME \\\"x\\\"\"\n"))
        // The quoted values read back as the intended strings (Compose then turns `$$` into `$`).
        let scratch = try TempDir()
        defer { scratch.remove() }
        try scratch.write("compose.yaml", compose)
        let check = try run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import json,sys,yaml; d=yaml.safe_load(open(sys.argv[1])); a=d['services']['agent']; print(json.dumps([a['working_dir'], a['volumes'][0]]))",
                scratch.file("compose.yaml"),
            ], scratch: scratch)
        if check.status == 0 {  // only where PyYAML is installed
            #expect(
                check.stdout
                    == "[\"/workspace/my app #1 $$HOME \\\"x\\\"\", \"./data dir:/workspace/my app #1 $$HOME \\\"x\\\"\"]\n"
            )
        }
    }

    @Test func railwayTomlValues() {
        #expect(
            DeployDirectory.renderRailwayToml() == """
                [build]
                builder = "DOCKERFILE"

                [deploy]
                startCommand = "/usr/local/bin/entrypoint.sh"
                restartPolicyType = "ON_FAILURE"
                restartPolicyMaxRetries = 3
                healthcheckPath = "/"
                healthcheckTimeout = 300
                numReplicas = 1

                """)
    }

    @Test func tomlAndComposeQuotingHelpers() {
        #expect(DeployDirectory.tomlString("gpt-5.4") == "\"gpt-5.4\"")
        #expect(DeployDirectory.tomlString("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
        #expect(DeployDirectory.composeScalar("/workspace/app") == "/workspace/app")
        #expect(DeployDirectory.composeScalar("./workspace:/workspace/app") == "./workspace:/workspace/app")
        #expect(DeployDirectory.composeScalar("/a:") == "\"/a:\"")
        #expect(DeployDirectory.composeScalar("/a b") == "\"/a b\"")
        #expect(DeployDirectory.composeScalar("/a$b") == "\"/a$$b\"")
    }

    // MARK: - Materialization (§8.1)

    @Test func materializeWritesEveryFileWithModes() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let destination = dir.file("deploy/nested")
        try DeployDirectory.materialize(try makeSpec(baseYAML), into: destination)
        for name in ["Dockerfile", "railway.toml", "healthserver.py"] {
            #expect(try mode(of: destination + "/" + name) == 0o644, "\(name)")
        }
        #expect(try mode(of: destination + "/entrypoint.sh") == 0o755)
        for name in DeployDirectory.wrapperNames {
            #expect(try mode(of: destination + "/wrappers/" + name) == 0o755, "\(name)")
        }
        // Railway: no compose file, no work directory.
        #expect(!FileManager.default.fileExists(atPath: destination + "/docker-compose.yaml"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/workspace"))
        let listing = try FileManager.default.contentsOfDirectory(atPath: destination).sorted()
        #expect(listing == ["Dockerfile", "entrypoint.sh", "healthserver.py", "railway.toml", "wrappers"])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: destination + "/wrappers").sorted()
                == ["mp-chain", "mp-heartbeat", "mp-run", "mp-supervise"])
        let spec = try makeSpec(baseYAML)
        #expect(
            try String(contentsOfFile: destination + "/entrypoint.sh", encoding: .utf8)
                == DeployDirectory.renderEntrypoint(spec))
        #expect(
            try String(contentsOfFile: destination + "/healthserver.py", encoding: .utf8)
                == DeployDirectory.healthServerSource())
        for name in DeployDirectory.wrapperNames {
            #expect(
                try String(contentsOfFile: destination + "/wrappers/" + name, encoding: .utf8)
                    == DeployDirectory.wrapperSource(name))
        }
    }

    @Test func materializeLocalWritesComposeAndWorkdir() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let spec = try makeSpec(baseYAML + "provider: local\nlocal:\n  workdir: data\n")
        try DeployDirectory.materialize(spec, into: dir.path)
        #expect(dir.read("docker-compose.yaml") == DeployDirectory.renderCompose(spec))
        #expect(try mode(of: dir.file("docker-compose.yaml")) == 0o644)
        var isDirectory: ObjCBool = false
        #expect(
            FileManager.default.fileExists(atPath: dir.file("data"), isDirectory: &isDirectory)
                && isDirectory.boolValue)
        // A local block under another provider does not produce a compose file.
        let other = try TempDir()
        defer { other.remove() }
        try DeployDirectory.materialize(
            try makeSpec(baseYAML + "local:\n  workdir: data\n"), into: other.path)
        #expect(!FileManager.default.fileExists(atPath: other.file("docker-compose.yaml")))
    }

    @Test func materializeTwiceOverwritesAndKeepsStaleFiles() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try DeployDirectory.materialize(try makeSpec(baseYAML), into: dir.path)
        try dir.write("Dockerfile", "stale edit\n")
        try dir.write("stale.txt", "left over\n")
        try dir.write("wrappers/mp-old", "#!/bin/sh\n")
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o600], ofItemAtPath: dir.file("entrypoint.sh"))
        let spec = try makeSpec(baseYAML + "toolchains: [go]\n")
        try DeployDirectory.materialize(spec, into: dir.path)
        #expect(dir.read("Dockerfile") == DeployDirectory.renderDockerfile(spec))
        #expect(dir.read("stale.txt") == "left over\n")
        #expect(dir.read("wrappers/mp-old") == "#!/bin/sh\n")
        #expect(try mode(of: dir.file("entrypoint.sh")) == 0o755)
    }

    @Test func materializeReportsUnwritableDestination() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try dir.write("blocker", "a file where a directory should be\n")
        #expect(throws: FleetError.self) {
            try DeployDirectory.materialize(try makeSpec(baseYAML), into: dir.file("blocker/deploy"))
        }
    }

    // MARK: - Templates

    @Test func everyTemplatePlaceholderIsFilled() throws {
        let specs = try [
            makeSpec(baseYAML),
            makeSpec(
                baseYAML
                    + "provider: local\nmode: auto\nauto: {plan_name: p, idea_file: /i}\ntoolchains: [rust]\n"
            ),
            makeSpec(baseYAML + "mode: chain\nchain: {spec: /c.yaml}\n"),
        ]
        for spec in specs {
            for text in [
                DeployDirectory.renderDockerfile(spec), DeployDirectory.renderEntrypoint(spec),
                DeployDirectory.renderCompose(spec), DeployDirectory.renderRailwayToml(),
                DeployDirectory.healthServerSource(),
            ] + DeployDirectory.wrapperNames.map(DeployDirectory.wrapperSource) {
                #expect(!text.contains("{{"))
                #expect(!text.contains("}}"))
            }
        }
        #expect(
            TemplateRenderer.placeholders(in: TemplateStore.text("docker-compose.yaml.tmpl")) == [
                "WORKSPACE", "PORT", "VOLUME",
            ])
        #expect(
            TemplateRenderer.render("a {{X}} b {{Y_2}}", name: "t", values: ["X": "{{Y_2}}", "Y_2": "y"])
                == "a {{Y_2}} b y")
    }
}

extension DeployDirectoryTests {
    @Test func sampleChainSpecParsesAndIsNeverMaterialized() throws {
        let text = TemplateStore.text("chain.yaml.example")
        let chain = try ChainSpec.parse(text: text, path: "/tmp/chain.yaml.example")
        #expect(chain.milestones.count == 2)
        let dir = try TempDir()
        defer { dir.remove() }
        try DeployDirectory.materialize(try makeSpec(baseYAML + "provider: local\n"), into: dir.path)
        #expect(!FileManager.default.fileExists(atPath: dir.file("chain.yaml.example")))
    }
}
