import ArgumentParser
import BenchSupport
import FleetCore
import Foundation
import SSHClient
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Cost of one remote command: `ssh` per command vs. libssh2 session per command vs. the pool,
/// on loopback and through a userspace relay that delays every chunk 25 ms each way (50 ms RTT).
/// Run: swift run -c release --scratch-path .build-transport ssh-bench [--quick]
@main
struct SSHBench {
    /// The command line (scripts/bench-ssh.sh passes it through).
    /// A command only for its parser and help (`run` is never called): main runs the benchmark.
    struct Arguments: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ssh-bench")

        @Flag(help: "Fewer commands per measurement.") var quick = false
    }

    static func main() async throws {
        let quick = Arguments.parseOrExit().quick
        let server = try SSHServer.runnerHost()
        defer { server.kill() }
        let knownHosts = server.knownHostsPath
        print("sshd on 127.0.0.1:\(server.port) as \(RunnerAccount.name); libssh2 pool vs OpenSSH client")
        print("")

        let loopback = try await measureAll(
            label: "loopback", server: server, knownHosts: knownHosts, port: server.port,
            counts: quick ? (20, 20, 100, 200) : (50, 50, 500, 1000))
        let relay = try LatencyRelay(targetPort: server.port, oneWayDelay: .milliseconds(25))
        defer { relay.stop() }
        // The relay's port is another name for the same host key.
        try FileSystem.writeAtomically(
            knownHosts,
            text: try server.knownHostsLine() + "\n" + server.knownHostsLine(port: relay.port) + "\n")
        let rtt = relay.measureRTT()
        print(String(format: "relay on port %d: measured TCP connect RTT %.1f ms", relay.port, rtt))
        let delayed = try await measureAll(
            label: "50 ms RTT relay", server: server, knownHosts: knownHosts, port: relay.port,
            counts: quick ? (5, 5, 20, 48) : (10, 10, 40, 96),
            rttMs: 50)

        print("")
        print("Summary")
        let lbRatio = loopback.ssh / loopback.pooled8
        print(
            String(
                format:
                    "  loopback: pooled (8 in flight) is %.0fx faster per command than ssh; serial pooled %.0fx",
                lbRatio, loopback.ssh / loopback.serial))
        print(
            String(
                format:
                    "  relay: pooled serial %.2f RTT per command, pooled 8 in flight %.2f RTT, 3x3 %.2f RTT (target <= 2.5)",
                delayed.serial / 50, delayed.pooled8 / 50, delayed.pooled3x3 / 50))
        print(
            String(
                format: "  targets: loopback >= 50x: %@; relay <= 2.5 RTT (serial): %@",
                lbRatio >= 50 ? "MET" : "NOT MET", delayed.serial / 50 <= 2.5 ? "MET" : "NOT MET"))
    }

    struct Figures {
        var ssh = 0.0
        var session = 0.0
        var serial = 0.0
        var pooled8 = 0.0
        var pooled3x3 = 0.0
    }

    /// CPU of this process, and of its waited-for children when `children`.
    static func cpuSeconds(children: Bool = false) -> Double {
        BenchProcess.selfCPUSeconds() + (children ? BenchProcess.childrenCPUSeconds() : 0)
    }

    static func row(_ name: String, count: Int, wall: Double, cpu: Double, baseline: Double?, rttMs: Double?)
        -> Double
    {
        let ms = wall * 1000 / Double(count)
        let padded = name.count >= 50 ? name : name + String(repeating: " ", count: 50 - name.count)
        var line =
            "  " + padded
            + String(
                format: " %5d cmds  %8.2f ms/cmd  CPU %6.2f ms/cmd", count, ms, cpu * 1000 / Double(count))
        if let baseline { line += String(format: "  %7.1fx vs ssh", baseline / ms) }
        if let rttMs { line += String(format: "  %5.2f RTT", ms / rttMs) }
        print(line)
        return ms
    }

    static func measureAll(
        label: String, server: SSHServer, knownHosts: String, port: Int, counts: (Int, Int, Int, Int),
        rttMs: Double? = nil
    ) async throws -> Figures {
        print("== \(label) ==")
        var figures = Figures()
        let endpoint = SSHEndpoint(
            host: "127.0.0.1", port: port, user: RunnerAccount.name, identityFile: server.clientKeyPath)
        var config = SSHConfiguration(knownHostsPath: knownHosts)
        config.hostKeyPolicy = .strict

        // 1. a new ssh process per command
        do {
            let start = ContinuousClock.now
            let cpu0 = cpuSeconds(children: true)
            for _ in 0..<counts.0 {
                let status = try BenchProcess.measure([
                    "/usr/bin/ssh", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=\(knownHosts)",
                    "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none",
                    "-i", server.clientKeyPath, "-p", String(port), "\(RunnerAccount.name)@127.0.0.1", "true",
                ]).status
                if status != 0 { print("  ssh exited \(status)") }
            }
            let wall = (ContinuousClock.now - start).secondsDouble
            let cpu = cpuSeconds(children: true) - cpu0
            figures.ssh = row(
                "new ssh process per command (baseline)", count: counts.0, wall: wall, cpu: cpu,
                baseline: nil, rttMs: rttMs)
        }
        // 2. a new libssh2 session per command
        do {
            let start = ContinuousClock.now
            let cpu0 = cpuSeconds()
            for _ in 0..<counts.1 {
                let pool = SSHPool(configuration: config)
                _ = try await pool.run("true", on: endpoint)
                await pool.shutdown()
            }
            let wall = (ContinuousClock.now - start).secondsDouble
            figures.session = row(
                "new libssh2 session per command", count: counts.1, wall: wall,
                cpu: cpuSeconds() - cpu0, baseline: figures.ssh, rttMs: rttMs)
        }
        // 3. one pooled session, one command at a time
        do {
            let pool = SSHPool(configuration: config)
            _ = try await pool.run("true", on: endpoint)
            let start = ContinuousClock.now
            let cpu0 = cpuSeconds()
            for _ in 0..<counts.2 { _ = try await pool.run("true", on: endpoint) }
            let wall = (ContinuousClock.now - start).secondsDouble
            figures.serial = row(
                "pooled session, serial", count: counts.2, wall: wall, cpu: cpuSeconds() - cpu0,
                baseline: figures.ssh, rttMs: rttMs)
            await pool.shutdown()
        }
        // 4. pooled, 8 in flight (lazily one connection: 8 channels)
        figures.pooled8 = try await concurrent(
            "pooled, 8 in flight (1 connection x 8 channels)", config: config, endpoint: endpoint,
            count: counts.3,
            inFlight: 8, baseline: figures.ssh, rttMs: rttMs)
        var spread = config
        spread.channelsPerConnection = 3
        figures.pooled3x3 = try await concurrent(
            "pooled, 8 in flight (3 connections x 3 channels)", config: spread, endpoint: endpoint,
            count: counts.3,
            inFlight: 8, baseline: figures.ssh, rttMs: rttMs)
        return figures
    }

    static func concurrent(
        _ name: String, config: SSHConfiguration, endpoint: SSHEndpoint, count: Int, inFlight: Int,
        baseline: Double,
        rttMs: Double?
    ) async throws -> Double {
        let pool = SSHPool(configuration: config)
        // Warm: open the connections this load will use.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<inFlight { group.addTask { _ = try await pool.run("true", on: endpoint) } }
            try await group.waitForAll()
        }
        let start = ContinuousClock.now
        let cpu0 = cpuSeconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            for _ in 0..<inFlight {
                group.addTask { _ = try await pool.run("true", on: endpoint) }
                started += 1
            }
            while try await group.next() != nil {
                if started < count {
                    group.addTask { _ = try await pool.run("true", on: endpoint) }
                    started += 1
                }
            }
        }
        let wall = (ContinuousClock.now - start).secondsDouble
        let ms = row(
            name, count: count, wall: wall, cpu: cpuSeconds() - cpu0, baseline: baseline,
            rttMs: rttMs)
        let stats = pool.statistics
        print(
            "      (handshakes \(stats.handshakes), commands \(stats.commandsRun), reconnects \(stats.reconnects))"
        )
        await pool.shutdown()
        return ms
    }
}
