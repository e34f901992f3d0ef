import BenchSupport
import FleetCore
import Foundation
import SSHClient
import TestSupport
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The status-read program is a real Python file (`Sources/RunnerProtocol/Programs/status_read.py`),
/// embedded at build time: it must compile and pass the linter, and it must render the probe
/// command lines exactly as the client's one table (`RemoteCommands.Probe`) does.
@Suite("Status-read program")
struct StatusProgramTests {
    static let programFile =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/RunnerProtocol")
        .appendingPathComponent(ObservationScript.programPath).path

    /// Values a state or configuration could hold: quotes, slots of the templates themselves,
    /// shell syntax, Unicode, a newline, an option-looking word, an assignment-looking word.
    static let hostile = [
        "plain", "", "with space", "it's", "\"q\"", "{session}", "{plan}", "$(id)", "`id`", "日本",
        "line\nbreak", "--json", "A=B", "back\\slash", "&&",
    ]

    @Test func programCompilesAndPassesTheLinter() async throws {
        // The compiled file goes to a directory of the test's own, not beside the source (where
        // the build would embed it).
        let cache = try TemporaryDirectory.make(prefix: "mpf-pycache-")
        defer { TemporaryDirectory.remove(cache) }
        let file = Self.programFile
        let report = try await onOwnThread { () throws -> String? in
            _ = try BenchProcess.run([
                "/usr/bin/env", "python3", "-X", "pycache_prefix=" + cache, "-m", "py_compile", file,
            ])
            guard (try? BenchProcess.run(["/usr/bin/env", "python3", "-c", "import pyflakes"])) != nil else {
                return nil
            }
            return try BenchProcess.run(["/usr/bin/env", "python3", "-m", "pyflakes", file])
        }
        guard let report else {
            Issue.record(
                "pyflakes is missing for python3: run scripts/install-deps.sh --tests (it installs pyflakes from PyPI)"
            )
            return
        }
        #expect(report.trimmed.isEmpty, "pyflakes: \(report)")
    }

    @Test func embeddedProgramIsTheFile() throws {
        let text = try #require(FileSystem.readText(Self.programFile))
        #expect(ObservationScript.program == text)
        #expect(text.components(separatedBy: "@ARGS@").count == 2, "one argument placeholder")
    }

    /// The program's own `probe_command` and `megaplan_call` (taken from the file with `ast`) give
    /// the client's command line for every probe and hostile value, and the in-process call reads
    /// from it the arguments and environment of the megaplan command.
    @Test func programRendersTheProbeTable() throws {
        var cases: [JSONValue] = []
        var expected: [(command: String, call: JSONValue)] = []
        for probe in RemoteCommands.Probe.allCases {
            for value in Self.hostile {
                let values = [
                    "session": value, "log": "/srv/" + value, "workspace": "/srv/" + value,
                    "plan": value, "number": "-42",
                ]
                cases.append([
                    "probe": .string(probe.rawValue),
                    "values": .object(JSONObject(values.map { ($0.key, .string($0.value)) })),
                ])
                let call: JSONValue =
                    switch probe {
                    case .planStatus: [.strings(["status", "--plan", value]), .object(JSONObject())]
                    case .verifyHuman:
                        [
                            .strings(["verify-human", "--list", "--plan", value, "--json"]),
                            .object(["MEGAPLAN_TRUSTED_CONTAINER": "1"]),
                        ]
                    default: .null
                    }
                expected.append((probe.command(values), call))
            }
        }
        let script = """
            import ast, json, re, shlex, sys
            tree = ast.parse(open(sys.argv[1]).read())
            defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ('fill', 'probe_command', 'megaplan_call')]
            ns = {'re': re, 'shlex': shlex, 'q': shlex.quote, 'a': {'probes': json.loads(sys.argv[2])}}
            exec(compile(ast.Module(body=defs, type_ignores=[]), sys.argv[1], 'exec'), ns)
            out = []
            for c in json.loads(sys.argv[3]):
                cmd = ns['probe_command'](c['probe'], **c['values'])
                call = ns['megaplan_call'](cmd) if c['probe'] in ('plan_status', 'verify_human') else None
                out.append({'command': cmd, 'call': call})
            print(json.dumps(out))
            """
        let output = try BenchProcess.run([
            "/usr/bin/env", "python3", "-c", script, Self.programFile,
            RemoteCommands.Probe.templates.serialized(), JSONValue.array(cases).serialized(),
        ])
        let rendered = try #require(JSONValue.parse(output).arrayValue)
        try #require(rendered.count == expected.count)
        for (answer, wanted) in zip(rendered, expected) {
            #expect(answer["command"]?.stringValue == wanted.command)
            #expect(answer["call"] == wanted.call, "\(wanted.command)")
        }
    }

