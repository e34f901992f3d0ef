import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// examples/systemd, examples/cron and examples/logging run as written: systemd's own checker
/// reads the units, the unit's environment and the crontab's command line drive the real binary
/// (against the suite's runner host and an unreachable one), and the log shipper's config
/// reads only fields that a real line has.
@Suite("Recipes: systemd, cron, log shipping", .runnerHost)
struct RecipeTests {
    static let examples = StandaloneBinaryTests.checkout + "/examples"
    static let serviceName = "megaplan-fleet-tick.service"
    static let installedBinary = "/usr/local/bin/megaplan-fleet"

    /// A systemd unit file's assignments, section by section, in order (a key may repeat).
    struct UnitFile {
        var entries: [(section: String, key: String, value: String)] = []

        init(path: String) throws {
            let text = try #require(FileSystem.readText(path), "\(path)")
            var section = ""
            for raw in text.split(separator: "\n") {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
                if line.hasPrefix("[") {
                    section = String(line.dropFirst().dropLast())
                    continue
                }
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                try #require(parts.count == 2, "\(path): \(line)")
                entries.append((section, String(parts[0]), String(parts[1])))
            }
        }

        func values(_ section: String, _ key: String) -> [String] {
            entries.filter { $0.section == section && $0.key == key }.map(\.value)
        }

        func value(_ section: String, _ key: String) -> String? { values(section, key).last }
    }

    /// Runs a program of this machine to completion.
    static func host(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLI.Result {
        try await CLI.run(
            Array(arguments.dropFirst()), home: ProcessEnvironment.current["HOME"] ?? "/root",
            path: "/usr/local/bin:/usr/bin:/usr/sbin:/bin", environment: environment, executable: arguments[0]
        )
    }

    // MARK: systemd

    /// `systemd-analyze verify` loads both units (the timer finds its service beside it) and must
    /// say nothing: an unknown or misspelt directive is only a warning there, so any output fails
    /// the test. verify also checks that ExecStart's program exists and is executable; the unit
    /// names where the install steps put the binary, so the checked copies name the binary this
    /// suite built instead (the only change). The offline security review must rate the
    /// service's exposure at most 2.0 of 10.
    @Test(.enabled(if: FileSystem.exists("/usr/bin/systemd-analyze"), "needs systemd-analyze (systemd)"))
    func systemdUnitsPassVerifyAndTheSecurityReview() async throws {
        let directory = try scratchDirectory("mpf-systemd-")
        defer { TemporaryDirectory.remove(directory) }
        let service = try #require(FileSystem.readText(Self.examples + "/systemd/" + Self.serviceName))
        try #require(service.contains("ExecStart=\(Self.installedBinary) "))
        try write(
            directory + "/" + Self.serviceName,
            service.replacingOccurrences(
                of: "ExecStart=\(Self.installedBinary) ", with: "ExecStart=\(CLI.binary) "))
        let timer = try #require(FileSystem.readText(Self.examples + "/systemd/megaplan-fleet-tick.timer"))
        try write(directory + "/megaplan-fleet-tick.timer", timer)

        let verify = try await Self.host([
            "/usr/bin/systemd-analyze", "verify", directory + "/megaplan-fleet-tick.timer",
            directory + "/" + Self.serviceName,
        ])
        #expect(verify.status == 0 && verify.stdout.isEmpty && verify.stderr.isEmpty, "\(verify)")

        // A misspelt directive is caught by the same check.
        try write(
            directory + "/" + Self.serviceName,
            service.replacingOccurrences(
                of: "ExecStart=\(Self.installedBinary) ", with: "ExecStart=\(CLI.binary) "
            )
            .replacingOccurrences(of: "ProtectSystem=strict", with: "ProtectSytem=strict"))
        let misspelt = try await Self.host([
            "/usr/bin/systemd-analyze", "verify", directory + "/" + Self.serviceName,
        ])
        #expect(misspelt.stderr.contains("ProtectSytem"), "\(misspelt)")
        try write(
            directory + "/" + Self.serviceName,
            service.replacingOccurrences(
                of: "ExecStart=\(Self.installedBinary) ", with: "ExecStart=\(CLI.binary) "))

        let security = try await Self.host([
            "/usr/bin/systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager",
            directory + "/" + Self.serviceName,
        ])
        #expect(security.status == 0, "\(security)")
        #expect(security.stdout.contains("Overall exposure level for \(Self.serviceName): "), "\(security)")
    }

    /// The hardening and the exit statuses the unit promises, and a timer that starts it.
    @Test func systemdUnitsAreHardenedAndTreatProjectErrorsAsAReport() throws {
        let unit = try UnitFile(path: Self.examples + "/systemd/" + Self.serviceName)
        #expect(unit.value("Service", "Type") == "oneshot")
        #expect(unit.value("Service", "ExecStart") == "\(Self.installedBinary) tick --all")
        for (key, value) in [
            ("DynamicUser", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
            ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"), ("PrivateDevices", "yes"), ("CapabilityBoundingSet", ""),
            ("RestrictSUIDSGID", "yes"), ("UMask", "0077"), ("StateDirectoryMode", "0700"),
        ] {
            #expect(unit.value("Service", key) == value, "\(key)")
        }
        // 1 (project errors) and 75 (the fleet lock was held) leave the unit active; 2 fails it.
        let success = Set(unit.values("Service", "SuccessExitStatus").flatMap { $0.split(separator: " ") })
        #expect(success == ["1", "75"])
        // Both SSH files come in as credentials, and the tool is pointed at them.
        let credentials = unit.values("Service", "LoadCredential").map {
            $0.split(separator: ":").first ?? ""
        }
        #expect(Set(credentials) == ["id_ed25519", "known_hosts"])
        let environment = Dictionary(
            unit.values("Service", "Environment").map {
                let parts = $0.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), String(parts[1]))
            }, uniquingKeysWith: { $1 })
        let stateDirectory = try #require(unit.value("Service", "StateDirectory"))
        #expect(environment[StateDirectory.environmentVariable] == "%S/" + stateDirectory)
        #expect(environment["MEGAPLAN_FLEET_KNOWN_HOSTS"] == "%d/known_hosts")
        #expect(environment["MEGAPLAN_FLEET"]?.hasPrefix("/etc/") == true)

        let timer = try UnitFile(path: Self.examples + "/systemd/megaplan-fleet-tick.timer")
        #expect(timer.value("Timer", "Unit") == Self.serviceName)
        #expect(timer.value("Install", "WantedBy") == "timers.target")
        #expect(timer.value("Timer", "OnUnitActiveSec") != nil)
    }

