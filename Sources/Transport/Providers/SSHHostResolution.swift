import FleetCore
import SSHClient

extension SSHEndpoint {
    /// The endpoint for a cloud.yaml `ssh` section. Its explicit fields win over the OpenSSH client
    /// configuration, as `ssh -l/-p/-i` do; `ssh.host` may be an alias that the configuration
    /// resolves (`HostName`, `User`, `Port`, `IdentityFile`s, `CertificateFile`, `IdentityAgent`,
    /// the known_hosts files, `HostKeyAlias`, host key checking, `ConnectTimeout`, `ServerAlive*`,
    /// `ProxyCommand`, `ProxyJump`).
    public static func resolving(
        _ ssh: CloudSpec.SSH, configuration: SSHConfiguration, context: SSHConfigResolver.Context = .current
    ) throws(FleetError) -> SSHEndpoint {
        let resolver = SSHConfigResolver(files: configuration.clientConfigFiles, context: context)
        let settings = try resolver.resolve(
            host: ssh.host, user: ssh.user, port: ssh.portIsExplicit ? ssh.port : nil)
        var endpoint = try resolving(
            settings, identity: ssh.identityFile.map { FileSystem.resolve($0) }, configuration: configuration,
            context: context)
        endpoint.jumps = try jumps(
            of: settings, resolver: resolver, configuration: configuration, context: context, depth: 0)
        return endpoint
    }

    /// Jump hosts nested through their own `ProxyJump` deeper than this are refused (a loop).
    static let jumpDepthLimit = 8

    /// The hosts `settings`' `ProxyJump` goes through, first hop first, each with the endpoint its
    /// own ssh_config block describes. As with `ssh -J`, the first hop's own route (its
    /// `ProxyJump`, flattened in front of it, or its `ProxyCommand`) applies and the later hops'
    /// do not: each is reached through the hop before it.
    static func jumps(
        of settings: SSHHostSettings, resolver: SSHConfigResolver, configuration: SSHConfiguration,
        context: SSHConfigResolver.Context, depth: Int
    ) throws(FleetError) -> [SSHEndpoint] {
        var hops: [SSHEndpoint] = []
        for (index, hop) in settings.jumpHops.enumerated() {
            let hopSettings = try resolver.resolve(host: hop.host, user: hop.user, port: hop.port)
            var endpoint = try resolving(
                hopSettings, identity: nil, configuration: configuration, context: context)
            if index == 0 {
                guard depth < jumpDepthLimit else {
                    throw FleetError(
                        .invalidSSHConfig,
                        "ProxyJump for \(settings.originalHost) nests jump hosts more than \(jumpDepthLimit) deep through \(hop.host) (a loop in ssh_config?)"
                    )
                }
                hops += try jumps(
                    of: hopSettings, resolver: resolver, configuration: configuration, context: context,
                    depth: depth + 1)
            } else {
                endpoint.proxyCommand = nil
            }
            hops.append(endpoint)
        }
        return hops
    }

