import Testing

@testable import FleetCore

/// One valid milestone taking lines 1–3; milestone fields added below it start on line 4 at
/// column 5.
private let milestone = "milestones:\n  - label: a\n    idea: i.md\n"

private let abortChoices = "('stop_chain', 'skip_milestone', 'retry_milestone')"

/// Every rule of cloud reference §3.2 and §3.3 (exact messages, line:col by hand).
private let chainErrorCases: [YAMLErrorCase] = [
    // §3.1 file level
    .init("top level is a list", "- a\n", "1:1", "chain spec must be a YAML mapping"),
    .init("top level is a scalar", "just text\n", "1:1", "chain spec must be a YAML mapping"),

    // base_branch
    .init("base_branch blank", "base_branch: '  '\n", "1:14", "`base_branch` must be a non-empty string"),
    .init(
        "base_branch YAML 1.1 boolean", "base_branch: no\n", "1:14",
        "`base_branch` must be a non-empty string"),
    .init("base_branch number", "base_branch: 5\n", "1:14", "`base_branch` must be a non-empty string"),
    .init(
        "base_branch before milestones", "milestones: x\nbase_branch: ''\n", "2:14",
        "`base_branch` must be a non-empty string"),

    // milestones
    .init("milestones not a list", "milestones: x\n", "1:13", "`milestones` must be a list"),
    .init("milestones mapping", "milestones: {a: 1}\n", "1:13", "`milestones` must be a list"),
    .init("milestone not a mapping", "milestones:\n  - x\n", "2:5", "milestones[0] must be a mapping"),
    .init(
        "milestone label missing", "milestones:\n  - idea: i.md\n", "2:5", "milestones[0].label is required"),
    .init(
        "milestone label blank", "milestones:\n  - label: ' '\n    idea: i\n", "2:12",
        "milestones[0].label is required"),
    .init(
        "milestone label number", "milestones:\n  - label: 5\n    idea: i\n", "2:12",
        "milestones[0].label is required"),
    .init(
        "milestone label null", "milestones:\n  - label: ~\n    idea: i\n", "2:12",
        "milestones[0].label is required"),
    .init("milestone idea missing", "milestones:\n  - label: a\n", "2:5", "milestones[0].idea is required"),
    .init(
        "milestone idea blank", "milestones:\n  - label: a\n    idea: ''\n", "3:11",
        "milestones[0].idea is required"),
    .init(
        "milestone label before idea", "milestones:\n  - idea: ''\n", "2:5", "milestones[0].label is required"
    ),
    .init(
        "second milestone uses index 1", milestone + "  - label: b\n", "4:5", "milestones[1].idea is required"
    ),
    .init(
        "milestone branch number", milestone + "    branch: 5\n", "4:13",
        "milestones[0].branch must be a string"),
    .init(
        "milestone branch YAML 1.1 boolean", milestone + "    branch: no\n", "4:13",
        "milestones[0].branch must be a string"),
    .init(
        "milestone profile", milestone + "    profile: 5\n", "4:14", "milestones[0].profile must be a string"),
    .init(
        "milestone robustness", milestone + "    robustness: [x]\n", "4:17",
        "milestones[0].robustness must be a string"),
    .init(
        "milestone vendor number", milestone + "    vendor: 5\n", "4:13",
        "milestones[0].vendor must be a string"),
    .init(
        "milestone vendor unknown", milestone + "    vendor: gemini\n", "4:13",
        "milestones[0].vendor must be one of ('claude', 'codex'); got 'gemini'"),
    .init(
        "milestone depth unknown", milestone + "    depth: ultra\n", "4:12",
        "milestones[0].depth must be one of ('minimal', 'low', 'medium', 'high', 'xhigh', 'max'); got 'ultra'"
    ),
    .init(
        "milestone depth number", milestone + "    depth: 3\n", "4:12", "milestones[0].depth must be a string"
    ),
    .init(
        "milestone critic unknown", milestone + "    critic: solo\n", "4:13",
        "milestones[0].critic must be one of ('kimi', 'cross'); got 'solo'"),
    .init(
        "milestone deepseek_provider unknown", milestone + "    deepseek_provider: azure\n", "4:24",
        "milestones[0].deepseek_provider must be one of ('fireworks', 'direct'); got 'azure'"),
    .init(
        "milestone with_prep quoted yes", milestone + "    with_prep: 'yes'\n", "4:16",
        "milestones[0].with_prep must be a boolean"),
    .init(
        "milestone with_prep integer", milestone + "    with_prep: 1\n", "4:16",
        "milestones[0].with_prep must be a boolean"),
    .init(
        "milestone with_feedback text", milestone + "    with_feedback: sure\n", "4:20",
        "milestones[0].with_feedback must be a boolean"),
    .init(
        "milestone prep_direction number", milestone + "    prep_direction: 5\n", "4:21",
        "milestones[0].prep_direction must be a string"),
    .init(
        "milestone prep_direction blank", milestone + "    prep_direction: '   '\n", "4:21",
        "milestones[0].prep_direction must be non-empty when provided"),
    .init(
        "milestone phase_model number", milestone + "    phase_model: 5\n", "4:18",
        "milestones[0].phase_model must be a string or list of strings"),
    .init(
        "milestone phase_model mapping", milestone + "    phase_model: {a: b}\n", "4:18",
        "milestones[0].phase_model must be a string or list of strings"),
    .init(
        "milestone phase_model list with number", milestone + "    phase_model: [a, 5]\n", "4:22",
        "milestones[0].phase_model must be a string or list of strings"),
    .init(
        "milestone bakeoff", milestone + "    bakeoff: x\n", "4:14", "milestones[0].bakeoff must be a mapping"
    ),
    .init("milestone notes", milestone + "    notes: 5\n", "4:12", "milestones[0].notes must be a string"),
    // §3.3 order: label, idea, branch, profile, robustness, vendor, depth, critic, deepseek_provider,
    // with_prep, with_feedback, prep_direction, phase_model, bakeoff, notes.
    .init(
        "branch before notes", milestone + "    notes: 5\n    branch: 5\n", "5:13",
        "milestones[0].branch must be a string"),
    .init(
        "branch before profile", milestone + "    profile: 5\n    branch: 5\n", "5:13",
        "milestones[0].branch must be a string"),
    .init(
        "profile before robustness", milestone + "    robustness: 5\n    profile: 5\n", "5:14",
        "milestones[0].profile must be a string"),
    .init(
        "robustness before vendor", milestone + "    vendor: x\n    robustness: 5\n", "5:17",
        "milestones[0].robustness must be a string"),
    .init(
        "vendor before depth", milestone + "    depth: x\n    vendor: y\n", "5:13",
        "milestones[0].vendor must be one of ('claude', 'codex'); got 'y'"),
    .init(
        "depth before critic", milestone + "    critic: x\n    depth: y\n", "5:12",
        "milestones[0].depth must be one of ('minimal', 'low', 'medium', 'high', 'xhigh', 'max'); got 'y'"),
    .init(
        "critic before deepseek_provider", milestone + "    deepseek_provider: x\n    critic: y\n", "5:13",
        "milestones[0].critic must be one of ('kimi', 'cross'); got 'y'"),
    .init(
        "deepseek_provider before with_prep", milestone + "    with_prep: x\n    deepseek_provider: y\n",
        "5:24",
        "milestones[0].deepseek_provider must be one of ('fireworks', 'direct'); got 'y'"),
    .init(
        "with_prep before with_feedback", milestone + "    with_feedback: x\n    with_prep: y\n", "5:16",
        "milestones[0].with_prep must be a boolean"),
    .init(
        "with_feedback before prep_direction", milestone + "    prep_direction: ''\n    with_feedback: y\n",
        "5:20", "milestones[0].with_feedback must be a boolean"),
    .init(
        "prep_direction before phase_model", milestone + "    phase_model: 5\n    prep_direction: ''\n",
        "5:21",
        "milestones[0].prep_direction must be non-empty when provided"),
    .init(
        "phase_model before bakeoff", milestone + "    bakeoff: x\n    phase_model: 5\n", "5:18",
        "milestones[0].phase_model must be a string or list of strings"),
    .init(
        "bakeoff before notes", milestone + "    notes: 5\n    bakeoff: x\n", "5:14",
        "milestones[0].bakeoff must be a mapping"),

    // seed
    .init("seed not a mapping", "seed: plan\n", "1:7", "`seed` must be a mapping"),
    .init("seed.plan number", "seed:\n  plan: 5\n", "2:9", "`seed.plan` must be a string"),
    .init("milestones before seed", "seed: x\nmilestones: x\n", "2:13", "`milestones` must be a list"),

    // on_failure / on_escalate
    .init("on_failure not a mapping", "on_failure: stop\n", "1:13", "`on_failure` must be a mapping"),
    .init(
        "on_failure.abort unknown", "on_failure:\n  abort: explode\n", "2:10",
        "on_failure.abort must be one of \(abortChoices); got 'explode'"),
    .init(
        "on_failure.abort number", "on_failure:\n  abort: 3\n", "2:10",
        "on_failure.abort must be one of \(abortChoices); got 3"),
    .init("on_escalate not a mapping", "on_escalate: [x]\n", "1:14", "`on_escalate` must be a mapping"),
    .init(
        "on_escalate.abort boolean", "on_escalate:\n  abort: no\n", "2:10",
        "on_escalate.abort must be one of \(abortChoices); got False"),
    .init("seed before on_failure", "on_failure: x\nseed: y\n", "2:7", "`seed` must be a mapping"),
    .init(
        "on_failure before on_escalate", "on_escalate: x\non_failure: y\n", "2:13",
        "`on_failure` must be a mapping"),

    // policies
    .init(
        "merge_policy unknown", "merge_policy: manual\n", "1:15",
        "merge_policy must be one of ('auto', 'review'); got 'manual'"),
    .init(
        "merge_policy number", "merge_policy: 1\n", "1:15",
        "merge_policy must be one of ('auto', 'review'); got 1"),
    .init(
        "prerequisite_policy unknown", "prerequisite_policy: always\n", "1:22",
        "prerequisite_policy must be one of ('none', 'required'); got 'always'"),
    .init(
        "validation_policy boolean", "validation_policy: yes\n", "1:20",
        "validation_policy must be one of ('none', 'required'); got True"),
    .init(
        "on_escalate before merge_policy", "merge_policy: x\non_escalate: y\n", "2:14",
        "`on_escalate` must be a mapping"),
    .init(
        "merge_policy before prerequisite_policy", "prerequisite_policy: x\nmerge_policy: y\n", "2:15",
        "merge_policy must be one of ('auto', 'review'); got 'y'"),
    .init(
        "prerequisite_policy before validation_policy", "validation_policy: x\nprerequisite_policy: y\n",
        "2:22",
        "prerequisite_policy must be one of ('none', 'required'); got 'y'"),
    .init(
        "review_policy not a mapping", "review_policy: manual\n", "1:16", "`review_policy` must be a mapping"),
    .init(
        "review_policy.clean_milestone_pr unknown", "review_policy:\n  clean_milestone_pr: never\n", "2:23",
        "review_policy.clean_milestone_pr must be one of ('auto', 'manual'); got 'never'"),
    .init(
        "validation_policy before review_policy", "review_policy: x\nvalidation_policy: y\n", "2:20",
        "validation_policy must be one of ('none', 'required'); got 'y'"),

    // driver
    .init("driver not a mapping", "driver: fast\n", "1:9", "`driver` must be a mapping"),
    .init(
        "review_policy before driver", "driver: x\nreview_policy: y\n", "2:16",
        "`review_policy` must be a mapping"),
    .init(
        "driver.stall_threshold text", "driver:\n  stall_threshold: abc\n", "2:20",
        "driver.stall_threshold must be an integer; got 'abc'"),
    .init(
        "driver.stall_threshold decimal text", "driver:\n  stall_threshold: '5.0'\n", "2:20",
        "driver.stall_threshold must be an integer; got '5.0'"),
    .init(
        "driver.max_iterations list", "driver:\n  max_iterations: [1]\n", "2:19",
        "driver.max_iterations must be an integer; got a list"),
    .init(
        "driver.max_iterations infinity", "driver:\n  max_iterations: .inf\n", "2:19",
        "driver.max_iterations must be an integer; got .inf"),
    .init(
        "driver.poll_sleep text", "driver:\n  poll_sleep: fast\n", "2:15",
        "driver.poll_sleep must be a number; got 'fast'"),
    .init(
        "driver.phase_timeout mapping", "driver:\n  phase_timeout: {a: 1}\n", "2:18",
        "driver.phase_timeout must be a number; got a mapping"),
    .init(
        "driver.status_timeout text", "driver:\n  status_timeout: soon\n", "2:19",
        "driver.status_timeout must be a number; got 'soon'"),
    .init(
        "driver.on_escalate unknown", "driver:\n  on_escalate: explode\n", "2:16",
        "driver.on_escalate must be one of ('force-proceed', 'abort', 'fail'); got 'explode'"),
    .init(
        "driver.robustness number", "driver:\n  robustness: 5\n", "2:15", "driver.robustness must be a string"
    ),
    .init(
        "stall_threshold before max_iterations", "driver:\n  max_iterations: x\n  stall_threshold: y\n",
        "3:20",
        "driver.stall_threshold must be an integer; got 'y'"),
    .init(
        "max_iterations before poll_sleep", "driver:\n  poll_sleep: x\n  max_iterations: y\n", "3:19",
        "driver.max_iterations must be an integer; got 'y'"),
    .init(
        "poll_sleep before phase_timeout", "driver:\n  phase_timeout: x\n  poll_sleep: y\n", "3:15",
        "driver.poll_sleep must be a number; got 'y'"),
    .init(
        "phase_timeout before status_timeout", "driver:\n  status_timeout: x\n  phase_timeout: y\n", "3:18",
        "driver.phase_timeout must be a number; got 'y'"),
    .init(
        "status_timeout before on_escalate", "driver:\n  on_escalate: x\n  status_timeout: y\n", "3:19",
        "driver.status_timeout must be a number; got 'y'"),
    .init(
        "on_escalate before robustness", "driver:\n  robustness: 5\n  on_escalate: x\n", "3:16",
        "driver.on_escalate must be one of ('force-proceed', 'abort', 'fail'); got 'x'"),
]