    /// The service's command and environment, with systemd's specifiers expanded as systemd
    /// would (%S: the state root, %d: the credentials directory, where systemd copies the key and
    /// known_hosts with mode 0400), tick a chain on the runner host: the key and known_hosts are
    /// read from the credentials directory, and what the run remembers lands in the state
    /// directory. systemd's sandbox itself is not applied here (no systemd is running).
    @Test func systemdServiceTicksWithTheEnvironmentItSets() async throws {
        let unit = try UnitFile(path: Self.examples + "/systemd/" + Self.serviceName)
        let fixture = try SSHFixture("systemd")
        defer { fixture.cleanUp() }
        let root = try scratchDirectory("mpf-systemd-run-")
        defer { TemporaryDirectory.remove(root) }
        let stateRoot = root + "/var/lib"
        let credentials = root + "/run/credentials/" + Self.serviceName
        let etc = root + "/etc/megaplan-fleet"
        try FileSystem.makeDirectories(stateRoot + "/" + (unit.value("Service", "StateDirectory") ?? ""))
        try FileSystem.makeDirectories(credentials)
        for (name, source) in [
            ("id_ed25519", fixture.host.server.clientKeyPath),
            ("known_hosts", fixture.host.server.knownHostsPath),
        ] {
            let text = try #require(FileSystem.readText(source))
            try write(credentials + "/" + name, text, mode: 0o400)
        }
        // The cloud.yaml names the key where systemd puts it.
        let cloud = try #require(FileSystem.readText(fixture.cloudYAML))
        try write(
            etc + "/app.cloud.yaml",
            cloud.replacingOccurrences(
                of: "identity_file: \(fixture.host.server.clientKeyPath)",
                with: "identity_file: \(credentials)/id_ed25519"))
        try fixture.project.writeState([
            "current_milestone_index": 1, "completed": [ChainStatusTests.done("m1")],
        ])

        var environment: [String: String] = [:]
        for assignment in unit.values("Service", "Environment") {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            environment[parts[0]] = parts[1].replacingOccurrences(of: "%S", with: stateRoot)
                .replacingOccurrences(of: "%d", with: credentials)
                .replacingOccurrences(of: "/etc/megaplan-fleet", with: etc)
        }
        let fleetPath = try #require(environment["MEGAPLAN_FLEET"])
        try write(fleetPath, "version: 1\nprojects:\n  - name: app\n    cloud_yaml: app.cloud.yaml\n")
        for (name, value) in fixture.secretEnvironment { environment[name] = value }
        let home = try #require(environment["HOME"])
        let command = try #require(unit.value("Service", "ExecStart")).split(separator: " ").map(String.init)
        #expect(command.first == Self.installedBinary)

        let tick = try await CLI.run(Array(command.dropFirst()), home: home, environment: environment)
        #expect(tick.status == 0, "\(tick)")
        let lines = tick.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        #expect(lines.first?["project"] == "app" && lines.first?["outcome"] == "ok", "\(tick)")
        #expect(!tick.stdout.contains(fixture.secretValue) && !tick.stderr.contains(fixture.secretValue))
        let state = try #require(environment[StateDirectory.environmentVariable])
        let markers = (try? FileManager.default.contentsOfDirectory(atPath: state + "/cloud/markers")) ?? []
        #expect(markers.count == 1)
        #expect(markers.allSatisfy { FileSystem.exists(state + "/cloud/markers/\($0)/status-history.json") })
    }

