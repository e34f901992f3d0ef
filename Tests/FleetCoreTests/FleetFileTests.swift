import Testing

@testable import FleetCore

/// One valid project taking lines 1–3 (its cloud.yaml, `a.yaml`, is written by the test).
private let project = "projects:\n  - name: alpha\n    cloud_yaml: a.yaml\n"

private let defaultKeys =
    "concurrency, connections_per_host, per_host, deadline, known_hosts, host_key_policy, state_dir, ssh_config"

private let fleetErrorCases: [YAMLErrorCase] = [
    // unknown keys, at each level, with the expected keys
    .init(
        "unknown top-level key", "colour: red\n" + project, "1:1",
        "unknown key 'colour' in the fleet file; expected one of: version, defaults, projects, notify",
        code: .invalidFleet),
    .init(
        "unknown defaults key", "defaults:\n  parallel: 3\n" + project, "2:3",
        "unknown key 'parallel' in defaults; expected one of: \(defaultKeys)", code: .invalidFleet),
    .init(
        "non-string defaults key", "defaults:\n  1: 3\n" + project, "2:3",
        "unknown key '1' in defaults; expected one of: \(defaultKeys)", code: .invalidFleet),
    .init(
        "unknown project key", project + "    cloud: x\n", "4:5",
        "unknown key 'cloud' in projects[0]; expected one of: name, cloud_yaml, remote_spec, tags, deadline",
        code: .invalidFleet),
    .init(
        "unknown key in second project", project + "  - name: b\n    cloud_yaml: a.yaml\n    tag: x\n", "6:5",
        "unknown key 'tag' in projects[1]; expected one of: name, cloud_yaml, remote_spec, tags, deadline",
        code: .invalidFleet),

    // version
    .init("version 2", "version: 2\n" + project, "1:10", "`version` must be 1; got 2", code: .invalidFleet),
    .init(
        "version text", "version: '1'\n" + project, "1:10", "`version` must be 1; got '1'",
        code: .invalidFleet),

    // defaults: one bad type per field
    .init(
        "defaults not a mapping", "defaults: 5\n" + project, "1:11", "`defaults` must be a mapping",
        code: .invalidFleet),
    .init(
        "concurrency zero", "defaults:\n  concurrency: 0\n" + project, "2:16",
        "`defaults.concurrency` must be an integer from 1 to 10000; got 0", code: .invalidFleet),
    .init(
        "concurrency text", "defaults:\n  concurrency: many\n" + project, "2:16",
        "`defaults.concurrency` must be an integer from 1 to 10000; got 'many'", code: .invalidFleet),
    .init(
        "connections_per_host quoted", "defaults:\n  connections_per_host: '3'\n" + project, "2:25",
        "`defaults.connections_per_host` must be an integer from 1 to 100; got '3'", code: .invalidFleet),
    .init(
        "per_host boolean", "defaults:\n  per_host: yes\n" + project, "2:13",
        "`defaults.per_host` must be an integer from 1 to 10000; got True", code: .invalidFleet),
    .init(
        "per_host float", "defaults:\n  per_host: 1.5\n" + project, "2:13",
        "`defaults.per_host` must be an integer from 1 to 10000; got 1.5", code: .invalidFleet),
    .init(
        "per_host negative", "defaults:\n  per_host: -1\n" + project, "2:13",
        "`defaults.per_host` must be an integer from 1 to 10000; got -1", code: .invalidFleet),
    .init(
        "deadline zero", "defaults:\n  deadline: 0\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got 0",
        code: .invalidFleet),
    .init(
        "deadline negative", "defaults:\n  deadline: -5\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got -5",
        code: .invalidFleet),
    .init(
        "deadline text", "defaults:\n  deadline: soon\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got 'soon'",
        code: .invalidFleet),
    .init(
        "deadline boolean", "defaults:\n  deadline: true\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got True",
        code: .invalidFleet),
    .init(
        "deadline infinite", "defaults:\n  deadline: .inf\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got .inf",
        code: .invalidFleet),
    .init(
        "deadline quoted", "defaults:\n  deadline: '30'\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got '30'",
        code: .invalidFleet),
    .init(
        "deadline list", "defaults:\n  deadline: [1]\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got a list",
        code: .invalidFleet),
    // a project's own deadline: the same rule, named by its place
    .init(
        "project deadline zero", project + "    deadline: 0\n", "4:15",
        "`projects[0].deadline` must be a number of seconds above 0 and at most 86400; got 0",
        code: .invalidFleet),
    .init(
        "project deadline quoted", project + "    deadline: '5'\n", "4:15",
        "`projects[0].deadline` must be a number of seconds above 0 and at most 86400; got '5'",
        code: .invalidFleet),
    .init(
        "project deadline over a day", project + "    deadline: 86401\n", "4:15",
        "`projects[0].deadline` must be a number of seconds above 0 and at most 86400; got 86401",
        code: .invalidFleet),
    // ranges: huge, NaN and infinite numbers are errors before any lock is taken, never a crash
    .init(
        "deadline huge", "defaults:\n  deadline: 1.0e+16\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got 1.0e+16",
        code: .invalidFleet),
    .init(
        "deadline just over a day", "defaults:\n  deadline: 86401\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got 86401",
        code: .invalidFleet),
    .init(
        "deadline NaN", "defaults:\n  deadline: .nan\n" + project, "2:13",
        "`defaults.deadline` must be a number of seconds above 0 and at most 86400; got .nan",
        code: .invalidFleet),
    .init(
        "concurrency huge", "defaults:\n  concurrency: 9223372036854775807\n" + project, "2:16",
        "`defaults.concurrency` must be an integer from 1 to 10000; got 9223372036854775807",
        code: .invalidFleet),
    .init(
        "connections_per_host too many", "defaults:\n  connections_per_host: 101\n" + project, "2:25",
        "`defaults.connections_per_host` must be an integer from 1 to 100; got 101", code: .invalidFleet),
    .init(
        "per_host zero", "defaults:\n  per_host: 0\n" + project, "2:13",
        "`defaults.per_host` must be an integer from 1 to 10000; got 0", code: .invalidFleet),
    .init(
        "known_hosts empty", "defaults:\n  known_hosts: ''\n" + project, "2:16",
        "`defaults.known_hosts` must be a non-empty string", code: .invalidFleet),
    .init(
        "known_hosts number", "defaults:\n  known_hosts: 5\n" + project, "2:16",
        "`defaults.known_hosts` must be a non-empty string", code: .invalidFleet),
    .init(
        "host_key_policy unknown", "defaults:\n  host_key_policy: lax\n" + project, "2:20",
        "`defaults.host_key_policy` must be one of strict, accept-new; got 'lax'", code: .invalidFleet),
    .init(
        "host_key_policy boolean", "defaults:\n  host_key_policy: no\n" + project, "2:20",
        "`defaults.host_key_policy` must be one of strict, accept-new; got False", code: .invalidFleet),

    // projects
    .init(
        "empty file", "", nil, "`projects` is required: list the projects of this fleet", code: .invalidFleet),
    .init(
        "projects missing", "version: 1\n", "1:1", "`projects` is required: list the projects of this fleet",
        code: .invalidFleet),
    .init(
        "projects not a list", "projects: alpha\n", "1:11", "`projects` must be a list", code: .invalidFleet),
    .init(
        "project not a mapping", "projects:\n  - alpha\n", "2:5", "`projects[0]` must be a mapping",
        code: .invalidFleet),
    .init(
        "project name missing", "projects:\n  - cloud_yaml: a.yaml\n", "2:5",
        "`projects[0].name` is required and must be a non-empty string", code: .invalidFleet),
    .init(
        "project name number", "projects:\n  - name: 5\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` is required and must be a non-empty string", code: .invalidFleet),
    .init(
        "project name blank", "projects:\n  - name: ' '\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` is required and must be a non-empty string", code: .invalidFleet),
    .init(
        "project name with space", "projects:\n  - name: bad name\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` 'bad name' may use only letters, digits, '.', '_' and '-', and must start with a letter or digit",
        code: .invalidFleet),
    .init(
        "project name leading dash", "projects:\n  - name: -lead\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` '-lead' may use only letters, digits, '.', '_' and '-', and must start with a letter or digit",
        code: .invalidFleet),
    .init(
        "project name leading dot", "projects:\n  - name: .hidden\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` '.hidden' may use only letters, digits, '.', '_' and '-', and must start with a letter or digit",
        code: .invalidFleet),
    .init(
        "project name with slash", "projects:\n  - name: a/b\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` 'a/b' may use only letters, digits, '.', '_' and '-', and must start with a letter or digit",
        code: .invalidFleet),
    .init(
        "project name non-ASCII", "projects:\n  - name: naïve\n    cloud_yaml: a.yaml\n", "2:11",
        "`projects[0].name` 'naïve' may use only letters, digits, '.', '_' and '-', and must start with a letter or digit",
        code: .invalidFleet),
    .init(
        "cloud_yaml missing", "projects:\n  - name: alpha\n", "2:5",
        "project 'alpha': `projects[0].cloud_yaml` is required (path to its cloud.yaml)", code: .invalidFleet),
    .init(
        "cloud_yaml empty", "projects:\n  - name: alpha\n    cloud_yaml: ''\n", "3:17",
        "project 'alpha': `projects[0].cloud_yaml` is required (path to its cloud.yaml)", code: .invalidFleet),
    .init(
        "cloud_yaml missing in second project", project + "  - name: beta\n", "4:5",
        "project 'beta': `projects[1].cloud_yaml` is required (path to its cloud.yaml)", code: .invalidFleet),
    .init(
        "remote_spec relative", project + "    remote_spec: chain.yaml\n", "4:18",
        "project 'alpha': `projects[0].remote_spec` must be an absolute POSIX path", code: .invalidFleet),
    .init(
        "remote_spec number", project + "    remote_spec: 5\n", "4:18",
        "project 'alpha': `projects[0].remote_spec` must be an absolute POSIX path", code: .invalidFleet),
    .init(
        "tags not a list", project + "    tags: prod\n", "4:11",
        "`projects[0].tags` must be a list of strings",
        code: .invalidFleet),
    .init(
        "tags blank item", project + "    tags: [prod, '']\n", "4:18",
        "`projects[0].tags` must be a list of non-empty strings", code: .invalidFleet),
    .init(
        "tags number item", project + "    tags: [1]\n", "4:12",
        "`projects[0].tags` must be a list of non-empty strings",
        code: .invalidFleet),
]

