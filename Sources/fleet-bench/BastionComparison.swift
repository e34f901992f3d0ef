import BenchSupport
import FleetCore
import Foundation

/// Issue 11's jump-host benchmark: N projects on 3 runner hosts, ticked reached directly and
/// through one bastion (`ProxyJump` in an ssh_config, the way platform teams reach private
/// runners), 25 ms each way on every link (client to runner, client to bastion, bastion to
/// runner). Both fleets use the same cloud.yaml files; only the fleet file's `ssh_config`
/// differs. The ticks alternate, so both see the same machine.
struct BastionComparison {
    struct Tick {
        var wallMs: Double
        var cpu: Double
        var handshakes: Int
        var tunnelled: Int
        var bastionCPU: Double?
        var runnerCPU: Double?
        /// Median and slowest duration_ms of the project lines.
        var projectMs: (median: Int, slowest: Int)
        /// Handshakes with the bastion itself: the tick's handshakes less the inner ones.
        var bastionHandshakes: Int { handshakes - tunnelled }
    }

    var count: Int
    var connections: Int
    var direct: [Tick] = []
    var bastion: [Tick] = []

    static let oneWayDelay = 25
    static let header =
        "  path       tick ms   project ms   tick CPU s   handshakes (bastion/inner)   bastion sshd CPU s   runner sshd CPU s"

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    func line(_ label: String, _ ticks: [Tick]) -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        func cpu(_ values: [Double?]) -> String {
            let known = values.compactMap { $0 }
            return known.count == values.count ? String(format: "%.2f", Self.median(known)) : "-"
        }
        let handshakes = ticks.map { "\($0.bastionHandshakes)/\($0.tunnelled)" }
        return "  " + label.padding(toLength: 8, withPad: " ", startingAt: 0)
            + pad(String(format: "%.0f", Self.median(ticks.map(\.wallMs))), 10)
            + pad(
                "\(Int(Self.median(ticks.map { Double($0.projectMs.median) })))/\(Int(Self.median(ticks.map { Double($0.projectMs.slowest) })))",
                13)
            + pad(String(format: "%.2f", Self.median(ticks.map(\.cpu))), 13)
            + pad(Set(handshakes).sorted().joined(separator: ", "), 29)
            + pad(cpu(ticks.map(\.bastionCPU)), 21)
            + pad(cpu(ticks.map(\.runnerCPU)), 20)
    }

    func targets() {
        func verdict(_ met: Bool) -> String { met ? "MET" : "NOT MET" }
        let directMs = Self.median(direct.map(\.wallMs))
        let bastionMs = Self.median(bastion.map(\.wallMs))
        let roundTrip = Double(2 * Self.oneWayDelay)
        let bound = 1.3 * directMs + roundTrip
        print(
            String(
                format:
                    "  %d projects through one bastion: %.0f ms vs %.0f ms direct = %.2fx (target <= 1.3x + one round trip = %.0f ms): %@",
                count, bastionMs, directMs, bastionMs / max(directMs, 0.001), bound,
                verdict(bastionMs <= bound)))
        let most = bastion.map(\.bastionHandshakes).max() ?? 0
        let inner = bastion.map(\.tunnelled).max() ?? 0
        print(
            "  handshakes with the bastion per tick: at most \(most) for \(count) projects and \(inner) inner sessions (target: its pooled connections, at most \(connections), never one per project): \(verdict(most >= 1 && most <= connections))"
        )
        let cpu = bastion.compactMap(\.bastionCPU)
        if cpu.count == bastion.count {
            print(
                String(
                    format: "  bastion sshd CPU per tick: %.3f s, %.1f ms per project", Self.median(cpu),
                    Self.median(cpu) * 1000 / Double(count)))
        }
    }
}

