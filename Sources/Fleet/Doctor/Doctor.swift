import FleetCore
import RunnerProtocol
import SSHClient
import Transport

/// `megaplan-fleet doctor`: what a platform engineer runs first and support asks for. For each
/// runner host of a selection: the resolved route and where each setting came from, the name
/// lookup, the TCP connect and the banner (timed), the host key and its known_hosts line, how the
/// session authenticated (or every method tried and why each failed), and what the runner has.
/// Hosts are checked at once; projects that share a resolved endpoint share one check.
public enum Doctor {
    /// One project of the selection and its loaded cloud.yaml.
    public struct Project: Sendable {
        public var name: String
        public var cloud: Result<CloudSpec, FleetError>

        public init(name: String, cloud: Result<CloudSpec, FleetError>) {
            self.name = name
            self.cloud = cloud
        }
    }

    /// Diagnoses every host of `projects`, in the order each host first appears. `timeout` bounds
    /// each step (name lookup and connect, the runner's check).
    public static func diagnose(_ projects: [Project], ssh: SSHConfiguration, timeout: Duration) async
        -> [HostDiagnosis]
    {
        var hosts: [HostDiagnosis] = []
        var sshHosts: [(index: Int, spec: CloudSpec, runner: SSHRunner)] = []
        let pool = SSHPool(configuration: ssh)
        for project in projects {
            let spec: CloudSpec
            switch project.cloud {
            case .failure(let error):
                hosts.append(
                    HostDiagnosis(
                        host: "invalid", projects: [project.name], provider: nil, problems: [error.message]))
                continue
            case .success(let loaded): spec = loaded
            }
            guard spec.provider == .ssh else {
                hosts.append(
                    HostDiagnosis(host: spec.runnerLabel, projects: [project.name], provider: spec.provider))
                continue
            }
            let runner: SSHRunner
            do {
                runner = try SSHRunner(spec: spec, pool: pool)
            } catch {
                hosts.append(
                    HostDiagnosis(
                        host: spec.runnerLabel, projects: [project.name], provider: .ssh, failure: error,
                        problems: [error.message]))
                continue
            }
            if let known = sshHosts.first(where: { $0.runner.endpoint == runner.endpoint }) {
                hosts[known.index].projects.append(project.name)
                continue
            }
            sshHosts.append((hosts.count, spec, runner))
            hosts.append(
                HostDiagnosis(host: runner.endpoint.hostPort, projects: [project.name], provider: .ssh))
        }
        let checked = await withTaskGroup(of: (Int, HostDiagnosis).self) { group in
            for (index, spec, runner) in sshHosts {
                let diagnosis = hosts[index]
                group.addTask {
                    (index, await check(diagnosis, spec: spec, runner: runner, pool: pool, timeout: timeout))
                }
            }
            var results: [(Int, HostDiagnosis)] = []
            for await result in group { results.append(result) }
            return results
        }
        for (index, diagnosis) in checked { hosts[index] = diagnosis }
        await pool.shutdown()
        return hosts
    }

    private static func check(
        _ diagnosis: HostDiagnosis, spec: CloudSpec, runner: SSHRunner, pool: SSHPool, timeout: Duration
    ) async -> HostDiagnosis {
        var diagnosis = diagnosis
        diagnosis.settings = settings(spec.ssh ?? CloudSpec.SSH(), endpoint: runner.endpoint, pool: pool)
        // Behind a jump host or a proxy command the client has no route of its own to probe: the
        // session's own facts (banner included) say how far it got.
        if runner.endpoint.proxyCommand == nil, runner.endpoint.jumps.isEmpty {
            let reach = await SSHReachability.probe(runner.endpoint, timeout: timeout)
            diagnosis.reach = reach
            if let problem = reach.problem {
                diagnosis.problems.append(problem)
                return diagnosis
            }
        }
        do {
            diagnosis.runner = try await runner.check(deadline: timeout)
            diagnosis.session = pool.sessionFacts(for: runner.endpoint)
            // A missing workspace is normal before the first `chain`, which clones it.
            for check in diagnosis.runner where !check.ok && check.name != "workspace" {
                diagnosis.problems.append("\(check.name): \(check.detail)")
            }
        } catch {
            diagnosis.failure = error
            diagnosis.problems.append("ssh: \(error.kind?.rawValue ?? "error") (see above)")
        }
        return diagnosis
    }

