import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

@testable import Fleet

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The Prometheus textfile as operators run it: two shards of `tick --all` write their files into
/// one directory read by a real node_exporter (Debian `prometheus-node-exporter`), and the shipped
/// alert rules and dashboard query the metric names those files hold (`promtool`, Debian
/// `prometheus`). Both tools are installed by `scripts/install-deps.sh --tests`.
extension RealHosts {
    @Suite("Prometheus textfile, node_exporter and alert rules")
    struct PromExporterTests {
        static let nodeExporter = "/usr/bin/prometheus-node-exporter"
        static let promtool = "/usr/bin/promtool"
        static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples").path
        static var alerts: String { examples + "/prometheus/alerts.yaml" }
        static var dashboard: String { examples + "/grafana/megaplan-fleet.json" }

        static func requireTool(_ path: String) throws {
            try #require(
                FileSystem.isRegularFile(path),
                "\(path) is missing: run scripts/install-deps.sh --tests (Debian prometheus-node-exporter and prometheus)"
            )
        }

        /// The recommended name of shard K of N's file in a shared textfile directory.
        static func fileName(_ index: Int, of count: Int) -> String {
            "megaplan-fleet-shard-\(index)-of-\(count).prom"
        }

        /// Two shards tick into one directory; one project then fails to be read and its shard
        /// ticks again. node_exporter serves both files' series without a scrape error; the failed
        /// project keeps its last known status and `since`, is down, and has its error kind.
        @Test(.timeLimit(.minutes(2)))
        func twoShardsShareOneTextfileDirectoryUnderNodeExporter() async throws {
            try Self.requireTool(Self.nodeExporter)
            let fleet = try await TickCommandTests.Fleet([
                .running, .complete, .awaitingMerge, .running, .complete, .awaitingMerge,
            ])
            defer { fleet.cleanUp() }
            let textfiles = fleet.directory.path + "/textfiles"
            try FileSystem.makeDirectories(textfiles)
            let shards = try (0..<2).map { try FleetSelection.Shard(index: $0, count: 2) }
            for shard in shards {
                try #require(
                    fleet.members.contains { shard.contains($0.name) }, "shard \(shard.index)/2 is empty")
            }
            func tick(_ shard: FleetSelection.Shard) async throws -> FleetCLI.Result {
                let file = textfiles + "/" + Self.fileName(shard.index, of: 2)
                let result = try await fleet.run([
                    "tick", "--all", "--shard", "\(shard.index)/2", "--prom-file", file,
                ])
                return result
            }
            var firstSince: [String: String] = [:]
            for shard in shards {
                let result = try await tick(shard)
                #expect(result.status == 0, "\(result)")
                for line in try result.lines() where !line.isSummary {
                    firstSince[line.json["project"]?.stringValue ?? ""] =
                        line.json["status_since"]?.stringValue
                }
            }
            // p-0 (running) can no longer be read: its shard ticks again with an error line.
            let failing = try #require(fleet.members.first { $0.name == "p-0" })
            try ChainShape.corruptState.stage(failing.project)
            let failingShard = try #require(shards.first { $0.contains(failing.name) })
            let again = try await tick(failingShard)
            #expect(again.status == 1, "\(again)")

