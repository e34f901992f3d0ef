import Testing

@testable import FleetCore

/// A valid `repo` block taking lines 1–2, so the cases below start on line 3.
private let repo = "repo:\n  url: https://example.com/app.git\n"

private let validKeys =
    "default, plan, prep, critique, revise, gate, feedback, finalize, execute, loop_plan, loop_execute, "
    + "review, tiebreaker_researcher, tiebreaker_challenger"

/// Every rule of cloud reference §2, one failing file each (line:col computed by hand; columns are
/// 1-based, a mapping points at its first key, an absent key points at the enclosing mapping).
private let cloudErrorCases: [YAMLErrorCase] = [
    // §2.1 file level
    .init("empty document", "", nil, "`repo.url` is required"),
    .init("only comments", "# nothing here\n# at all\n", nil, "`repo.url` is required"),
    .init("top level is a list", "- a\n- b\n", "1:1", "cloud spec must be a YAML mapping"),
    .init("top level is a scalar", "hello\n", "1:1", "cloud spec must be a YAML mapping"),

    // provider
    .init(
        "provider fly is a future provider", "provider: fly\n" + repo, "1:11",
        "provider 'fly' is reserved for a future release; future providers: fly", code: .futureProvider),
    .init(
        "provider unknown (checked before repo.url)", "provider: aws\n", "1:11",
        "provider must be one of railway, local, ssh, fly; got 'aws'"),
    .init("provider number", "provider: 5\n" + repo, "1:11", "`provider` must be a non-empty string"),
    .init("provider blank", "provider: '  '\n" + repo, "1:11", "`provider` must be a non-empty string"),
    .init(
        "provider YAML 1.1 boolean", "provider: off\n" + repo, "1:11", "`provider` must be a non-empty string"
    ),

    // repo
    .init("repo not a mapping", "repo: [a]\n", "1:7", "`repo` must be a mapping"),
    .init("repo absent", "mode: idle\n", "1:1", "`repo.url` is required"),
    .init("repo.url absent", "repo:\n  branch: main\n", "2:3", "`repo.url` is required"),
    .init("repo.url null", "repo:\n  url: ~\n", "2:3", "`repo.url` is required"),
    .init("repo.url boolean", "repo:\n  url: yes\n", "2:8", "`repo.url` must be a non-empty string"),
    .init("repo.url empty", "repo:\n  url: ''\n", "2:8", "`repo.url` must be a non-empty string"),
    .init("repo.url whitespace", "repo:\n  url: '   '\n", "2:8", "`repo.url` must be a non-empty string"),
    .init("repo.url before repo.branch", "repo:\n  branch: no\n", "2:3", "`repo.url` is required"),
    .init(
        "repo.branch: no is a boolean", repo + "  branch: no\n", "3:11",
        "`repo.branch` must be a non-empty string"),
    .init("repo.branch number", repo + "  branch: 5\n", "3:11", "`repo.branch` must be a non-empty string"),
    .init("repo.branch blank", repo + "  branch: ' '\n", "3:11", "`repo.branch` must be a non-empty string"),
    .init(
        "repo.branch before repo.workspace", repo + "  branch: on\n  workspace: app\n", "3:11",
        "`repo.branch` must be a non-empty string"),
    .init(
        "repo.workspace relative", repo + "  workspace: app\n", "3:14",
        "`repo.workspace` must be an absolute POSIX path; got 'app'"),
    .init("repo.workspace null", repo + "  workspace: ~\n", "3:14", "`repo.workspace` is required"),
    .init("repo.workspace empty value", repo + "  workspace:\n", "3:13", "`repo.workspace` is required"),
    .init(
        "repo.workspace number", repo + "  workspace: 5\n", "3:14",
        "`repo.workspace` must be a non-empty string"),

    // codex
    .init("codex not a mapping", repo + "codex: high\n", "3:8", "`codex` must be a mapping"),
    .init(
        "codex.reasoning unknown", repo + "codex:\n  reasoning: extreme\n", "4:14",
        "codex.reasoning must be one of minimal, low, medium, high; got 'extreme'"),
    .init(
        "codex.reasoning number", repo + "codex:\n  reasoning: 3\n", "4:14",
        "`codex.reasoning` must be a non-empty string"),
    .init(
        "codex.reasoning before codex.model", repo + "codex:\n  model: 5\n  reasoning: max\n", "5:14",
        "codex.reasoning must be one of minimal, low, medium, high; got 'max'"),
    .init(
        "codex.model number", repo + "codex:\n  model: 5\n", "4:10",
        "`codex.model` must be a non-empty string"),
    .init(
        "codex.model before mode", repo + "codex:\n  model: ''\nmode: turbo\n", "4:10",
        "`codex.model` must be a non-empty string"),

    // mode
    .init(
        "mode unknown", repo + "mode: turbo\n", "3:7", "mode must be one of auto, chain, idle; got 'turbo'"),
    .init("mode boolean", repo + "mode: on\n", "3:7", "`mode` must be a non-empty string"),
    .init(
        "mode before agents", repo + "mode: turbo\nagents:\n  x: y\n", "3:7",
        "mode must be one of auto, chain, idle; got 'turbo'"),

    // agents (§2.4)
    .init(
        "agents unknown key", repo + "agents:\n  planner: claude\n", "4:3",
        "Unknown agents key 'planner'. Valid keys: \(validKeys)"),
    .init(
        "agents integer key", repo + "agents:\n  1: claude\n", "4:3",
        "`agents` keys must be strings; valid keys: \(validKeys)"),
    .init(
        "agents boolean key", repo + "agents:\n  on: claude\n", "4:3",
        "`agents` keys must be strings; valid keys: \(validKeys)"),
    .init(
        "agents unknown agent", repo + "agents:\n  review: gemini\n", "4:11",
        "Unknown agent 'gemini'. Valid agents: claude, codex, hermes, shannon"),
    .init(
        "agents claude:low rejected", repo + "agents:\n  feedback: claude:low\n", "4:13",
        "Unknown agent 'claude:low'. Valid agents: claude, codex, hermes, shannon"),
    .init(
        "agents checked in document order",
        repo + "agents:\n  review: claude\n  default: bogus\n  planner: x\n",
        "5:12", "Unknown agent 'bogus'. Valid agents: claude, codex, hermes, shannon"),
    .init(
        "agents key before value", repo + "agents:\n  planner: bogus\n", "4:3",
        "Unknown agents key 'planner'. Valid keys: \(validKeys)"),
    .init(
        "agents boolean value", repo + "agents:\n  default: yes\n", "4:12",
        "Unknown agent 'True'. Valid agents: claude, codex, hermes, shannon"),
    .init(
        "agents null value", repo + "agents:\n  default: ~\n", "4:12",
        "Unknown agent 'None'. Valid agents: claude, codex, hermes, shannon"),
    .init(
        "agents integer value", repo + "agents:\n  default: 3\n", "4:12",
        "Unknown agent '3'. Valid agents: claude, codex, hermes, shannon"),
    .init("agents not a mapping", repo + "agents: codex\n", "3:9", "`agents` must be a mapping"),

    // megaplan
    .init("megaplan not a mapping", repo + "megaplan: main\n", "3:11", "`megaplan` must be a mapping"),
    .init(
        "megaplan.ref float", repo + "megaplan:\n  ref: 1.5\n", "4:8",
        "`megaplan.ref` must be a non-empty string"),
    .init(
        "agents before megaplan.ref", repo + "agents:\n  x: codex\nmegaplan:\n  ref: 5\n", "4:3",
        "Unknown agents key 'x'. Valid keys: \(validKeys)"),

    // resources
    .init("resources not a mapping", repo + "resources: 5\n", "3:12", "`resources` must be a mapping"),
    .init(
        "resources.volume empty", repo + "resources:\n  volume: ''\n", "4:11",
        "`resources.volume` must be a non-empty string"),
    .init(
        "megaplan.ref before resources", repo + "resources:\n  volume: 5\nmegaplan:\n  ref: 5\n", "6:8",
        "`megaplan.ref` must be a non-empty string"),
    .init(
        "resources.port string", repo + "resources:\n  port: '8080'\n", "4:9",
        "`resources.port` must be an integer"),
    .init(
        "resources.port float", repo + "resources:\n  port: 80.5\n", "4:9",
        "`resources.port` must be an integer"),
    .init(
        "resources.port boolean", repo + "resources:\n  port: yes\n", "4:9",
        "`resources.port` must be an integer"),
    .init(
        "resources.port zero", repo + "resources:\n  port: 0\n", "4:9",
        "`resources.port` must be a port number from 1 to 65535"),
    .init(
        "resources.port negative", repo + "resources:\n  port: -1\n", "4:9",
        "`resources.port` must be a port number from 1 to 65535"),
    .init(
        "resources.port too large", repo + "resources:\n  port: 65536\n", "4:9",
        "`resources.port` must be a port number from 1 to 65535"),
    .init(
        "resources.volume before port", repo + "resources:\n  port: x\n  volume: 5\n", "5:11",
        "`resources.volume` must be a non-empty string"),

    // railway (always built)
    .init("railway not a mapping", repo + "railway: agent\n", "3:10", "`railway` must be a mapping"),
    .init(
        "railway.service number", repo + "railway:\n  service: 5\n", "4:12",
        "`railway.service` must be a non-empty string"),
    .init(
        "railway.session empty", repo + "railway:\n  session: ''\n", "4:12",
        "`railway.session` must be a non-empty string"),
    .init(
        "railway.project blank", repo + "railway:\n  project: ' '\n", "4:12",
        "`railway.project` must be a non-empty string"),
    .init(
        "railway.environment number", repo + "railway:\n  environment: 5\n", "4:16",
        "`railway.environment` must be a non-empty string"),
    .init(
        "resources.port before railway", repo + "railway:\n  service: 5\nresources:\n  port: x\n", "6:9",
        "`resources.port` must be an integer"),
    .init(
        "railway validated under provider local", repo + "provider: local\nrailway:\n  session: 5\n", "5:12",
        "`railway.session` must be a non-empty string"),
    .init(
        "railway.service before railway.session", repo + "railway:\n  session: 5\n  service: 5\n", "5:12",
        "`railway.service` must be a non-empty string"),

    // local (built when provider is local or the block is non-empty)
    .init("local not a mapping", repo + "local: yes\n", "3:8", "`local` must be a mapping"),
    .init(
        "local.compose_project number (non-empty block under railway)",
        repo + "local:\n  compose_project: 5\n", "4:20", "`local.compose_project` must be a non-empty string"),
    .init(
        "local.workdir empty", repo + "local:\n  workdir: ''\n", "4:12",
        "`local.workdir` must be a non-empty string"),
    .init(
        "railway before local", repo + "local:\n  workdir: ''\nrailway:\n  environment: ''\n", "6:16",
        "`railway.environment` must be a non-empty string"),

    // ssh (built when provider is ssh or the block is non-empty)
    .init("ssh provider without block", "provider: ssh\n" + repo, "1:1", "`ssh.host` is required"),
    .init(
        "ssh block without host under railway", repo + "ssh:\n  user: me\n", "4:3", "`ssh.host` is required"),
    .init("ssh not a mapping", repo + "ssh: host\n", "3:6", "`ssh` must be a mapping"),
    .init("ssh.host null", repo + "ssh:\n  host: ~\n", "4:3", "`ssh.host` is required"),
    .init("ssh.host number", repo + "ssh:\n  host: 5\n", "4:9", "`ssh.host` must be a non-empty string"),
    .init(
        "ssh.host bracket not closed", repo + "ssh:\n  host: '[::1'\n", "4:9",
        "`ssh.host` '[::1' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)"
    ),
    .init(
        "ssh.host bracket not opened", repo + "ssh:\n  host: '::1]'\n", "4:9",
        "`ssh.host` '::1]' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)"
    ),
    .init(
        "ssh.host with a port", repo + "ssh:\n  host: '[::1]:22'\n", "4:9",
        "`ssh.host` '[::1]:22' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)"
    ),
    .init(
        "ssh.host brackets around a name", repo + "ssh:\n  host: '[box]'\n", "4:9",
        "`ssh.host` '[box]' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)"
    ),
    .init(
        "ssh.host name with a port", repo + "ssh:\n  host: box:22\n", "4:9",
        "`ssh.host` 'box:22' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)"
    ),
    .init(
        "ssh.host not an IPv6 address", repo + "ssh:\n  host: '::g'\n", "4:9",
        "`ssh.host` '::g' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)"
    ),
    .init(
        "ssh.host unquoted brackets (a YAML list)", repo + "ssh:\n  host: [fe80::1]\n", "4:9",
        "`ssh.host` must be a string (quote an IPv6 literal: \"[::1]\")"),
    .init(
        "ssh.user number", repo + "ssh:\n  host: h\n  user: 5\n", "5:9",
        "`ssh.user` must be a non-empty string"),
    .init(
        "ssh.port zero", repo + "ssh:\n  host: h\n  port: 0\n", "5:9", "`ssh.port` must be a positive integer"
    ),
    .init(
        "ssh.port past 65535 (would wrap)", repo + "ssh:\n  host: h\n  port: 110387\n", "5:9",
        "`ssh.port` must be a port number from 1 to 65535"),
    .init(
        "ssh.port negative", repo + "ssh:\n  host: h\n  port: -2\n", "5:9",
        "`ssh.port` must be a positive integer"),
    .init(
        "ssh.port string", repo + "ssh:\n  host: h\n  port: '22'\n", "5:9",
        "`ssh.port` must be a positive integer"),
    .init(
        "ssh.port float", repo + "ssh:\n  host: h\n  port: 2.5\n", "5:9",
        "`ssh.port` must be a positive integer"),
    .init(
        "ssh.identity_file empty", repo + "ssh:\n  host: h\n  identity_file: ''\n", "5:18",
        "`ssh.identity_file` must be a non-empty string"),
    .init(
        "ssh.remote_dir relative", repo + "ssh:\n  host: h\n  remote_dir: tmp/x\n", "5:15",
        "`ssh.remote_dir` must be an absolute POSIX path; got 'tmp/x'"),
    .init(
        "ssh.remote_dir null", repo + "ssh:\n  host: h\n  remote_dir: ~\n", "5:15",
        "`ssh.remote_dir` is required"),
    .init(
        "ssh.container number", repo + "ssh:\n  host: h\n  container: 5\n", "5:14",
        "`ssh.container` must be a non-empty string"),
    .init(
        "ssh.runtime unknown", repo + "ssh:\n  host: h\n  runtime: vm\n", "5:12",
        "ssh.runtime must be one of docker, host; got 'vm'"),
    .init(
        "ssh.runtime number", repo + "ssh:\n  host: h\n  runtime: 5\n", "5:12",
        "`ssh.runtime` must be a non-empty string"),
    .init(
        "ssh.host before ssh.user", repo + "ssh:\n  user: 5\n", "4:3", "`ssh.host` is required"),
    .init(
        "ssh.port before ssh.container", repo + "ssh:\n  container: 5\n  port: 0\n  host: h\n", "5:9",
        "`ssh.port` must be a positive integer"),
    .init(
        "ssh.identity_file before ssh.remote_dir",
        repo + "ssh:\n  remote_dir: x\n  identity_file: 5\n  host: h\n",
        "5:18", "`ssh.identity_file` must be a non-empty string"),
    .init(
        "local before ssh", repo + "ssh:\n  user: me\nlocal:\n  workdir: 5\n", "6:12",
        "`local.workdir` must be a non-empty string"),

    // auto (only when mode: auto)
    .init("auto block missing", repo + "mode: auto\n", "1:1", "`auto.plan_name` is required"),
    .init("auto not a mapping", repo + "mode: auto\nauto: x\n", "4:7", "`auto` must be a mapping"),
    .init(
        "auto.plan_name number", repo + "mode: auto\nauto:\n  plan_name: 5\n", "5:14",
        "`auto.plan_name` must be a non-empty string"),
    .init(
        "auto.idea_file missing", repo + "mode: auto\nauto:\n  plan_name: p\n", "5:3",
        "`auto.idea_file` is required"),
    .init(
        "auto.idea_file relative", repo + "mode: auto\nauto:\n  plan_name: p\n  idea_file: idea.txt\n",
        "6:14",
        "`auto.idea_file` must be an absolute POSIX path; got 'idea.txt'"),
    .init(
        "auto.idea_file null", repo + "mode: auto\nauto:\n  plan_name: p\n  idea_file: ~\n", "6:14",
        "`auto.idea_file` is required"),
    .init(
        "auto.robustness number",
        repo + "mode: auto\nauto:\n  plan_name: p\n  idea_file: /i.txt\n  robustness: 5\n", "7:15",
        "`auto.robustness` must be a non-empty string"),
    .init(
        "auto.plan_name before auto.idea_file", repo + "mode: auto\nauto:\n  idea_file: x\n", "5:3",
        "`auto.plan_name` is required"),
    .init("ssh before auto", repo + "mode: auto\nssh:\n  user: u\n", "5:3", "`ssh.host` is required"),

    // chain (only when mode: chain)
    .init("chain block missing", repo + "mode: chain\n", "1:1", "`chain.spec` is required"),
    .init("chain not a mapping", repo + "mode: chain\nchain: x\n", "4:8", "`chain` must be a mapping"),
    .init(
        "chain.spec relative", repo + "mode: chain\nchain:\n  spec: chain.yaml\n", "5:9",
        "`chain.spec` must be an absolute POSIX path; got 'chain.yaml'"),
    .init("chain.spec null", repo + "mode: chain\nchain:\n  spec: ~\n", "5:9", "`chain.spec` is required"),
    .init(
        "chain.chain_session blank", repo + "mode: chain\nchain:\n  spec: /w/c.yaml\n  chain_session: '  '\n",
        "6:18", "`chain.chain_session` must be a non-empty string"),
    .init(
        "chain.chain_session number", repo + "mode: chain\nchain:\n  spec: /w/c.yaml\n  chain_session: 5\n",
        "6:18", "`chain.chain_session` must be a non-empty string"),
    .init(
        "chain.spec before chain_session", repo + "mode: chain\nchain:\n  chain_session: ''\n", "5:3",
        "`chain.spec` is required"),

    // extra_repos
    .init(
        "extra_repos not a list", repo + "extra_repos: /a\n", "3:14",
        "`extra_repos` must be a list of strings"),
    .init(
        "extra_repos blank item", repo + "extra_repos:\n  - /a\n  - '  '\n", "5:5",
        "`extra_repos[1]` must be a non-empty string"),
    .init(
        "extra_repos number item", repo + "extra_repos: [5]\n", "3:15",
        "`extra_repos[0]` must be a non-empty string"),
    .init(
        "chain before extra_repos", repo + "mode: chain\nextra_repos: x\n", "1:1", "`chain.spec` is required"),
    .init(
        "auto before extra_repos", repo + "mode: auto\nauto:\n  plan_name: 5\nextra_repos: x\n", "5:14",
        "`auto.plan_name` must be a non-empty string"),

    // secrets
    .init(
        "secrets not a list", repo + "secrets: OPENAI_API_KEY\n", "3:10",
        "`secrets` must be a list of strings"),
    .init("secrets empty item", repo + "secrets: [A, '']\n", "3:14", "`secrets` must be a list of strings"),
    .init("secrets number item", repo + "secrets:\n  - 5\n", "4:5", "`secrets` must be a list of strings"),
    .init(
        "extra_repos before secrets", repo + "secrets: x\nextra_repos: y\n", "4:14",
        "`extra_repos` must be a list of strings"),

    // toolchains (§2.5)
    .init("toolchains not a list", repo + "toolchains: rust\n", "3:13", "`toolchains` must be a list"),
    .init(
        "toolchains unknown alias", repo + "toolchains: [rust, python]\n", "3:20",
        "Unknown toolchain alias 'python'; expected one of: rust, go, java"),
    .init(
        "toolchains number item", repo + "toolchains:\n  - 5\n", "4:5",
        "`toolchains[0]` must be a string alias or mapping"),
    .init(
        "toolchains list item", repo + "toolchains:\n  - [rust]\n", "4:5",
        "`toolchains[0]` must be a string alias or mapping"),
    .init(
        "toolchains mapping without install", repo + "toolchains:\n  - name: zig\n", "4:5",
        "`toolchains[0].install` is required"),
    .init(
        "toolchains mapping without name", repo + "toolchains:\n  - rust\n  - install: x\n", "5:5",
        "`toolchains[1].name` is required"),
    .init(
        "toolchains blank name", repo + "toolchains:\n  - name: ''\n    install: x\n", "4:11",
        "`toolchains[0].name` must be a non-empty string"),
    .init(
        "secrets before toolchains", repo + "toolchains: x\nsecrets: y\n", "4:10",
        "`secrets` must be a list of strings"),
]