@Suite struct ChainSpecTests {
    @Test(arguments: chainErrorCases)
    func rejects(_ testCase: YAMLErrorCase) {
        let dir = TempDir()
        let path = dir.write("chain.yaml", testCase.yaml)
        #expect(failure { try ChainSpec.load(path: path) } == testCase.expected(path: path))
    }

    private func load(_ yaml: String) throws -> ChainSpec {
        let dir = TempDir()
        return try ChainSpec.load(path: dir.write("chain.yaml", yaml))
    }

    @Test func missingFile() {
        let dir = TempDir()
        let path = dir.path + "/chain.yaml"
        #expect(
            failure { try ChainSpec.load(path: path) }
                == FleetError(.invalidSpec, "spec file not found: \(path)"))
    }

    @Test func yamlSyntaxError() throws {
        let dir = TempDir()
        let path = dir.write("chain.yaml", "milestones: [\n  - {label: a\n")
        let error = try #require(failure { try ChainSpec.load(path: path) })
        #expect(error.code == .invalidSpec)
        #expect(error.message.hasPrefix("\(path): YAML parse error: "))
    }

    static let defaultsJSON: JSONValue = [
        "milestones": [],
        "seed_plan": nil,
        "base_branch": "main",
        "on_failure": "stop_chain",
        "on_escalate": "stop_chain",
        "merge_policy": "auto",
        "prerequisite_policy": "none",
        "validation_policy": "none",
        "review_policy": ["clean_milestone_pr": "auto"],
        "stall_threshold": 5,
        "max_iterations": 200,
        "poll_sleep": 1.0,
        "phase_timeout": 3600.0,
        "status_timeout": 60.0,
        "escalate_action": "force-proceed",
        "robustness": "standard",
        "auto_approve": true,
    ]

    @Test(arguments: [
        "", "# only a comment\n", "---\n", "milestones: ~\nseed: ~\ndriver: ~\non_failure: ~\n",
    ])
    func emptyDocumentIsValid(_ yaml: String) throws {
        let spec = try load(yaml)
        #expect(spec.normalizedJSON == Self.defaultsJSON)
        #expect(!spec.declaresBaseBranch)
    }

    @Test func unknownKeysIgnored() throws {
        #expect(try load("whatever: 1\nmilestones: []\n").normalizedJSON == Self.defaultsJSON)
    }

    @Test func fullFileNormalizes() throws {
        let yaml = """
            base_branch: "  develop  "
            seed:
              plan: seed-plan
            milestones:
              - label: foundation
                idea: ideas/foundation.md
                branch: feat/foundation
                profile: careful
                robustness: heavy
                vendor: claude
                depth: xhigh
                critic: cross
                deepseek_provider: fireworks
                with_prep: true
                with_feedback: yes
                prep_direction: "  look at the API first  "
                phase_model: plan=claude
                bakeoff:
                  rounds: 2
                  agents: [claude, codex]
                  strict: no
                notes: first one
              - label: second
                idea: /workspace/app/ideas/second.md
                phase_model: [plan=claude, execute=codex]
            on_failure:
              abort: skip_milestone
            on_escalate:
              abort: retry_milestone
            merge_policy: review
            prerequisite_policy: required
            validation_policy: required
            review_policy:
              clean_milestone_pr: manual
            driver:
              stall_threshold: "7"
              max_iterations: 12.9
              poll_sleep: "2.5"
              phase_timeout: 100
              status_timeout: 0.5
              on_escalate: abort
              robustness: light
              auto_approve: 0
            """
        let spec = try load(yaml)
        #expect(spec.declaresBaseBranch)
        #expect(
            spec.normalizedJSON
                == [
                    "milestones": [
                        [
                            "label": "foundation", "idea": "ideas/foundation.md", "branch": "feat/foundation",
                            "profile": "careful", "robustness": "heavy", "vendor": "claude", "depth": "xhigh",
                            "critic": "cross", "deepseek_provider": "fireworks", "with_prep": true,
                            "with_feedback": true, "prep_direction": "look at the API first",
                            "phase_model": ["plan=claude"],
                            "bakeoff": ["rounds": 2, "agents": ["claude", "codex"], "strict": false],
                            "notes": "first one",
                        ],
                        [
                            "label": "second", "idea": "/workspace/app/ideas/second.md", "branch": nil,
                            "profile": nil, "robustness": nil, "vendor": nil, "depth": nil, "critic": nil,
                            "deepseek_provider": nil, "with_prep": false, "with_feedback": false,
                            "prep_direction": nil, "phase_model": ["plan=claude", "execute=codex"],
                            "bakeoff": nil,
                            "notes": nil,
                        ],
                    ],
                    "seed_plan": "seed-plan",
                    "base_branch": "develop",
                    "on_failure": "skip_milestone",
                    "on_escalate": "retry_milestone",
                    "merge_policy": "review",
                    "prerequisite_policy": "required",
                    "validation_policy": "required",
                    "review_policy": ["clean_milestone_pr": "manual"],
                    "stall_threshold": 7,
                    "max_iterations": 12,
                    "poll_sleep": 2.5,
                    "phase_timeout": 100.0,
                    "status_timeout": 0.5,
                    "escalate_action": "abort",
                    "robustness": "light",
                    "auto_approve": false,
                ])
        // The normalized document prints floats with a decimal part (§0.3).
        #expect(spec.normalizedJSON.serialized().contains("\"phase_timeout\":100.0"))
    }

    @Test func baseBranchPresenceAndTrimming() throws {
        #expect(try load("base_branch: ' main '\n").baseBranch == "main")
        let explicitNull = try load("base_branch: ~\n")
        #expect(explicitNull.baseBranch == "main")
        #expect(explicitNull.declaresBaseBranch)
        let explicitMain = try load("base_branch: main\n")
        #expect(explicitMain.declaresBaseBranch)
        #expect(try !load("milestones: []\n").declaresBaseBranch)
    }

    @Test(
        arguments: [
            ("seed:\n  plan: '   '\n", nil), ("seed:\n  plan: ~\n", nil), ("seed: {}\n", nil),
            ("seed:\n  plan: p1\n", "p1"), ("seed:\n  plan: ' p1 '\n", " p1 "),
        ] as [(String, String?)])
    func seedPlan(_ yaml: String, _ plan: String?) throws {
        #expect(try load(yaml).seedPlan == plan)
    }

    @Test func milestoneStringsAndTrimming() throws {
        let spec = try load(
            milestone + "    prep_direction: '  go left  '\n    phase_model: one\n    notes: '  keep  '\n")
        let first = try #require(spec.milestones.first)
        #expect(first.prepDirection == "go left")
        #expect(first.phaseModel == ["one"])
        #expect(first.notes == "  keep  ")
        #expect(first.idea == "i.md")
        let nulls = try load(
            milestone + "    vendor: ~\n    with_prep: ~\n    phase_model: ~\n    bakeoff: ~\n")
        #expect(nulls.milestones[0].vendor == nil)
        #expect(nulls.milestones[0].withPrep == false)
        #expect(nulls.milestones[0].phaseModel == [])
        #expect(nulls.milestones[0].bakeoff == nil)
    }

    /// Hostile input (a chain spec is also read back from the runner) ends in a clear error, fast.
    @Test func deepNestingIsAnErrorNotACrash() throws {
        let text =
            "x: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        let error = try #require(failure { try ChainSpec.parse(text: text, path: "/c.yaml") })
        #expect(error.code == .invalidSpec)
        #expect(error.message.hasPrefix("/c.yaml"))
    }

    @Test func aliasBombIsAnErrorNotAHang() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...8 {
            text +=
                "a\(level): &a\(level) ["
                + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        text += "milestones:\n  - label: l\n    idea: i\n    bakeoff:\n      x: *a8\n"
        let clock = ContinuousClock()
        let start = clock.now
        let error = try #require(failure { try ChainSpec.parse(text: text, path: "/c.yaml") })
        #expect(error.code == .invalidSpec)
        #expect(error.message.hasPrefix("/c.yaml:"))
        #expect(clock.now - start < .seconds(5))
    }

    @Test(arguments: [
        ("stall_threshold: '7'", 7), ("stall_threshold: ' 8 '", 8), ("stall_threshold: 7.9", 7),
        ("stall_threshold: -3", -3), ("stall_threshold: true", 1), ("stall_threshold: 0x10", 16),
        ("stall_threshold: '+4'", 4),
    ])
    func driverIntegerConversion(_ line: String, _ value: Int) throws {
        #expect(try load("driver:\n  \(line)\n").stallThreshold == value)
    }

    @Test(arguments: [
        ("poll_sleep: '2.5'", 2.5), ("poll_sleep: 2", 2.0), ("poll_sleep: ' 3 '", 3.0),
        ("poll_sleep: 1e3", 1000.0),
        ("poll_sleep: 0.25", 0.25), ("poll_sleep: true", 1.0), ("poll_sleep: -1.5", -1.5),
    ])
    func driverFloatConversion(_ line: String, _ value: Double) throws {
        #expect(try load("driver:\n  \(line)\n").pollSleep == value)
    }

    @Test(arguments: [
        ("", true), ("auto_approve: true", true), ("auto_approve: false", false), ("auto_approve: no", false),
        ("auto_approve: 'no'", true), ("auto_approve: 0", false), ("auto_approve: 2", true),
        ("auto_approve: ''", false), ("auto_approve: ~", false), ("auto_approve: []", false),
        ("auto_approve: [x]", true), ("auto_approve: 0.0", false), ("auto_approve: {}", false),
    ])
    func driverAutoApproveTruthiness(_ line: String, _ value: Bool) throws {
        #expect(try load("driver:\n  robustness: r\n  \(line)\n").autoApprove == value)
    }
}