            let port = try SSHServer.freePort()
            let log = fleet.directory.path + "/node_exporter.log"
            let pid = try BenchProcess.spawn(
                [
                    Self.nodeExporter, "--web.listen-address=127.0.0.1:\(port)",
                    "--collector.disable-defaults",
                    "--collector.textfile", "--collector.textfile.directory=\(textfiles)",
                ], stdoutPath: log, stderrPath: log)
            defer {
                kill(pid, SIGTERM)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            // A duplicate series does not set node_textfile_scrape_error: node_exporter logs
            // "was collected before with the same name and label values" and counts a gathering
            // error, seen from the next scrape on. So scrape twice and check all three.
            _ = try await Self.scrape(port: port, log: log)
            let metrics = try await Self.scrape(port: port, log: log)
            let samples = Self.samples(metrics)

            #expect(samples["node_textfile_scrape_error"] == 0, "\(metrics)")
            #expect(samples["promhttp_metric_handler_errors_total{cause=\"gathering\"}"] == 0, "\(metrics)")
            #expect(
                !(FileSystem.readText(log) ?? "").contains("collected before"),
                "\(FileSystem.readText(log) ?? "")")
            for shard in shards {
                let name = Self.fileName(shard.index, of: 2)
                #expect(
                    samples["node_textfile_mtime_seconds{file=\"\(textfiles)/\(name)\"}"] != nil
                        || samples["node_textfile_mtime_seconds{file=\"\(name)\"}"] != nil, "\(metrics)")
                let label = "shard=\"\(shard.index)/2\""
                #expect(samples["megaplan_fleet_tick_wall_seconds{\(label)}"] != nil, "\(metrics)")
                #expect(samples["megaplan_fleet_tick_interrupted{\(label)}"] == 0, "\(metrics)")
                #expect(
                    (samples["megaplan_fleet_last_tick_timestamp_seconds{\(label)}"] ?? 0) > 1_600_000_000)
            }
            for member in fleet.members where member.name != failing.name {
                let project = "project=\"\(member.name)\""
                let status = try #require(member.shape.effectiveStatus).rawValue
                #expect(
                    samples["megaplan_fleet_effective_status{\(project),status=\"\(status)\"}"] == 1,
                    "\(metrics)")
                #expect(samples["megaplan_fleet_up{\(project)}"] == 1)
                let outcome = member.shape == .awaitingMerge ? "blocked" : "ok"
                #expect(
                    samples["megaplan_fleet_outcome{outcome=\"\(outcome)\",\(project)}"] == 1, "\(metrics)")
                #expect(samples["megaplan_fleet_outcome{outcome=\"error\",\(project)}"] == 0)
                let since = try #require(firstSince[member.name].flatMap(Timestamp.epochSeconds))
                let written = samples[
                    "megaplan_fleet_status_since_timestamp_seconds{\(project),status=\"\(status)\"}"]
                #expect(written.map { abs($0 - since) < 0.001 } == true, "\(metrics)")
                // Observed chains in a steady state: one acted series, naming its next action, at 0.
                let acted = samples.filter {
                    $0.key.hasPrefix("megaplan_fleet_acted{") && $0.key.hasSuffix(",\(project)}")
                }
                #expect(acted.count == 1 && acted.values.first == 0, "\(acted)")
            }
            // The failed project: its last known status and since, down, with its error kind only.
            let project = "project=\"p-0\""
            #expect(
                samples["megaplan_fleet_effective_status{\(project),status=\"running\"}"] == 1, "\(metrics)")
            #expect(samples["megaplan_fleet_effective_status{\(project),status=\"unknown\"}"] == 0)
            let since = try #require(firstSince["p-0"].flatMap(Timestamp.epochSeconds))
            let kept = samples["megaplan_fleet_status_since_timestamp_seconds{\(project),status=\"running\"}"]
            #expect(kept.map { abs($0 - since) < 0.001 } == true, "\(metrics)")
            #expect(samples["megaplan_fleet_up{\(project)}"] == 0)
            #expect(samples["megaplan_fleet_outcome{outcome=\"error\",\(project)}"] == 1)
            #expect(samples["megaplan_fleet_tick_error{kind=\"remote_error\",\(project)}"] == 1, "\(metrics)")
            #expect(!metrics.contains("kind=\"none\""))

            // Every metric the alerts and the dashboard query is one the tool wrote.
            let written = Set(
                metrics.split(separator: "\n").compactMap { row -> String? in
                    let parts = row.split(separator: " ")
                    return parts.count == 4 && parts[1] == "TYPE" ? String(parts[2]) : nil
                })
            for path in [Self.alerts, Self.dashboard] {
                let queried = Self.metricNames(in: try #require(FileSystem.readText(path)))
                #expect(!queried.isEmpty)
                #expect(
                    queried.isSubset(of: written), "\(path) queries \(queried.subtracting(written).sorted())")
            }

            // The alert rules, evaluated by promtool over series taken from the files just scraped.
            try await Self.testAlertRules(
                blocked: try #require(
                    Self.series(
                        in: metrics, "megaplan_fleet_status_since_timestamp_seconds", "awaiting_pr_merge")),
                failing: try #require(
                    Self.series(in: metrics, "megaplan_fleet_outcome", "outcome=\"error\",\(project)")),
                recovering: try #require(
                    Self.series(in: metrics, "megaplan_fleet_outcome", "outcome=\"error\",project=\"p-1\"")),
                stoppedShard: try #require(
                    Self.series(in: metrics, "megaplan_fleet_last_tick_timestamp_seconds", "0/2")),
                tickingShard: try #require(
                    Self.series(in: metrics, "megaplan_fleet_last_tick_timestamp_seconds", "1/2")))
        }

        /// The blocked statuses of the alert and the dashboard are the tool's (`outcome: blocked`).
        @Test func alertsAndDashboardNameTheBlockedStatuses() throws {
            let blocked = Set(ProjectOperation.blockedStatuses.map(\.rawValue))
            for path in [Self.alerts, Self.dashboard] {
                let text = try #require(FileSystem.readText(path))
                let range = try #require(
                    text.range(of: "status=~\\\"") ?? text.range(of: "status=~\""), "\(path)")
                let rest = text[range.upperBound...]
                let end = try #require(rest.firstIndex { $0 == "\"" || $0 == "\\" }, "\(path)")
                #expect(Set(rest[..<end].split(separator: "|").map(String.init)) == blocked, "\(path)")
            }
        }

        @Test func alertRulesPassPromtoolCheck() async throws {
            try Self.requireTool(Self.promtool)
            let output = try await onOwnThread {
                try BenchProcess.run([Self.promtool, "check", "rules", Self.alerts])
            }
            #expect(output.contains("SUCCESS: 4 rules found"), "\(output)")
        }

        @Test func dashboardIsValidJSONWithQueries() throws {
            let data = try #require(FileManager.default.contents(atPath: Self.dashboard))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let panels = try #require(object["panels"] as? [[String: Any]])
            #expect(panels.count >= 8)
            for panel in panels {
                let targets = try #require(panel["targets"] as? [[String: Any]], "\(panel["title"] ?? "")")
                for target in targets {
                    let expression = try #require(target["expr"] as? String)
                    #expect(!Self.metricNames(in: expression).isEmpty, "\(expression)")
                }
            }
        }

        // MARK: helpers

        /// Scrapes node_exporter once it listens (it starts within seconds; bounded by the test's
        /// time limit and a deadline of its own).
        static func scrape(port: Int, log: String) async throws -> String {
            let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                if let (data, response) = try? await URLSession.shared.data(from: url),
                    (response as? HTTPURLResponse)?.statusCode == 200
                {
                    return String(decoding: data, as: UTF8.self)
                }
                guard ContinuousClock.now < deadline else {
                    Issue.record("node_exporter did not answer: \(FileSystem.readText(log) ?? "")")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        /// Sample values by series (name and labels as exposed), comments skipped.
        static func samples(_ text: String) -> [String: Double] {
            var samples: [String: Double] = [:]
            for row in text.split(separator: "\n") where !row.hasPrefix("#") {
                guard let space = row.lastIndex(of: " ") else { continue }
                samples[String(row[..<space])] = Double(row[row.index(after: space)...])
            }
            return samples
        }

        /// The first exposed series of `name` whose labels contain `fragment`.
        static func series(in text: String, _ name: String, _ fragment: String) -> String? {
            samples(text).keys.sorted().first { $0.hasPrefix(name + "{") && $0.contains(fragment) }
        }

        static func metricNames(in text: String) -> Set<String> {
            let regex = try! NSRegularExpression(pattern: "megaplan_fleet_[a-z_]+")
            let range = NSRange(text.startIndex..., in: text)
            return Set(
                regex.matches(in: text, range: range).compactMap { match in
                    Range(match.range, in: text).map { String(text[$0]) }
                })
        }

        /// `promtool test rules`: blocked a day (not at 23 h, at 25 h), an error on three ticks
        /// (every 5 minutes) but not on two followed by a recovery, and a shard whose tick stopped
        /// (not at 14 minutes, at 16) beside one that keeps ticking.
        static func testAlertRules(
            blocked: String, failing: String, recovering: String, stoppedShard: String, tickingShard: String
        ) async throws {
            func labels(_ series: String) -> String {
                let open = series.firstIndex(of: "{")!
                let inner = series[series.index(after: open)..<series.index(before: series.endIndex)]
                return inner.split(separator: ",").map { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    return "\(parts[0]): \(parts[1])"
                }.joined(separator: ", ")
            }
            func quoted(_ series: String) -> String { "'\(series)'" }
            let blockedLabels = labels(blocked)
            let blockedProject = blocked.components(separatedBy: "project=\"")[1].prefix { $0 != "\"" }
            let failingLabels = labels(failing)
            let shardLabels = labels(stoppedShard)
            let test = """
                rule_files: [\(quoted(alerts))]
                evaluation_interval: 1m
                tests:
                  - interval: 1h
                    input_series:
                      - series: \(quoted(blocked))
                        values: '0x30'
                    alert_rule_test:
                      - eval_time: 23h
                        alertname: MegaplanChainBlockedForADay
                        exp_alerts: []
                      - eval_time: 25h
                        alertname: MegaplanChainBlockedForADay
                        exp_alerts:
                          - exp_labels: {severity: warning, \(blockedLabels)}
                            exp_annotations:
                              summary: "\(blockedProject) has been awaiting_pr_merge for 1d 1h 0m 0s"
                  - interval: 1m
                    input_series:
                      - series: \(quoted(failing))
                        values: '1x30'
                      - series: \(quoted(recovering))
                        values: '1x9 0x20'
                    alert_rule_test:
                      - eval_time: 9m
                        alertname: MegaplanProjectErrorThreeTicks
                        exp_alerts: []
                      - eval_time: 13m
                        alertname: MegaplanProjectErrorThreeTicks
                        exp_alerts:
                          - exp_labels: {severity: critical, \(failingLabels)}
                            exp_annotations:
                              summary: "p-0: every tick failed for three ticks in a row"
                              description: "The error kind is in megaplan_fleet_tick_error{project=\\"p-0\\"}; megaplan_fleet_up is 0 when the runner could not be reached."
                  - interval: 1m
                    input_series:
                      - series: \(quoted(stoppedShard))
                        values: '0x20'
                      - series: \(quoted(tickingShard))
                        values: '0+60x20'
                    alert_rule_test:
                      - eval_time: 14m
                        alertname: MegaplanFleetTickNotRun
                        exp_alerts: []
                      - eval_time: 16m
                        alertname: MegaplanFleetTickNotRun
                        exp_alerts:
                          - exp_labels: {severity: critical, \(shardLabels)}
                            exp_annotations:
                              summary: "megaplan-fleet shard 0/2 has not ticked for 16m 0s"

                """
            let directory = try TemporaryDirectory.make(prefix: "mpf-promtool-")
            defer { TemporaryDirectory.remove(directory) }
            let path = directory + "/alerts-test.yaml"
            try FileSystem.writeAtomically(path, text: test)
            let output: String
            do {
                output = try await onOwnThread { try BenchProcess.run([promtool, "test", "rules", path]) }
            } catch {
                output = "\(error)"
            }
            #expect(output.contains("SUCCESS"), "promtool test rules:\n\(output)\n\(test)")
        }
    }
}