    /// The endpoint's settings and their sources: cloud.yaml's explicit fields win over
    /// ssh_config, which wins over the defaults; the tool's own options win for host trust.
    static func settings(_ ssh: CloudSpec.SSH, endpoint: SSHEndpoint, pool: SSHPool) -> [HostDiagnosis
        .Setting]
    {
        let configuration = pool.configuration
        // The endpoint was resolved from these settings; read again, they say which line of which
        // file each value came from.
        let origins =
            (try? SSHConfigResolver(files: configuration.clientConfigFiles).resolve(
                host: ssh.host, user: ssh.user, port: ssh.portIsExplicit ? ssh.port : nil))?.origins ?? [:]
        func config(_ keyword: String) -> String { origins[keyword] ?? "ssh_config" }
        func source(explicit: Bool, resolved: Bool, keyword: String) -> String {
            explicit ? "cloud.yaml" : resolved ? config(keyword) : "default"
        }
        let hostChanged = endpoint.host != (HostAddress.canonical(ssh.host) ?? ssh.host)
        var settings: [HostDiagnosis.Setting] = [
            .init(name: "host", value: ssh.host, source: "cloud.yaml"),
            .init(
                name: "hostname", value: endpoint.host,
                source: hostChanged ? config("hostname") : "cloud.yaml"),
            .init(
                name: "port", value: String(endpoint.port),
                source: source(explicit: ssh.portIsExplicit, resolved: endpoint.port != 22, keyword: "port")),
            .init(
                name: "user", value: endpoint.resolvedUser,
                source: source(explicit: ssh.user != nil, resolved: endpoint.user != nil, keyword: "user")
                    .replacingAll("default", with: "local user")),
            .init(
                name: "identity",
                value: endpoint.identityFile.map {
                    ([$0] + endpoint.otherIdentityFiles).joined(separator: ", ")
                        + (endpoint.identitiesOnly ? " (IdentitiesOnly)" : ", then ssh-agent")
                }
                    ?? "ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa",
                source: source(
                    explicit: ssh.identityFile != nil, resolved: endpoint.identityFile != nil,
                    keyword: "identityfile")),
        ]
        if let certificate = endpoint.certificateFile {
            settings.append(.init(name: "certificate", value: certificate, source: config("certificatefile")))
        }
        for (index, hop) in endpoint.jumps.enumerated() {
            let account = hop.user.map { "\($0)@" } ?? ""
            settings.append(
                .init(name: "jump \(index + 1)", value: account + hop.hostPort, source: config("proxyjump")))
        }
        if let command = endpoint.proxyCommand {
            settings.append(.init(name: "proxy_command", value: command, source: config("proxycommand")))
        }
        if let alias = endpoint.hostKeyAlias {
            settings.append(.init(name: "host_key_alias", value: alias, source: config("hostkeyalias")))
        }
        settings.append(
            .init(
                name: "known_hosts",
                value: ([endpoint.knownHostsPath ?? configuration.knownHostsPath]
                    + endpoint.otherKnownHostsPaths)
                    .joined(separator: ", "),
                source: endpoint.knownHostsPath != nil
                    ? config("userknownhostsfile")
                    : configuration.knownHostsChosen ? "--known-hosts or fleet.yaml" : "default"))
        settings.append(
            .init(
                name: "host_key_policy",
                value: (endpoint.hostKeyPolicy ?? configuration.hostKeyPolicy).rawValue,
                source: endpoint.hostKeyPolicy != nil
                    ? config("stricthostkeychecking")
                    : configuration.hostKeyPolicyChosen ? "--host-key-policy or fleet.yaml" : "default"))
        return settings
    }
}