    // MARK: cron

    /// The crontab file's environment and job line, with its paths moved into a scratch
    /// directory: the command runs as cron runs it (`/bin/sh -c`, the file's variables), appends
    /// its JSON lines to the log, and exits with the statuses the comment explains.
    @Test func cronLineRunsAsWrittenWithTheExitStatusesItExplains() async throws {
        let text = try #require(FileSystem.readText(Self.examples + "/cron/megaplan-fleet"))
        for status in ["0 ", "1 ", "2 ", "75 ", "128+N "] {
            #expect(text.contains("#   \(status)"), "exit status \(status) is explained")
        }
        #expect(!text.contains("flock "), "the tool locks itself")
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
        let jobs = lines.filter { $0.first.map { $0 == "*" || $0 == "@" || $0.isNumber } == true }
        try #require(jobs.count == 1, "\(lines)")
        // /etc/cron.d format: five time fields, the user, the command.
        let fields = jobs[0].split(separator: " ", maxSplits: 6).map(String.init)
        try #require(fields.count == 7)
        #expect(fields[0] == "*/5" && fields[1...4].allSatisfy { $0 == "*" } && fields[5] == "megaplan")
        #expect(fields[6].hasPrefix("megaplan-fleet tick --all "))

        let root = try scratchDirectory("mpf-cron-")
        defer { TemporaryDirectory.remove(root) }
        func relocated(_ text: String) -> String {
            text.replacingOccurrences(of: "/etc/megaplan-fleet", with: root + "/etc")
                .replacingOccurrences(of: "/var/lib/megaplan-fleet", with: root + "/state")
                .replacingOccurrences(of: "/var/log/megaplan-fleet", with: root + "/log")
                .replacingOccurrences(
                    of: "PATH=/usr/local/bin:", with: "PATH=\(PosixPath.dirname(CLI.binary)):")
        }
        let variables = lines.filter { $0 != jobs[0] }.map(relocated)
        #expect(variables.contains { $0.hasPrefix(StateDirectory.environmentVariable + "=") })
        let script =
            variables.map { "export \($0)" }.joined(separator: "\n") + "\n" + relocated(fields[6]) + "\n"
        try FileSystem.makeDirectories(root + "/log")
        try FileSystem.makeDirectories(root + "/state")
        try write(root + "/etc/known_hosts", "")
        try write(
            root + "/etc/fleet.yaml",
            "version: 1\ndefaults:\n  known_hosts: known_hosts\nprojects:\n  - name: down\n    cloud_yaml: down.cloud.yaml\n"
        )
        try write(root + "/etc/down.cloud.yaml", Self.unreachableCloudYAML)

        let first = try await Self.host(["/bin/sh", "-c", script])
        #expect(first.status == 1, "\(first)")
        #expect(first.stdout.isEmpty, "\(first)")
        let log = FileSystem.readText(root + "/log/ticks.jsonl") ?? ""
        let parsed = log.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        #expect(parsed.count == 2, "\(log)")
        #expect(parsed.first?["outcome"] == "error" && parsed.first?["error_kind"] == "unreachable", "\(log)")

        // The next run appends; an invalid fleet file exits 2 and writes no line.
        let second = try await Self.host(["/bin/sh", "-c", script])
        #expect(second.status == 1, "\(second)")
        try write(root + "/etc/fleet.yaml", "version: 1\nprojects: []\nbogus: 1\n")
        let invalid = try await Self.host(["/bin/sh", "-c", script])
        #expect(invalid.status == 2, "\(invalid)")
        #expect(FileSystem.readText(root + "/log/ticks.jsonl")?.split(separator: "\n").count == 4)
    }

