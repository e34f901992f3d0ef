import FleetCore

extension SSHEndpoint {
    /// The endpoint for a cloud.yaml `ssh` section. Its explicit fields win over the OpenSSH client
    /// configuration, as `ssh -l/-p/-i` do; `ssh.host` may be an alias that the configuration
    /// resolves (`HostName`, `User`, `Port`, `IdentityFile`, known_hosts, host key checking,
    /// `ConnectTimeout`, `ProxyCommand`). A jump host is refused rather than bypassed.
    public static func resolving(
        _ ssh: CloudSpec.SSH, configuration: SSHConfiguration, context: SSHConfigResolver.Context = .current
    ) throws(FleetError) -> SSHEndpoint {
        let resolver = SSHConfigResolver(files: configuration.clientConfigFiles, context: context)
        let settings = try resolver.resolve(
            host: ssh.host, user: ssh.user, port: ssh.portIsExplicit ? ssh.port : nil)
        if let jump = settings.proxyJump {
            throw FleetError(
                .invalidSSHConfig,
                "ProxyJump is not supported yet: ssh_config routes \(ssh.host) through ProxyJump \(jump); megaplan-fleet refuses to connect directly instead"
            )
        }
        let identity =
            if let explicit = ssh.identityFile { FileSystem.resolve(explicit) } else {
                try identityFile(settings, context: context)
            }
        var endpoint = SSHEndpoint(
            host: settings.effectiveHostName, port: settings.port ?? 22, user: settings.user,
            identityFile: identity)
        if !configuration.knownHostsChosen, let first = settings.userKnownHostsFiles?.first {
            guard first.lowercased() != "none" else {
                throw FleetError(
                    .invalidSSHConfig,
                    "ssh_config sets UserKnownHostsFile none for \(ssh.host): megaplan-fleet needs a known_hosts file to verify host keys"
                )
            }
            endpoint.knownHostsPath = try settings.expandPath(
                first, keyword: "UserKnownHostsFile", context: context)
        }
        if !configuration.hostKeyPolicyChosen, let checking = settings.strictHostKeyChecking {
            switch checking {
            case .yes: endpoint.hostKeyPolicy = .strict
            case .acceptNew: endpoint.hostKeyPolicy = .acceptNew
            case .no, .ask:
                throw FleetError(
                    .invalidSSHConfig,
                    "ssh_config sets StrictHostKeyChecking \(checking == .ask ? "ask" : "no") for \(ssh.host): megaplan-fleet never trusts an unverified host key; use yes or accept-new (or --host-key-policy)"
                )
            }
        }
        endpoint.proxyCommand = try settings.expandedProxyCommand(context: context)
        if let seconds = settings.connectTimeout, seconds > 0 { endpoint.connectTimeout = .seconds(seconds) }
        return endpoint
    }

    /// The first configured `IdentityFile` that exists (ssh tries each in turn; the pool takes one
    /// key per endpoint), else the first; `nil` leaves the pool's agent-then-default-keys search.
    static func identityFile(_ settings: SSHHostSettings, context: SSHConfigResolver.Context)
        throws(FleetError)
        -> String?
    {
        var paths: [String] = []
        for raw in settings.identityFiles {
            paths.append(try settings.expandPath(raw, keyword: "IdentityFile", context: context))
        }
        return paths.first(where: FileSystem.isRegularFile) ?? paths.first
    }
}