@Suite struct FleetFileTests {
    @Test(arguments: fleetErrorCases)
    func rejects(_ testCase: YAMLErrorCase) {
        let dir = TempDir()
        dir.write("a.yaml", "repo:\n  url: u\n")
        let path = dir.write("fleet.yaml", testCase.yaml)
        #expect(failure { try FleetFile.load(path: path) } == testCase.expected(path: path))
    }

    @Test func duplicateNameNamesFirstLocation() {
        let dir = TempDir()
        dir.write("a.yaml", "")
        let path = dir.write(
            "fleet.yaml", project + "  - name: beta\n    cloud_yaml: a.yaml\n  - name: alpha\n")
        #expect(
            failure { try FleetFile.load(path: path) }
                == FleetError(
                    .invalidFleet,
                    "\(path):6:11: duplicate project name 'alpha' (first defined at \(path):2:11)"))
    }

    @Test func missingCloudYAMLNamesTheProject() {
        let dir = TempDir()
        let path = dir.write(
            "conf/fleet.yaml", "projects:\n  - name: alpha\n    cloud_yaml: ../missing/cloud.yaml\n")
        #expect(
            failure { try FleetFile.load(path: path) }
                == FleetError(
                    .invalidFleet,
                    "\(path):3:17: project 'alpha': cloud.yaml not found: \(dir.path)/missing/cloud.yaml"))
        _ = dir.makeDirectory("missing/cloud.yaml")  // a directory is not a cloud.yaml either
        #expect(
            failure { try FleetFile.load(path: path) }
                == FleetError(
                    .invalidFleet,
                    "\(path):3:17: project 'alpha': cloud.yaml not found: \(dir.path)/missing/cloud.yaml"))
    }

    @Test func missingFleetFile() {
        let dir = TempDir()
        let path = dir.path + "/fleet.yaml"
        #expect(
            failure { try FleetFile.load(path: path) }
                == FleetError(.invalidFleet, "fleet file not found: \(path)"))
        #expect(
            failure { try FleetFile.load(path: path, origin: "from --fleet") }
                == FleetError(.invalidFleet, "fleet file not found: \(path) (from --fleet)"))
    }

    @Test func yamlSyntaxError() throws {
        let dir = TempDir()
        let path = dir.write("fleet.yaml", "projects: [\n")
        let error = try #require(failure { try FleetFile.load(path: path) })
        #expect(error.code == .invalidFleet)
        #expect(error.message.hasPrefix("\(path): YAML parse error: "))
    }

    @Test func goodFile() throws {
        let dir = TempDir()
        let alpha = dir.write("conf/alpha/cloud.yaml", "repo:\n  url: u\n")
        let beta = dir.write("elsewhere/beta.yaml", "repo:\n  url: u\n")
        let gamma = dir.write("outside/cloud.yaml", "repo:\n  url: u\n")
        let path = dir.write(
            "conf/fleet.yaml",
            """
            version: 1
            defaults:
              concurrency: 4
              connections_per_host: 2
              per_host: 3
              deadline: 90.5
              known_hosts: hosts/known_hosts
              host_key_policy: accept-new
            projects:
              - name: alpha
                cloud_yaml: alpha/cloud.yaml
                remote_spec: /workspace/app/chain.yaml
                tags: [prod, eu]
                deadline: 5
              - name: Beta_2.x-y
                cloud_yaml: \(beta)
                tags: ~
              - name: 9gamma
                cloud_yaml: ./../outside//cloud.yaml
                remote_spec: ~
            """)
        let fleet = try FleetFile.load(path: path)
        #expect(fleet.path == path)
        var defaults = FleetFile.Defaults()
        defaults.concurrency = 4
        defaults.connectionsPerHost = 2
        defaults.perHost = 3
        defaults.deadlineSeconds = 90.5
        defaults.knownHosts = dir.path + "/conf/hosts/known_hosts"
        defaults.hostKeyPolicy = .acceptNew
        defaults.hostKeyPolicyIsExplicit = true
        #expect(fleet.defaults == defaults)
        #expect(
            fleet.projects == [
                FleetFile.Project(
                    name: "alpha", cloudYAML: alpha, remoteSpec: "/workspace/app/chain.yaml",
                    tags: ["prod", "eu"], deadlineSeconds: 5),
                FleetFile.Project(name: "Beta_2.x-y", cloudYAML: beta, remoteSpec: nil, tags: []),
                FleetFile.Project(name: "9gamma", cloudYAML: gamma, remoteSpec: nil, tags: []),
            ])
    }

    @Test func defaultsWhenAbsent() throws {
        let dir = TempDir()
        dir.write("a.yaml", "")
        let fleet = try FleetFile.load(path: dir.write("fleet.yaml", project + "defaults: ~\n"))
        #expect(fleet.defaults == FleetFile.Defaults())
        #expect(fleet.defaults.concurrency == 16)
        #expect(fleet.defaults.connectionsPerHost == 3)
        #expect(fleet.defaults.perHost == 8)
        #expect(fleet.defaults.deadlineSeconds == 60)
        #expect(fleet.defaults.knownHosts == nil)
        #expect(fleet.defaults.hostKeyPolicy == .strict)
        #expect(try FleetFile.load(path: dir.write("empty.yaml", "projects: []\n")).projects.isEmpty)
        let integerDeadline = try FleetFile.load(
            path: dir.write("d.yaml", "defaults:\n  deadline: 30\nprojects: []\n"))
        #expect(integerDeadline.defaults.deadlineSeconds == 30)
        let hexDeadline = try FleetFile.load(
            path: dir.write("h.yaml", "defaults:\n  deadline: 0x3C\nprojects: []\n"))
        #expect(hexDeadline.defaults.deadlineSeconds == 60)
        let fraction = try FleetFile.load(
            path: dir.write("f.yaml", "defaults:\n  deadline: .5\nprojects: []\n"))
        #expect(fraction.defaults.deadlineSeconds == 0.5)
    }
}