@Suite struct CloudSpecTests {
    @Test(arguments: cloudErrorCases)
    func rejects(_ testCase: YAMLErrorCase) {
        let dir = TempDir()
        let path = dir.write("cloud.yaml", testCase.yaml)
        #expect(failure { try CloudSpec.load(path: path) } == testCase.expected(path: path))
    }

    @Test func missingFile() {
        let dir = TempDir()
        let path = dir.path + "/cloud.yaml"
        #expect(
            failure { try CloudSpec.load(path: path) }
                == FleetError(.invalidSpec, "spec file not found: \(path)"))
    }

    @Test func yamlSyntaxError() throws {
        let dir = TempDir()
        let path = dir.write("cloud.yaml", "repo: [unclosed\n")
        let error = try #require(failure { try CloudSpec.load(path: path) })
        #expect(error.code == .invalidSpec)
        #expect(error.message.hasPrefix("\(path): YAML parse error: "))
    }

    private func load(_ yaml: String) throws -> CloudSpec {
        let dir = TempDir()
        return try CloudSpec.load(path: dir.write("cloud.yaml", yaml))
    }

    @Test func minimalFileGetsEveryDefault() throws {
        let dir = TempDir()
        let path = dir.write("cloud.yaml", repo)
        let spec = try CloudSpec.load(path: path)
        #expect(spec.path == path)
        #expect(
            spec.normalizedJSON
                == [
                    "provider": "railway",
                    "repo": [
                        "url": "https://example.com/app.git", "branch": "main", "workspace": "/workspace/app",
                    ],
                    "agents": ["default": "codex"],
                    "codex": ["model": "gpt-5.4", "reasoning": "high"],
                    "mode": "idle",
                    "megaplan": ["ref": "main"],
                    "resources": ["volume": nil, "port": 8080],
                    "secrets": [],
                    "auto": nil,
                    "chain": nil,
                    "railway": ["service": "agent", "session": "agent", "project": nil, "environment": nil],
                    "local": nil,
                    "ssh": nil,
                    "toolchains": [],
                    "extra_repos": [],
                ])
        #expect(spec.providerIdentity == "agent")
        #expect(spec.chainSessionName == "megaplan-chain")
    }

    @Test func fullFileNormalizes() throws {
        let yaml = """
            provider: ssh
            repo:
              url: git@github.com:acme/app.git
              branch: release
              workspace: /srv/app
            codex:
              model: gpt-5.4-mini
              reasoning: low
            mode: chain
            agents:
              review: claude
              execute: hermes
            megaplan:
              ref: v0.21.0
            resources:
              volume: data
              port: 9090
            railway:
              service: svc
              session: sess
              project: proj
              environment: production
            local:
              compose_project: mp
              workdir: ws
            ssh:
              host: runner.example.com
              user: deployer
              port: 2222
              identity_file: ~/.ssh/id_ed25519
              remote_dir: /opt/mp
              container: mp-agent
              runtime: host
            auto:
              plan_name: ignored
            chain:
              spec: /srv/app/chain.yaml
              chain_session: night-shift
            extra_repos: [/srv/lib, '/srv/other lib']
            secrets: [OPENAI_API_KEY, '  ']
            toolchains:
              - rust
              - go
              - name: zig
                install: RUN apt-get install -y zig
            unknown_top_level: ignored
            """
        let spec = try load(yaml)
        #expect(
            spec.normalizedJSON
                == [
                    "provider": "ssh",
                    "repo": [
                        "url": "git@github.com:acme/app.git", "branch": "release", "workspace": "/srv/app",
                    ],
                    "agents": ["review": "claude", "execute": "hermes"],
                    "codex": ["model": "gpt-5.4-mini", "reasoning": "low"],
                    "mode": "chain",
                    "megaplan": ["ref": "v0.21.0"],
                    "resources": ["volume": "data", "port": 9090],
                    "secrets": ["OPENAI_API_KEY", "  "],
                    "auto": nil,
                    "chain": ["spec": "/srv/app/chain.yaml", "chain_session": "night-shift"],
                    "railway": [
                        "service": "svc", "session": "sess", "project": "proj", "environment": "production",
                    ],
                    "local": ["compose_project": "mp", "workdir": "ws"],
                    "ssh": [
                        "host": "runner.example.com", "user": "deployer", "port": 2222,
                        "identity_file": "~/.ssh/id_ed25519", "remote_dir": "/opt/mp",
                        "container": "mp-agent",
                        "runtime": "host",
                    ],
                    "toolchains": [
                        ["name": "rust", "install": "rust"], ["name": "go", "install": "go"],
                        ["name": "zig", "install": "RUN apt-get install -y zig"],
                    ],
                    "extra_repos": ["/srv/lib", "/srv/other lib"],
                ])
        #expect(spec.ssh?.runtime == .host)
        #expect(spec.providerIdentity == "runner.example.com")
        #expect(spec.chainSessionName == "night-shift")
        #expect(spec.agent(for: "review") == "claude")
        #expect(spec.agent(for: "default") == nil)
    }

    @Test func autoModeBuildsAutoBlock() throws {
        let spec = try load(
            repo + "mode: auto\nauto:\n  plan_name: p\n  idea_file: /i.txt\n  robustness: anything\n")
        #expect(spec.auto == CloudSpec.Auto(planName: "p", ideaFile: "/i.txt", robustness: "anything"))
        #expect(spec.chain == nil)
        let defaulted = try load(repo + "mode: auto\nauto:\n  plan_name: p\n  idea_file: /i.txt\n")
        #expect(defaulted.auto?.robustness == "standard")
    }

    @Test func autoAndChainIgnoredOutsideTheirMode() throws {
        let spec = try load(repo + "auto: 5\nchain:\n  spec: relative\n  chain_session: ''\n")
        #expect(spec.auto == nil)
        #expect(spec.chain == nil)
        let chainMode = try load(
            repo + "mode: chain\nauto: [broken]\nchain:\n  spec: /c.yaml\n  chain_session: ~\n")
        #expect(chainMode.auto == nil)
        #expect(chainMode.chain == CloudSpec.Chain(spec: "/c.yaml", chainSession: nil))
        #expect(chainMode.chainSessionName == "megaplan-chain")
    }

    @Test func localAndSSHBlocksBuiltOnlyWhenNeeded() throws {
        let railway = try load(repo + "local: {}\nssh: {}\n")
        #expect(railway.local == nil)
        #expect(railway.ssh == nil)
        let local = try load("provider: local\n" + repo)
        #expect(local.local == CloudSpec.Local())
        #expect(local.providerIdentity == "megaplan-cloud")
        let localUnderRailway = try load(repo + "local:\n  workdir: w\n")
        #expect(localUnderRailway.local?.composeProject == "megaplan-cloud")
        #expect(localUnderRailway.local?.workdir == "w")
        let ssh = try load("provider: ssh\n" + repo + "ssh:\n  host: box\n")
        var expected = CloudSpec.SSH()
        expected.host = "box"
        #expect(ssh.ssh == expected)
        #expect(ssh.ssh?.runtime == .docker)
        #expect(ssh.ssh?.port == 22)
        #expect(ssh.ssh?.remoteDir == "/tmp/megaplan-cloud")
        #expect(ssh.ssh?.container == "megaplan-cloud-agent")
        let sshUnderRailway = try load(repo + "ssh:\n  host: box\n  runtime: docker\n")
        #expect(sshUnderRailway.ssh?.host == "box")
        #expect(sshUnderRailway.provider == .railway)
    }

    /// An IPv6 literal, bracketed or not, is kept in one spelling (issue 11).
    @Test(arguments: [
        ("::1", "::1"), ("\"::1\"", "::1"), ("'[::1]'", "::1"), ("\"[0:0:0:0:0:0:0:1]\"", "::1"),
        ("'[2001:DB8::1]'", "2001:db8::1"), ("127.0.0.1", "127.0.0.1"), ("box", "box"),
    ])
    func sshHostIPv6Literals(_ written: String, _ kept: String) throws {
        let spec = try load("provider: ssh\n" + repo + "ssh:\n  host: \(written)\n")
        #expect(spec.ssh?.host == kept)
        #expect(spec.providerIdentity == kept)
    }

    @Test func agentsVariants() throws {
        for yaml in ["", "agents:\n", "agents: ~\n", "agents: {}\n"] {
            let spec = try load(repo + yaml)
            #expect(spec.agents == [CloudSpec.AgentRoute(key: "default", agent: "codex")], "\(yaml)")
        }
        let given = try load(repo + "agents:\n  review: claude\n")
        #expect(given.agents == [CloudSpec.AgentRoute(key: "review", agent: "claude")])
        let all = try load(
            repo + "agents:\n" + (["default"] + CloudSpec.phaseKeys).map { "  \($0): shannon\n" }.joined())
        #expect(all.agents.count == 14)
        #expect(all.agents.map(\.key) == ["default"] + CloudSpec.phaseKeys)
    }

    /// The reference accepts any integer here; 0, negatives and ports past 65535 are refused (a
    /// deliberate difference, see the `rejects` cases), the rest reads as the reference reads it.
    @Test(arguments: [
        ("port: 1", 1), ("port: 65535", 65535), ("port: 0x1F", 31), ("port: 1_000", 1000),
        ("port: ~", 8080), ("volume: v", 8080),
    ])
    func resourcesPort(_ line: String, _ port: Int) throws {
        let spec = try load(repo + "resources:\n  \(line)\n")
        #expect(spec.resources.port == port)
    }

    @Test func yaml11Typing() throws {
        // Quoted values stay strings; plain `no`/`on` do not (cases above); numbers in PyYAML's
        // forms only: `5e12345` (a short git sha) and `1e3` are strings for PyYAML.
        let spec = try load(repo + "  branch: 'no'\nmegaplan:\n  ref: 5e12345\ncodex:\n  model: 1e3\n")
        #expect(spec.repo.branch == "no")
        #expect(spec.megaplanRef == "5e12345")
        #expect(spec.codex.model == "1e3")
        let octal = try load(repo + "megaplan:\n  ref: 0o17\n")
        #expect(octal.megaplanRef == "0o17")
    }

    @Test func providerNullMeansDefault() throws {
        #expect(try load("provider: ~\n" + repo).provider == .railway)
    }

    @Test func stringsAreKeptAsWritten() throws {
        let spec = try load("repo:\n  url: '  https://x  '\n  branch: ' b '\n")
        #expect(spec.repo.url == "  https://x  ")
        #expect(spec.repo.branch == " b ")
    }

    /// Every remote path of cloud.yaml is normalized as §0.6 says before anything compares, joins
    /// or quotes it.
    @Test(arguments: ["/workspace/app/", "//workspace/app", "/workspace/./app", "/workspace//app//"])
    func remotePathsAreNormalized(_ spelled: String) throws {
        let spec = try load(
            "provider: ssh\nrepo:\n  url: u\n  workspace: \(spelled)\nmode: chain\nchain:\n  spec: \(spelled)/chain.yaml\n"
                + "auto:\n  plan_name: p\n  idea_file: \(spelled)/idea.txt\nssh:\n  host: h\n  remote_dir: \(spelled)\n"
        )
        #expect(spec.repo.workspace == "/workspace/app")
        #expect(spec.chain?.spec == "/workspace/app/chain.yaml")
        #expect(spec.ssh?.remoteDir == "/workspace/app")
        let auto = try load(repo + "mode: auto\nauto:\n  plan_name: p\n  idea_file: \(spelled)/./idea.txt\n")
        #expect(auto.auto?.ideaFile == "/workspace/app/idea.txt")
        #expect(PosixPath.normalize("/a/../b/") == "/a/../b", "`..` is kept")
    }

    @Test func parseTextUsesGivenPath() {
        #expect(
            failure { try CloudSpec.parse(text: "mode: idle\n", path: "/x/cloud.yaml") }
                == FleetError(.invalidSpec, "/x/cloud.yaml:1:1: `repo.url` is required"))
    }

    @Test func templateLoadsWithDocumentedValues() throws {
        let dir = TempDir()
        let spec = try CloudSpec.load(path: dir.write("cloud.yaml", CloudTemplate.text))
        #expect(spec.provider == .railway)
        #expect(spec.repo.url == "https://github.com/example/app.git")
        #expect(spec.repo.branch == "main")
        #expect(spec.repo.workspace == "/workspace/app")
        #expect(spec.agents == [CloudSpec.AgentRoute(key: "default", agent: "codex")])
        #expect(spec.codex == CloudSpec.Codex(model: "gpt-5.4", reasoning: "high"))
        #expect(spec.mode == .idle)
        #expect(spec.megaplanRef == "main")
        #expect(spec.resources == CloudSpec.Resources(volume: "agent-volume", port: 8080))
        #expect(spec.railway == CloudSpec.Railway())
        #expect(spec.secrets == ["OPENAI_API_KEY"])
        #expect(spec.local == nil)
        #expect(spec.ssh == nil)
        #expect(spec.toolchains.isEmpty)
        #expect(spec.extraRepos.isEmpty)
        // auto and chain are present in the template but only built in their mode.
        #expect(spec.auto == nil && spec.chain == nil)
        let auto = try CloudSpec.parse(
            text: CloudTemplate.text.replacingAll("mode: idle", with: "mode: auto"), path: "/t/cloud.yaml")
        #expect(
            auto.auto
                == CloudSpec.Auto(
                    planName: "my-plan", ideaFile: "/workspace/idea.txt", robustness: "standard"))
        let chain = try CloudSpec.parse(
            text: CloudTemplate.text.replacingAll("mode: idle", with: "mode: chain"), path: "/t/cloud.yaml")
        #expect(chain.chain == CloudSpec.Chain(spec: "/workspace/chain.yaml", chainSession: nil))
    }
}

