import ArgumentParser
import FleetCore
import Foundation

/// A benchmark fleet: `count` projects spread round-robin over the hosts, each a git workspace on
/// its runner with a chain spec and a chain state (an executing plan: a tick observes, probes
/// the plan, refreshes and decides `noop`; or a complete chain: no plan to probe, decides
/// `done`), and a local cloud.yaml per network path (direct, or through a
/// host's latency relay). Fleet files select the first N projects.
public final class BenchFleet: Sendable {
    public struct Project: Sendable {
        public var name: String
        public var workspace: String
        public var host: Int
        /// cloud.yaml per path label ("direct", "relay").
        public var cloudYAML: [String: String]
    }

    public let directory: String
    public let remoteRoot: String
    public let projects: [Project]
    public var home: String { directory + "/home" }
    public var knownHosts: String { directory + "/known_hosts" }

    /// `ports[label][host]`: the port each host is reached on for that path label.
    public enum Workload: String, Sendable, CaseIterable, ExpressibleByArgument {
        case running, complete

        var state: String {
            switch self {
            case .running:
                #"{"current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "executing"}"#
            case .complete: #"{"current_milestone_index": 2, "last_state": "done"}"#
            }
        }

        /// The effective status every tick must report.
        public var effectiveStatus: EffectiveStatus {
            switch self {
            case .running: .running
            case .complete: .complete
            }
        }
    }

    public init(hosts: [SSHServer], ports: [String: [Int]], count: Int, workload: Workload = .running) throws
    {
        directory = try TemporaryDirectory.make(prefix: "mpf-fleet-bench-")
        try FileSystem.makeDirectories(directory + "/home")
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        remoteRoot = hosts[0].homeDirectory + "/fleet-bench/" + runID

        var knownHosts: [String] = []
        for (index, host) in hosts.enumerated() {
            for label in ports.keys.sorted() {
                knownHosts.append(try host.knownHostsLine(port: ports[label]![index]))
            }
        }
        try FileSystem.writeAtomically(
            directory + "/known_hosts", text: knownHosts.joined(separator: "\n") + "\n")

        var script = "set -e\n"
        let state = workload.state
        var projects: [Project] = []
        let spec = "milestones:\n  - label: m1\n    idea: ideas/m1.md\n  - label: m2\n    idea: ideas/m2.md\n"
        for index in 0..<count {
            let name = String(format: "bench-%03d", index)
            let workspace = "\(remoteRoot)/\(name)/app"
            let hostIndex = index % hosts.count
            let stateFile = ChainPaths.stateFile(spec: workspace + "/chain.yaml")
            script += Self.workspaceScript(workspace)
            script += """
                printf %s \(ShellQuote.quote(spec)) > chain.yaml
                mkdir -p \(ShellQuote.quote(PosixPath.dirname(stateFile)))
                printf %s \(ShellQuote.quote(state)) > \(ShellQuote.quote(stateFile))

                """
            var cloud: [String: String] = [:]
            for (label, hostPorts) in ports {
                let path = "\(directory)/projects/\(name)/cloud-\(label).yaml"
                try FileSystem.makeDirectories(PosixPath.dirname(path))
                try FileSystem.writeAtomically(
                    path,
                    text: Self.cloudYAML(
                        name: name, workspace: workspace, session: "mpf-bench-\(runID)-\(name)",
                        port: hostPorts[hostIndex], user: RunnerAccount.name,
                        identityFile: hosts[hostIndex].clientKeyPath))
                cloud[label] = path
            }
            projects.append(Project(name: name, workspace: workspace, host: hostIndex, cloudYAML: cloud))
        }
        self.projects = projects
        // Every host logs in to the same account, so one script prepares every workspace.
        try RunnerAccount.runScript(script)
    }

    /// Shell lines (for `set -e`) that make `workspace` a git repository with one empty commit, a
    /// `.stub` directory for the stand-ins' answers, and the runner's files kept out of git; the
    /// working directory is left in the workspace.
    public static func workspaceScript(_ workspace: String) -> String {
        let quoted = ShellQuote.quote(workspace)
        return """
            mkdir -p \(quoted)/.stub && cd \(quoted) && git init -q -b main
            git -c user.email=b@b -c user.name=b commit -q --allow-empty -m init
            printf '.stub/\\n.megaplan/\\nchain.yaml\\nideas/\\n' > .git/info/exclude

            """
    }

    /// cloud.yaml of a chain project on an sshd runner host at 127.0.0.1:`port`.
    public static func cloudYAML(
        name: String, workspace: String, session: String, port: Int, user: String, identityFile: String,
        runtime: String = "host", host: String = "127.0.0.1"
    ) -> String {
        """
        provider: ssh
        repo:
          url: https://example.invalid/\(name).git
          workspace: \(workspace)
        mode: chain
        chain:
          spec: \(workspace)/chain.yaml
          chain_session: \(session)
        ssh:
          host: "\(host)"
          port: \(port)
          user: \(user)
          identity_file: \(identityFile)
          runtime: \(runtime)

        """
    }

    /// fleet.yaml for the first `count` projects over `label`'s path, with these defaults.
    /// `sshConfig` becomes `defaults.ssh_config` (a path, or `none`); `name` tells apart fleet
    /// files of the same projects and path.
    public func fleetFile(
        count: Int, label: String, concurrency: Int, perHost: Int, connections: Int = 3,
        sshConfig: String? = nil, name: String? = nil
    ) throws -> String {
        var text = """
            version: 1
            defaults:
              known_hosts: \(knownHosts)
              concurrency: \(concurrency)
              per_host: \(perHost)
              connections_per_host: \(connections)

            """
        if let sshConfig { text += "  ssh_config: \(sshConfig)\n" }
        text += "projects:\n"
        for project in projects.prefix(count) {
            text += "  - name: \(project.name)\n    cloud_yaml: \(project.cloudYAML[label]!)\n"
        }
        let path = "\(directory)/fleet-\(count)-\(name ?? label).yaml"
        try FileSystem.writeAtomically(path, text: text)
        return path
    }

    public func remove() {
        _ = try? RunnerAccount.runScript("rm -rf \(ShellQuote.quote(remoteRoot))\n")
        TemporaryDirectory.remove(directory)
    }
}