extension FleetBench {
    /// Runs the comparison on its own (`fleet-bench --bastion`), with `settings`' runners,
    /// connections and ticks (`--compare-ticks` measured ticks per path after two warm-ups).
    static func compareBastion(settings: Settings, count: Int) throws {
        let (binary, replay) = try settings.setUpRunners(replayName: "bastion")
        defer { replay?.remove() }
        let runnerCPU = CPUAccount(name: "mpf-bastion-bench-runners-\(getpid())")
        let bastionCPU = CPUAccount(name: "mpf-bastion-bench-bastion-\(getpid())")
        defer {
            runnerCPU.remove()
            bastionCPU.remove()
        }
        let instruments = try RunnerInstruments(
            importCPUSeconds: settings.importCPU, fixtures: settings.fixtures)
        defer { instruments.remove() }
        let hosts = try (0..<3).map { _ in
            try SSHServer.runnerHost(replay: replay, instruments: instruments, cpu: runnerCPU)
        }
        let bastionHost = try SSHServer(
            options: SSHServerOptions(extraConfig: ["MaxStartups 100"], cpu: bastionCPU))
        defer { for host in hosts + [bastionHost] { host.stop() } }
        let delay = Duration.milliseconds(BastionComparison.oneWayDelay)
        // The runners' relays carry both paths: the client's direct connections, and the
        // bastion's forwarded ones (the bastion dials the same 127.0.0.1:port).
        let relays = try hosts.map { try LatencyRelay(targetPort: $0.port, oneWayDelay: delay) }
        let bastionRelay = try LatencyRelay(targetPort: bastionHost.port, oneWayDelay: delay)
        defer { for relay in relays + [bastionRelay] { relay.stop() } }

        let fleet = try BenchFleet(hosts: hosts, ports: ["relay": relays.map(\.port)], count: count)
        defer { fleet.remove() }
        let knownHosts = FileSystem.readText(fleet.knownHosts) ?? ""
        try FileSystem.writeAtomically(
            fleet.knownHosts,
            text: knownHosts + (try bastionHost.knownHostsLine(port: bastionRelay.port)) + "\n")
        // Every runner address goes through the bastion; the bastion is named by an alias, which
        // the runners' pattern does not match.
        let sshConfig = fleet.directory + "/ssh_config"
        try FileSystem.writeAtomically(
            sshConfig,
            text: """
                Host 127.0.0.1
                    ProxyJump bench-bastion
                Host bench-bastion
                    HostName 127.0.0.1
                    Port \(bastionRelay.port)
                    User \(bastionHost.account)
                    IdentityFile \(bastionHost.clientKeyPath)

                """, mode: 0o600)
        var files: [(label: String, path: String)] = []
        for (label, config) in [("direct", "none"), ("bastion", sshConfig)] {
            files.append(
                (
                    label,
                    try fleet.fleetFile(
                        count: count, label: "relay", concurrency: settings.concurrency,
                        perHost: settings.perHost, connections: settings.connections, sshConfig: config,
                        name: label)
                ))
        }
        let environment = [
            "HOME": fleet.home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "NO_COLOR": "1",
        ]
        print(
            "fleet-bench --bastion: \(count) projects round-robin on 3 runner hosts, \(BastionComparison.oneWayDelay) ms each way on every link (RTT \(String(format: "%.0f", relays[0].measureRTT())) ms measured), runners: \(settings.runners.rawValue), connections_per_host \(settings.connections)"
        )
        // Two warm-up ticks per path: the first validates each chain's spec, the second is the
        // steady state the measured ticks repeat; replayed runners record them.
        for file in files {
            for _ in 0..<2 {
                let usage = try BenchProcess.measure(
                    [binary, "tick", "--all", "--fleet", file.path, "--known-hosts", fleet.knownHosts],
                    environment: environment)
                guard usage.status == 0 else {
                    throw BenchError("\(file.label) warm-up tick exited \(usage.status)")
                }
            }
        }
        try replay?.replay()

        var comparison = BastionComparison(count: count, connections: settings.connections)
        for _ in 0..<settings.compareTicks {
            for file in files {
                let output = fleet.directory + "/bastion-\(file.label).jsonl"
                let runnersBefore = runnerCPU.seconds
                let bastionBefore = bastionCPU.seconds
                let usage = try BenchProcess.measure(
                    [binary, "tick", "--all", "--fleet", file.path, "--known-hosts", fleet.knownHosts],
                    environment: environment, stdoutPath: output, stderrPath: output + ".err")
                let summary = try check(
                    output: output, usage: usage, count: count, status: settings.workload.effectiveStatus)
                let tick = BastionComparison.Tick(
                    wallMs: usage.wallSeconds * 1000, cpu: usage.cpuSeconds, handshakes: summary.handshakes,
                    tunnelled: summary.tunnelledHandshakes,
                    bastionCPU: bastionCPU.seconds.flatMap { after in bastionBefore.map { after - $0 } },
                    runnerCPU: runnerCPU.seconds.flatMap { after in runnersBefore.map { after - $0 } },
                    projectMs: (summary.medianProject, summary.slowestProject))
                if file.label == "direct" {
                    guard tick.tunnelled == 0 else {
                        throw BenchError("a direct tick went through a jump host")
                    }
                    comparison.direct.append(tick)
                } else {
                    guard tick.tunnelled > 0 else { throw BenchError("the bastion's tick went direct") }
                    comparison.bastion.append(tick)
                }
            }
        }
        print("")
        print("Median of \(settings.compareTicks) ticks per path (handshakes: every value seen):")
        print(BastionComparison.header)
        print(comparison.line("direct", comparison.direct))
        print(comparison.line("bastion", comparison.bastion))
        if let replay { print("Replay misses (commands answered live while replaying): \(replay.misses)") }
        print("")
        print("Targets")
        comparison.targets()
    }
}
