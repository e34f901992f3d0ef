import BenchSupport
import FleetCore
import Foundation
import RunnerProtocol
import Supervisor

/// The runner side of a tick with the runner's probes in process (the default) and as commands
/// (`MEGAPLAN_FLEET_RUNNER_PROBES=command`, as before issue 15), in the same run: `tick --all`
/// over the first chains on the first path, a few ticks each, after a warm-up tick per mode.
/// Replayed runners are compared while recording, when every command really runs.
struct ProbeComparison {
    struct Figures {
        var probes: RunnerProbes
        var tickMs: Double
        var runnerCPUPerChain: Double?
        var interpretersPerChain: Double
        var commandsPerChain: Double
    }

    var count: Int
    var figures: [Figures]

    static let header =
        "  probes        tick ms   runner CPU s/chain   interpreters/chain   commands/chain"

    func line(_ row: Figures) -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        return "  " + row.probes.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            + pad(String(format: "%.0f", row.tickMs), 10)
            + pad(row.runnerCPUPerChain.map { String(format: "%.3f", $0) } ?? "-", 21)
            + pad(String(format: "%.1f", row.interpretersPerChain), 21)
            + pad(String(format: "%.1f", row.commandsPerChain), 17)
    }

    func targets() {
        guard let new = figures.first(where: { $0.probes == .inProcess }),
            let old = figures.first(where: { $0.probes == .command })
        else { return }
        func verdict(_ met: Bool) -> String { met ? "MET" : "NOT MET" }
        if let newCPU = new.runnerCPUPerChain, let oldCPU = old.runnerCPUPerChain, oldCPU > 0 {
            let share = newCPU / oldCPU
            print(
                String(
                    format:
                        "  runner CPU per tick of a chain with a current plan: %.3f s vs %.3f s (command probes) = %.0f%% (target <= 30%%): %@",
                    newCPU, oldCPU, share * 100, verdict(share <= 0.3)))
        }
        let factor = new.tickMs / max(old.tickMs, 0.001)
        print(
            String(
                format:
                    "  tick --all over %d chains: %.0f ms vs %.0f ms (command probes) = %.2fx (target <= 0.5x with live runners importing a heavy megaplan): %@",
                count, new.tickMs, old.tickMs, factor, verdict(factor <= 0.5)))
    }
}

extension FleetBench {
    static func compareProbes(
        settings: Settings, fleet: BenchFleet, binary: String, environment: [String: String],
        runnerCPU: CPUAccount, instruments: RunnerInstruments
    ) throws -> ProbeComparison {
        let count = min(settings.compareCount, fleet.projects.count)
        let path = settings.paths[0].label
        let file = try fleet.fleetFile(
            count: count, label: path, concurrency: settings.concurrency, perHost: settings.perHost,
            connections: settings.connections)
        var comparison = ProbeComparison(count: count, figures: [])
        for probes in [RunnerProbes.inProcess, .command] {
            var variables = environment
            variables[RunnerProbes.environmentVariable] = probes.rawValue
            var walls: [Double] = []
            var cpu: [Double] = []
            var interpreters = 0
            var commands = 0
            for tick in 0...settings.compareTicks {
                let output = fleet.directory + "/compare-\(probes.rawValue).jsonl"
                let cpuBefore = runnerCPU.seconds
                let startsBefore = instruments.interpreterStarts
                let usage = try BenchProcess.measure(
                    [binary, "tick", "--all", "--fleet", file, "--known-hosts", fleet.knownHosts],
                    environment: variables, stdoutPath: output, stderrPath: output + ".err")
                let summary = try check(
                    output: output, usage: usage, count: count, status: settings.workload.effectiveStatus)
                // The first tick warms up (and, for replayed runners, records this mode's commands).
                guard tick > 0 else { continue }
                walls.append(usage.wallSeconds * 1000)
                if let before = cpuBefore, let after = runnerCPU.seconds { cpu.append(after - before) }
                interpreters += instruments.interpreterStarts - startsBefore
                commands += summary.commands
            }
            let ticks = Double(settings.compareTicks)
            comparison.figures.append(
                ProbeComparison.Figures(
                    probes: probes, tickMs: walls.sorted()[walls.count / 2],
                    runnerCPUPerChain: cpu.isEmpty ? nil : cpu.sorted()[cpu.count / 2] / Double(count),
                    interpretersPerChain: Double(interpreters) / ticks / Double(count),
                    commandsPerChain: Double(commands) / ticks / Double(count)))
        }
        print("")
        print(
            String(
                format:
                    "Runner side per tick: %d chains (%@, %@ runners%@), megaplan import %.2f s CPU, median of %d ticks",
                count, path, settings.runners.rawValue, settings.runners == .replay ? " while recording" : "",
                settings.importCPU, settings.compareTicks))
        print(ProbeComparison.header)
        for row in comparison.figures { print(comparison.line(row)) }
        return comparison
    }
}