    /// A project whose host refuses connections (port 9, nothing listens): its line is an error.
    static let unreachableCloudYAML = """
        provider: ssh
        repo:
          url: https://example.invalid/down.git
          workspace: /workspace/down
        mode: chain
        chain:
          spec: /workspace/down/chain.yaml
        ssh:
          host: 127.0.0.1
          port: 9
          user: nobody

        """

    // MARK: log shipping

    /// examples/logging/vector.yaml parses, reads the systemd unit's journal and the cron
    /// recipe's log, and every field its transform reads (`parsed.…`) is one a real line has: a
    /// project line of a real tick, or its summary line (fields under `summary`). It keeps
    /// `project`, `outcome`, `error_kind` and `tick` and routes the summary line apart. Vector
    /// itself is not run (it is not installable here).
    @Test func vectorConfigReadsOnlyFieldsTheToolWrites() async throws {
        let text = try #require(FileSystem.readText(Self.examples + "/logging/vector.yaml"))
        let config = try #require(
            try YAMLReader(path: Self.examples + "/logging/vector.yaml", text: text).root?.plainValue
                as? [String: Any])
        let sources = try #require(config["sources"] as? [String: [String: Any]])
        #expect(
            sources.values.contains {
                $0["type"] as? String == "journald" && $0["include_units"] as? [String] == [Self.serviceName]
            })
        let cron = try #require(FileSystem.readText(Self.examples + "/cron/megaplan-fleet"))
        let logFile = try #require(
            sources.values.first { $0["type"] as? String == "file" }?["include"] as? [String]
        ).first
        #expect(
            logFile.map { cron.contains(">>" + $0) } == true, "the file source reads the cron recipe's log")

        let transforms = try #require(config["transforms"] as? [String: [String: Any]])
        let remap = try #require(transforms.first { $0.value["type"] as? String == "remap" })
        #expect(Set(remap.value["inputs"] as? [String] ?? []) == Set(sources.keys))
        let program = try #require(remap.value["source"] as? String)
        let paths = Set(
            program.matches(of: /parsed((?:\.[a-z_]+)+)/).map { String($0.output.1.dropFirst()) })
        for kept in ["project", "outcome", "error_kind", "tick", "summary"] {
            #expect(paths.contains(kept), "\(kept) is kept")
        }
        let route = try #require(transforms.first { $0.value["type"] as? String == "route" })
        #expect(route.value["inputs"] as? [String] == [remap.key])
        let routes = try #require(route.value["route"] as? [String: String])
        #expect(Set(routes.keys) == ["summary", "project"])
        let sinks = try #require(config["sinks"] as? [String: [String: Any]])
        #expect(
            Set(sinks.values.flatMap { $0["inputs"] as? [String] ?? [] })
                == ["\(route.key).summary", "\(route.key).project"])

        // Real lines: a tick of one unreachable project.
        let directory = try scratchDirectory("mpf-vector-")
        defer { TemporaryDirectory.remove(directory) }
        try write(directory + "/known_hosts", "")
        try write(directory + "/down.cloud.yaml", Self.unreachableCloudYAML)
        try write(
            directory + "/fleet.yaml",
            "version: 1\ndefaults:\n  known_hosts: known_hosts\nprojects:\n  - name: down\n    cloud_yaml: down.cloud.yaml\n"
        )
        let tick = try await CLI.run(
            ["tick", "--all", "--fleet", directory + "/fleet.yaml", "--state-dir", directory + "/state"],
            home: directory)
        #expect(tick.status == 1, "\(tick)")
        let lines = tick.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        let project = try #require(lines.first { $0["project"] != nil })
        let summary = try #require(lines.first { $0["summary"] != nil })
        func has(_ line: JSONValue, _ path: String) -> Bool {
            var value: JSONValue? = line
            for key in path.split(separator: ".") { value = value?[String(key)] }
            return value != nil
        }
        for path in paths {
            let line = path == "summary" || path == "wall_ms" ? summary : project
            #expect(has(line, path), "`parsed.\(path)` is not a field of \(line.serialized())")
        }
    }
}
