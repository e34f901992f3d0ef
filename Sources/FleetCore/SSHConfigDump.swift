#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SSHHostSettings {
    /// `ProxyCommand` with the tokens ssh expands in it (`%h %p %r %n %k %%`: sshconnect.c
    /// `expand_proxy_command`), the names shell-quoted because the command runs through
    /// `/bin/sh -c`; nil when no command routes the host (unset or `none`).
    public func expandedProxyCommand(context: SSHConfigResolver.Context) throws(FleetError) -> String? {
        guard let proxyCommand, proxyCommand != "none" else { return nil }
        let tokens: [Character: String] = [
            "h": ShellQuote.quote(effectiveHostName), "p": String(port ?? 22),
            "r": ShellQuote.quote(effectiveUser(context)), "n": ShellQuote.quote(originalHost),
            "k": ShellQuote.quote(hostKeyAlias ?? originalHost),
        ]
        return try expandTokens(proxyCommand, tokens, keyword: "ProxyCommand") { message in
            FleetError(.invalidSSHConfig, "host \(originalHost): \(message)")
        }
    }

    /// ssh's built-in identity files, tried when no `IdentityFile` is set (readconf.c).
    static let defaultIdentityFiles = [
        "~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519", "~/.ssh/id_ed25519_sk",
        "~/.ssh/id_xmss", "~/.ssh/id_dsa",
    ]
    static let defaultUserKnownHostsFiles = ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]
    static let defaultGlobalKnownHostsFiles = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]

    /// The remote account: `User`, else the local user.
    public func effectiveUser(_ context: SSHConfigResolver.Context) -> String { user ?? context.localUser }

    /// `~` and the `%` tokens ssh expands in file names (`%d %h %p %r %u %n %k %i %%`).
    public func expandPath(_ raw: String, keyword: String, context: SSHConfigResolver.Context)
        throws(FleetError) -> String
    {
        var path = raw
        if path == "~" || path.hasPrefix("~/") {
            path = context.homeDirectory + path.dropFirst()
        } else if path.hasPrefix("~") {
            throw FleetError(.invalidSSHConfig, "\(keyword) \(raw): only ~/ is supported, not ~user")
        }
        let tokens: [Character: String] = [
            "d": context.homeDirectory, "h": effectiveHostName, "p": String(port ?? 22),
            "r": effectiveUser(context), "u": context.localUser, "n": originalHost,
            "k": hostKeyAlias ?? originalHost, "i": String(getuid()),
        ]
        return try expandTokens(path, tokens, keyword: keyword) { message in
            FleetError(.invalidSSHConfig, "host \(originalHost): \(message)")
        }
    }

    /// `ssh -G` lines (lowercase keyword, OpenSSH's spelling of values and defaults) for the
    /// keywords the tool honours, in the order `ssh -G` prints them.
    public func openSSHLines(context: SSHConfigResolver.Context) throws(FleetError) -> [String] {
        var lines = [
            "host \(originalHost)", "user \(effectiveUser(context))", "hostname \(effectiveHostName)",
            "port \(port ?? 22)", "identitiesonly \(identitiesOnly == true ? "yes" : "no")",
            "stricthostkeychecking \((strictHostKeyChecking ?? .ask).rawValue)",
            "serveralivecountmax \(serverAliveCountMax ?? 3)",
            "serveraliveinterval \(serverAliveInterval ?? 0)",
        ]
        if let hostKeyAlias { lines.append("hostkeyalias \(hostKeyAlias)") }
        if let identityAgent {
            lines.append(
                "identityagent \(try expandPath(identityAgent, keyword: "IdentityAgent", context: context))")
        }
        for file in identityFiles.isEmpty ? Self.defaultIdentityFiles : identityFiles {
            lines.append("identityfile \(file)")
        }
        for file in certificateFiles { lines.append("certificatefile \(file)") }
        lines.append(
            "globalknownhostsfile "
                + Self.fileList(globalKnownHostsFiles ?? Self.defaultGlobalKnownHostsFiles))
        var userFiles: [String] = []
        for file in userKnownHostsFiles ?? Self.defaultUserKnownHostsFiles {
            userFiles.append(
                file.lowercased() == "none"
                    ? file : try expandPath(file, keyword: "UserKnownHostsFile", context: context))
        }
        lines.append("userknownhostsfile " + Self.fileList(userFiles))
        lines.append("connecttimeout " + (connectTimeout.map(String.init) ?? "none"))
        if let proxyJump {
            lines.append("proxyjump \(proxyJump)")
        } else if let proxyCommand, proxyCommand != "none" {
            lines.append("proxycommand \(proxyCommand)")
        }
        return lines
    }

    /// ssh prints a `none` list as `none`.
    static func fileList(_ files: [String]) -> String {
        files.count == 1 && files[0].lowercased() == "none" ? "none" : files.joined(separator: " ")
    }
}