/// Unknown keys are accepted (§2.1) and named, one warning each, in file order.
@Suite("cloud.yaml unknown keys")
struct CloudSpecUnknownKeyTests {
    @Test func eachUnknownKeyIsNamedWithItsPlace() throws {
        let text = """
            provider: ssh
            repo:
              url: u
              brnch: dev
            ssh:
              host: h
              identity_fil: ~/.ssh/id
            favourite: 1
            toolchains:
              - name: x
                install: y
                versoin: 2
            agents:
              default: codex
            """
        let reader = try YAMLReader(path: "/p/cloud.yaml", text: text)
        #expect(
            CloudSpec.unknownKeyWarnings(reader) == [
                "/p/cloud.yaml:4:3: unknown key 'brnch' under `repo` is ignored; known keys: url, branch, workspace",
                "/p/cloud.yaml:7:3: unknown key 'identity_fil' under `ssh` is ignored; known keys: host, user, port, identity_file, remote_dir, container, runtime",
                "/p/cloud.yaml:8:1: unknown key 'favourite' at the top level is ignored; known keys: provider, repo, codex, mode, agents, megaplan, resources, railway, local, ssh, auto, chain, extra_repos, secrets, toolchains",
                "/p/cloud.yaml:12:5: unknown key 'versoin' under `toolchains[0]` is ignored; known keys: name, install",
            ])
        // Still accepted, as the reference accepts it.
        #expect(try CloudSpec.parse(text: text, path: "/p/cloud.yaml").ssh?.host == "h")
    }

    /// A key is quoted as Python would (escapes shown) and cut: the warning stays one short line.
    @Test func hostileKeysStayOneShortLine() throws {
        let long = String(repeating: "word ", count: 150)
        let reader = try YAMLReader(path: "/p/c.yaml", text: "\"a\\nb\\u001b[2J\": 1\n\"\(long)\": 2\n")
        let warnings = CloudSpec.unknownKeyWarnings(reader)
        #expect(warnings.count == 2)
        #expect(warnings.allSatisfy { !$0.contains("\n") && !$0.contains("\u{1B}") && $0.count < 400 })
        #expect(warnings[0].hasPrefix("/p/c.yaml:1:1: unknown key 'a\\nb\\x1b[2J' at the top level"))
    }
}