    /// The endpoint one host's settings describe, its `ProxyJump` aside; `identity` (cloud.yaml's)
    /// wins over `IdentityFile`.
    static func resolving(
        _ settings: SSHHostSettings, identity explicit: String?, configuration: SSHConfiguration,
        context: SSHConfigResolver.Context
    ) throws(FleetError) -> SSHEndpoint {
        let host = settings.originalHost
        let identities =
            if let explicit { [explicit] } else {
                try identityFiles(settings, context: context)
            }
        var endpoint = SSHEndpoint(
            host: settings.effectiveHostName, port: settings.port ?? 22, user: settings.user,
            identityFile: identities.first)
        endpoint.otherIdentityFiles = Array(identities.dropFirst())
        if !configuration.knownHostsChosen, let files = settings.userKnownHostsFiles {
            guard !files.contains(where: { $0.lowercased() == "none" }) else {
                throw FleetError(
                    .invalidSSHConfig,
                    "ssh_config sets UserKnownHostsFile none for \(host): megaplan-fleet needs a known_hosts file to verify host keys"
                )
            }
            var paths: [String] = []
            for file in files {
                paths.append(try settings.expandPath(file, keyword: "UserKnownHostsFile", context: context))
            }
            endpoint.knownHostsPath = paths.first
            endpoint.otherKnownHostsPaths = Array(paths.dropFirst())
        }
        // Only a GlobalKnownHostsFile the configuration names: ssh's default global files are not
        // read, so a host is trusted by the files the tool is told about.
        for file in settings.globalKnownHostsFiles ?? [] where file.lowercased() != "none" {
            endpoint.otherKnownHostsPaths.append(
                try settings.expandPath(file, keyword: "GlobalKnownHostsFile", context: context))
        }
        endpoint.hostKeyAlias = settings.hostKeyAlias
        if let seconds = settings.serverAliveInterval, seconds > 0 {
            endpoint.keepaliveInterval = .seconds(seconds)
        }
        if let count = settings.serverAliveCountMax, count > 0 { endpoint.keepaliveMaxMissed = count }
        if !configuration.hostKeyPolicyChosen, let checking = settings.strictHostKeyChecking {
            switch checking {
            case .yes: endpoint.hostKeyPolicy = .strict
            case .acceptNew: endpoint.hostKeyPolicy = .acceptNew
            case .no, .ask:
                throw FleetError(
                    .invalidSSHConfig,
                    "ssh_config sets StrictHostKeyChecking \(checking == .ask ? "ask" : "no") for \(host): megaplan-fleet never trusts an unverified host key; use yes or accept-new (or --host-key-policy)"
                )
            }
        }
        endpoint.proxyCommand = try settings.expandedProxyCommand(context: context)
        if let seconds = settings.connectTimeout, seconds > 0 { endpoint.connectTimeout = .seconds(seconds) }
        if let certificate = settings.certificateFiles.first {
            endpoint.certificateFile = try settings.expandPath(
                certificate, keyword: "CertificateFile", context: context)
        }
        endpoint.identitiesOnly = settings.identitiesOnly ?? false
        if let agent = settings.identityAgent {
            endpoint.agent = try agentChoice(agent, settings: settings, context: context)
        }
        return endpoint
    }

    /// `IdentityAgent` as ssh reads it: `none`, `SSH_AUTH_SOCK`, `$NAME` (that environment
    /// variable, which must be set), or a socket path with `~` and tokens expanded.
    static func agentChoice(_ value: String, settings: SSHHostSettings, context: SSHConfigResolver.Context)
        throws(FleetError) -> Agent
    {
        switch value {
        case "none": return .none
        case "SSH_AUTH_SOCK": return .environment
        default:
            guard value.hasPrefix("$") else {
                return .socket(try settings.expandPath(value, keyword: "IdentityAgent", context: context))
            }
            let name = String(value.dropFirst())
            guard let socket = ProcessEnvironment.current[name], !socket.isEmpty else {
                throw FleetError(
                    .invalidSSHConfig,
                    "ssh_config sets IdentityAgent \(value) for \(settings.originalHost), and \(name) is not set"
                )
            }
            return .socket(socket)
        }
    }

    /// The configured `IdentityFile`s that exist, in order (ssh tries each in turn), else the
    /// first (so the failure names it); empty leaves the pool's agent-then-default-keys search.
    static func identityFiles(_ settings: SSHHostSettings, context: SSHConfigResolver.Context)
        throws(FleetError) -> [String]
    {
        var paths: [String] = []
        for raw in settings.identityFiles {
            paths.append(try settings.expandPath(raw, keyword: "IdentityFile", context: context))
        }
        let existing = paths.filter(FileSystem.isRegularFile)
        return existing.isEmpty ? Array(paths.prefix(1)) : existing
    }
}