    /// The table renders the reference's command lines (§4.10) byte for byte.
    @Test func probeTableIsTheReferenceLines() {
        #expect(
            RemoteCommands.Probe.runner.command(["session": "it's"])
                == "tmux has-session -t 'it'\"'\"'s' 2>/dev/null && echo alive || echo dead")
        #expect(
            RemoteCommands.Probe.chainLogStat.command(["log": "/srv/a b/.megaplan/cloud-chain.log"])
                == "stat -c '%Y %s' '/srv/a b/.megaplan/cloud-chain.log' 2>/dev/null || echo unavailable")
        #expect(
            RemoteCommands.verifyHuman(workspace: "/srv/app", plan: "p 1")
                == "cd /srv/app && MEGAPLAN_TRUSTED_CONTAINER=1 megaplan verify-human --list --plan 'p 1' --json"
        )
        #expect(
            RemoteCommands.prProbe(workspace: "/srv/app", number: 42)
                == "cd /srv/app && gh pr view 42 --json state --jq .state 2>/dev/null || echo unknown")
        #expect(
            RemoteCommands.planStatus(workspace: "/srv/app", plan: "{x}")
                == "cd /srv/app && megaplan status --plan '{x}'")
        #expect(
            RemoteCommands.planStatus(workspace: "/srv/app", plan: nil) == "cd /srv/app && megaplan status")
    }

    /// A probe that outlives its timeout answers with the one "probe timed out" text, naming the
    /// command line the client would have built (the runner probe here, run as a command).
    @Test func probeTimeoutNamesTheTableCommand() async throws {
        let root = try TemporaryDirectory.make(prefix: "mpf-program-")
        defer { TemporaryDirectory.remove(root) }
        let bin = root + "/bin"
        try FileSystem.makeDirectories(bin)
        try FileSystem.writeAtomically(bin + "/tmux", text: "#!/bin/sh\nexec sleep 30\n")
        _ = try BenchProcess.run(["/bin/chmod", "+x", bin + "/tmux"])
        let spec = root + "/app/chain.yaml"
        try FileSystem.makeDirectories(PosixPath.dirname(ChainPaths.stateFile(spec: spec)))
        let session = "it's {session}"
        try FileSystem.writeAtomically(
            ChainPaths.stateFile(spec: spec),
            text: JSONValue.object([
                "resolved_workspace": .string(root + "/ws"), "chain_session": .string(session),
            ])
            .serialized())
        let request = ObservationScript.Request(
            spec: spec, fallbackWorkspace: root + "/ws", fallbackSession: "chain", mode: .observe,
            probeTimeout: 1,
            outputLimit: OutputLimits.remoteText, probes: .command)
        let command =
            "PATH=\(ShellQuote.quote(bin)):$PATH " + ObservationScript.command(request) + " 2>/dev/null"
        let output = try await onOwnThread { try BenchProcess.run(["/bin/sh", "-c", command]) }
        let result = try ObservationResult.decode(
            RunnerOutput(status: 0, stdout: output, stderr: ""), host: "local")
        let runner = try #require(result.observation?.runner)
        #expect(runner.status == 124)
        #expect(
            runner.stderr == "probe timed out after 1s: "
                + RemoteCommands.Probe.runner.command(["session": session]))
    }
}
