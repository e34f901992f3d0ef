#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads OpenSSH client configuration files as ssh does (readconf.c): files in order, first
/// obtained value wins, `Host` and `Match` blocks, `Include` with globs, and a second pass when a
/// `Match final` was seen. Pure apart from reading the files.
public struct SSHConfigResolver: Sendable {
    /// Who is resolving: what `~`, `%d`, `%u` and relative `Include` paths mean.
    public struct Context: Sendable {
        public var homeDirectory: String
        public var localUser: String
        /// Where relative `Include` paths of a user file point (ssh: `~/.ssh`, through `$HOME`).
        public var userConfigDirectory: String
        public var systemConfigDirectory: String

        public init(
            homeDirectory: String, localUser: String, userConfigDirectory: String? = nil,
            systemConfigDirectory: String = "/etc/ssh"
        ) {
            self.homeDirectory = homeDirectory
            self.localUser = localUser
            self.userConfigDirectory = userConfigDirectory ?? homeDirectory + "/.ssh"
            self.systemConfigDirectory = systemConfigDirectory
        }

        /// The current user, as ssh sees them (the passwd entry for home and name).
        public static var current: Context {
            var home = FileSystem.homeDirectory()
            var name = "root"
            if let entry = getpwuid(getuid()) {
                if let dir = entry.pointee.pw_dir { home = String(cString: dir) }
                if let user = entry.pointee.pw_name { name = String(cString: user) }
            }
            // Include globs expand `~` through $HOME (glob(3)'s GLOB_TILDE), not the passwd entry.
            let globHome =
                getenv("HOME").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? home
            return Context(homeDirectory: home, localUser: name, userConfigDirectory: globHome + "/.ssh")
        }
    }

    /// One configuration file; user files get `~/.ssh`-relative includes and may use `~` there.
    public struct File: Sendable, Equatable {
        public var path: String
        public var isUserFile: Bool
        public init(path: String, isUserFile: Bool) {
            self.path = path
            self.isUserFile = isUserFile
        }
    }

    /// ssh's READCONF_MAX_DEPTH.
    static let includeDepthLimit = 16
    static let fileSizeLimit = 1 << 20
    static let totalSizeLimit = 16 << 20
    static let identityFileLimit = 100

    public var files: [File]
    public var context: Context

    public init(files: [File], context: Context = .current) {
        self.files = files
        self.context = context
    }

    /// `~/.ssh/config` then `/etc/ssh/ssh_config`; a path (fleet.yaml `defaults.ssh_config`,
    /// `--ssh-config`) replaces both, as `ssh -F` does; `none` reads nothing.
    public static func standard(path: String?, context: Context = .current) -> SSHConfigResolver {
        switch path {
        case "none"?: SSHConfigResolver(files: [], context: context)
        case let path?:
            SSHConfigResolver(
                files: [File(path: FileSystem.resolve(path), isUserFile: true)], context: context)
        case nil:
            SSHConfigResolver(
                files: [
                    File(path: context.homeDirectory + "/.ssh/config", isUserFile: true),
                    File(path: context.systemConfigDirectory + "/ssh_config", isUserFile: false),
                ], context: context)
        }
    }

    /// The settings for `host` (the destination as given: an alias or a name). `user` and `port`
    /// are set before the files are read, as `ssh -l` and `ssh -p` do: they win, and `Match user`
    /// sees the user.
    public func resolve(host: String, user: String? = nil, port: Int? = nil) throws(FleetError)
        -> SSHHostSettings
    {
        var preset = SSHHostSettings(originalHost: host)
        preset.user = user
        preset.port = port
        var walk = Walk(resolver: self, settings: preset, finalPass: false)
        try walk.run()
        guard walk.wantsFinalPass else { return walk.settings }
        // ssh re-reads everything with HostName fixed to the name found by the first pass.
        var settings = walk.settings
        settings.hostName = settings.effectiveHostName
        var final = Walk(resolver: self, settings: settings, finalPass: true)
        try final.run()
        return final.settings
    }
}

/// One pass over the files.
private struct Walk {
    let resolver: SSHConfigResolver
    var settings: SSHHostSettings
    let finalPass: Bool
    var wantsFinalPass = false
    var bytesRead = 0

    mutating func run() throws(FleetError) {
        for file in resolver.files {
            var active = true
            try read(file.path, isUserFile: file.isUserFile, active: &active, neverMatch: false, depth: 0)
        }
    }

    static func fail(_ path: String, _ line: Int, _ message: String) -> FleetError {
        FleetError(.invalidSSHConfig, "\(path) line \(line): \(message)")
    }

    /// A missing file is skipped, as ssh does; an unsafe one is refused.
    mutating func read(
        _ path: String, isUserFile: Bool, active: inout Bool, neverMatch: Bool, depth: Int
    ) throws(FleetError) {
        guard depth <= SSHConfigResolver.includeDepthLimit else {
            throw FleetError(.invalidSSHConfig, "\(path): too many nested Include levels (at most 16)")
        }
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FleetError(.invalidSSHConfig, "\(path): not a regular file")
        }
        // ssh's check for user configuration files: owned by root or the user, not group- or
        // world-writable.
        guard info.st_uid == 0 || info.st_uid == getuid(), info.st_mode & 0o022 == 0 else {
            throw FleetError(
                .invalidSSHConfig,
                "\(path): bad owner or permissions (must be owned by you or root and not writable by group or others)"
            )
        }
        guard info.st_size <= SSHConfigResolver.fileSizeLimit,
            bytesRead + Int(info.st_size) <= SSHConfigResolver.totalSizeLimit,
            let text = FileSystem.readText(path, limit: SSHConfigResolver.fileSizeLimit)
        else {
            throw FleetError(.invalidSSHConfig, "\(path): unreadable or larger than 1 MiB (or 16 MiB in all)")
        }
        bytesRead += text.utf8.count
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line: SSHConfigLine?
            do { line = try SSHConfigLine.parse(String(raw)) } catch {
                switch error {
                case .invalidQuotes: throw Self.fail(path, lineNumber, "invalid quotes")
                case .missingArgument(let keyword):
                    throw Self.fail(path, lineNumber, "no argument after keyword \"\(keyword)\"")
                }
            }
            guard let line else { continue }
            try apply(
                line, at: (path, lineNumber), isUserFile: isUserFile, active: &active, neverMatch: neverMatch,
                depth: depth)
        }
    }

    mutating func apply(
        _ line: SSHConfigLine, at place: (path: String, line: Int), isUserFile: Bool, active: inout Bool,
        neverMatch: Bool, depth: Int
    ) throws(FleetError) {
        func fail(_ message: String) -> FleetError { Walk.fail(place.path, place.line, message) }
        func single() throws(FleetError) -> String {
            guard let first = line.arguments.first, !first.isEmpty else { throw fail("missing argument") }
            guard line.arguments.count == 1 else {
                throw fail("keyword \(line.keyword) extra arguments at end of line")
            }
            return first
        }
        let on = active
        /// Notes where the value of `keyword` came from, for `doctor`.
        func obtained(_ keyword: String) {
            let place = "\(place.path) line \(place.line)"
            settings.origins[keyword] = settings.origins[keyword].map { "\($0), \(place)" } ?? place
        }
        switch line.keyword {
        case "host":
            active = false
            for pattern in line.arguments {
                if neverMatch { break }
                let negated = pattern.hasPrefix("!")
                let body = Array((negated ? pattern.dropFirst() : Substring(pattern)).utf8)
                if HostPatterns.glob(body, Array(settings.originalHost.utf8)) {
                    if negated {
                        active = false
                        break
                    }
                    active = true
                }
            }
        case "match":
            let matched = try matchCriteria(line.arguments, fail: fail)
            active = neverMatch ? false : matched
        case "include":
            try include(line.arguments, at: place, isUserFile: isUserFile, active: &active, depth: depth)
        case "hostname":
            let value = try single()
            if on, settings.hostName == nil {
                let expanded = try expandTokens(
                    value, ["h": settings.originalHost], keyword: "HostName", fail: fail)
                settings.hostName = String(
                    decoding: expanded.utf8.map(HostPatterns.lowercased), as: UTF8.self)
                obtained("hostname")
            }
        case "user":
            let value = try single()
            if on, settings.user == nil {
                settings.user = value
                obtained("user")
            }
        case "port":
            let value = try single()
            guard let port = Int(value), CloudSpec.SSH.portRange.contains(port) else {
                throw fail("bad port '\(value)'")
            }
            if on, settings.port == nil {
                settings.port = port
                obtained("port")
            }
        case "identityfile":
            let value = try single()
            if on {
                guard settings.identityFiles.count < SSHConfigResolver.identityFileLimit else {
                    throw fail("too many identity files specified (max 100)")
                }
                if !settings.identityFiles.contains(value) {
                    settings.identityFiles.append(value)
                    obtained("identityfile")
                }
            }
        case "certificatefile":
            let value = try single()
            if on, !settings.certificateFiles.contains(value) {
                settings.certificateFiles.append(value)
                obtained("certificatefile")
            }
        case "identitiesonly":
            let value = try flag(try single(), fail: fail)
            if on, settings.identitiesOnly == nil {
                settings.identitiesOnly = value
                obtained("identitiesonly")
            }
        case "identityagent":
            let value = try single()
            if on, settings.identityAgent == nil {
                settings.identityAgent = value
                obtained("identityagent")
            }
        case "proxyjump":
            // Exactly `none` turns jumping off without blocking a later ProxyCommand; anything
            // else (even `none # comment`, which ssh takes as a host named none) is a jump list,
            // and a jump also fixes ProxyCommand to none (readconf.c `parse_jump`).
            if line.rest.lowercased() == "none" {
                if on, settings.proxyJump == nil {
                    settings.jumpDisabled = true
                    obtained("proxyjump")
                }
                return
            }
            let value = Self.withoutComment(line.rest)
            guard Self.isValidJumpList(value) else { throw fail("invalid ProxyJump \"\(value)\"") }
            if on, settings.proxyJump == nil, !settings.jumpDisabled, settings.proxyCommand == nil {
                settings.proxyJump = value
                settings.proxyCommand = "none"
                obtained("proxyjump")
            }
        case "proxycommand":
            if on, settings.proxyCommand == nil {
                settings.proxyCommand = line.rest
                obtained("proxycommand")
            }
        case "userknownhostsfile", "globalknownhostsfile":
            guard !line.arguments.isEmpty, !line.arguments.contains("") else { throw fail("empty argument") }
            if line.arguments.count > 1, line.arguments.contains(where: { $0.lowercased() == "none" }) {
                throw fail("keyword \(line.keyword) \"none\" argument must appear alone")
            }
            if line.keyword == "userknownhostsfile" {
                if on, settings.userKnownHostsFiles == nil {
                    settings.userKnownHostsFiles = line.arguments
                    obtained("userknownhostsfile")
                }
            } else if on, settings.globalKnownHostsFiles == nil {
                settings.globalKnownHostsFiles = line.arguments
                obtained("globalknownhostsfile")
            }
        case "stricthostkeychecking":
            let text = try single()
            guard let value = SSHHostSettings.StrictHostKeyChecking(configValue: text) else {
                throw fail("unsupported option \"\(text)\"")
            }
            if on, settings.strictHostKeyChecking == nil {
                settings.strictHostKeyChecking = value
                obtained("stricthostkeychecking")
            }
        case "hostkeyalias":
            let value = try single()
            if on, settings.hostKeyAlias == nil {
                settings.hostKeyAlias = value.lowercased()
                obtained("hostkeyalias")
            }
        case "connecttimeout", "serveraliveinterval":
            let text = try single()
            // `none` is ssh's "unset" value: a later line may still set the timeout.
            if line.keyword == "connecttimeout", text == "none" { return }
            guard let seconds = Self.seconds(text) else { throw fail("invalid time value") }
            if line.keyword == "connecttimeout" {
                if on, settings.connectTimeout == nil {
                    settings.connectTimeout = seconds
                    obtained("connecttimeout")
                }
            } else if on, settings.serverAliveInterval == nil {
                settings.serverAliveInterval = seconds
                obtained("serveraliveinterval")
            }
        case "serveralivecountmax":
            let text = try single()
            guard let count = Int(text), count >= 0 else { throw fail("invalid number \"\(text)\"") }
            if on, settings.serverAliveCountMax == nil {
                settings.serverAliveCountMax = count
                obtained("serveralivecountmax")
            }
        default:
            if on, let name = Self.unsupportedKeywords[line.keyword] {
                settings.unsupported.append("\(name) (\(place.path) line \(place.line))")
            }
        }
    }

    /// `Match` criteria: `all`, `final`, `host`, `originalhost`, `user`, each possibly negated.
    mutating func matchCriteria(
        _ arguments: [String], fail: (String) -> FleetError
    ) throws(FleetError) -> Bool {
        var result = true
        var criteria = 0
        var index = 0
        let hostName = finalPass ? settings.effectiveHostName : settings.hostName ?? settings.originalHost
        while index < arguments.count {
            var attribute = arguments[index].lowercased()
            index += 1
            let negate = attribute.hasPrefix("!")
            if negate { attribute.removeFirst() }
            if attribute == "all" {
                guard criteria <= 1, index == arguments.count else {
                    throw fail("'\(arguments[index - 1])' cannot be combined with other Match attributes")
                }
                return result && !negate
            }
            criteria += 1
            if attribute == "final" {
                wantsFinalPass = true
                if finalPass == negate { result = false }
                continue
            }
            guard ["host", "originalhost", "user"].contains(attribute) else {
                throw fail(
                    "Match \(attribute) is not supported (only host, originalhost, user, all and final)")
            }
            guard index < arguments.count, !arguments[index].isEmpty else {
                throw fail("missing Match criteria for \(attribute)")
            }
            let patterns = Array(arguments[index].utf8)
            index += 1
            let matched: Bool
            switch attribute {
            case "user":
                matched =
                    HostPatterns.matchList(
                        patterns, host: Array((settings.user ?? resolver.context.localUser).utf8),
                        foldCase: false)
                    == .matched
            default:
                let subject = attribute == "host" ? hostName : settings.originalHost
                matched =
                    HostPatterns.matchList(patterns, host: subject.utf8.map(HostPatterns.lowercased))
                    == .matched
            }
            if matched == negate { result = false }
        }
        guard criteria > 0 else { throw fail("one or more attributes required for Match") }
        return result
    }

    mutating func include(
        _ arguments: [String], at place: (path: String, line: Int), isUserFile: Bool, active: inout Bool,
        depth: Int
    ) throws(FleetError) {
        let context = resolver.context
        for argument in arguments {
            guard !argument.isEmpty else { throw Walk.fail(place.path, place.line, "empty Include argument") }
            var pattern = argument
            if argument.hasPrefix("~") {
                guard isUserFile else {
                    throw Walk.fail(place.path, place.line, "bad include path \(argument)")
                }
            } else if !argument.hasPrefix("/") {
                pattern =
                    (isUserFile ? context.userConfigDirectory : context.systemConfigDirectory) + "/"
                    + argument
            }
            if pattern == "~" || pattern.hasPrefix("~/") {
                pattern = context.userConfigDirectory.dropLastPathComponent + pattern.dropFirst()
            }
            let outer = active
            for path in Self.glob(pattern) {
                try read(path, isUserFile: isUserFile, active: &active, neverMatch: !outer, depth: depth + 1)
                active = outer
            }
        }
    }

    /// Paths matching a glob, sorted, as glob(3) gives them; none when nothing matches.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// `yes`/`true` and `no`/`false`, as ssh's flag keywords take.
    func flag(_ text: String, fail: (String) -> FleetError) throws(FleetError) -> Bool {
        switch text.lowercased() {
        case "yes", "true": return true
        case "no", "false": return false
        default: throw fail("unsupported option \"\(text)\"")
        }
    }

    /// ssh's time format (misc.c `convtime`): `90`, `1h30m`, `2w`; at most a year here.
    static func seconds(_ text: String) -> Int? {
        var total = 0
        var number: Int?
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                number = (number ?? 0) * 10 + digit
                if number! > 366 * 86400 { return nil }
                continue
            }
            let unit: Int? =
                switch character {
                case "s", "S": 1
                case "m", "M": 60
                case "h", "H": 3600
                case "d", "D": 86400
                case "w", "W": 604800
                default: nil
                }
            guard let unit, let value = number else { return nil }
            total += value * unit
            number = nil
        }
        total += number ?? 0
        return text.isEmpty || total > 366 * 86400 ? nil : total
    }

    /// `none`, or a comma list of `[user@]host[:port]` / `ssh://[user@]host[:port]` (readconf.c
    /// `parse_jump` checks every hop's syntax, even in blocks that do not apply).
    static func isValidJumpList(_ text: String) -> Bool {
        if text.lowercased() == "none" { return true }
        return text.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { hop in
            var rest = hop.hasPrefix("ssh://") ? hop.dropFirst(6) : Substring(hop)
            if let at = rest.lastIndex(of: "@") {
                guard at != rest.startIndex else { return false }
                rest = rest[rest.index(after: at)...]
            }
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return false }
                let after = rest[rest.index(after: close)...]
                return after.isEmpty || (after.hasPrefix(":") && isPort(after.dropFirst()))
            }
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard !parts[0].isEmpty, parts.count <= 2 else { return false }
            return parts.count == 1 || isPort(parts[1])
        }
    }

    static func isPort(_ text: Substring) -> Bool {
        guard let port = Int(text) else { return false }
        return CloudSpec.SSH.portRange.contains(port)
    }

    static func withoutComment(_ text: String) -> String {
        let cut = text.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(cut).trimmingBlanks
    }

    /// Keywords that would change how a connection is authenticated or trusted, or run commands:
    /// the tool does not honour them, so it says so instead of ignoring them.
    static let unsupportedKeywords: [String: String] = Dictionary(
        uniqueKeysWithValues: [
            "AddKeysToAgent", "CanonicalizeHostname", "CheckHostIP", "Ciphers", "ControlMaster",
            "ControlPath",
            "DynamicForward", "ForwardAgent", "ForwardX11", "HostKeyAlgorithms", "HostbasedAuthentication",
            "KexAlgorithms", "KnownHostsCommand", "LocalCommand", "LocalForward", "MACs", "PKCS11Provider",
            "PasswordAuthentication", "PermitLocalCommand", "ProxyUseFdpass", "PubkeyAcceptedAlgorithms",
            "PubkeyAuthentication",
            "RemoteCommand", "RemoteForward", "RevokedHostKeys", "SecurityKeyProvider", "UpdateHostKeys",
            "VerifyHostKeyDNS",
        ].map { ($0.lowercased(), $0) })
}

/// `%` tokens ssh expands in the keywords the tool honours; an unknown token is an error, as in ssh.
func expandTokens(
    _ text: String, _ tokens: [Character: String], keyword: String, fail: (String) -> FleetError
) throws(FleetError) -> String {
    var output = ""
    var iterator = text.makeIterator()
    while let character = iterator.next() {
        guard character == "%" else {
            output.append(character)
            continue
        }
        guard let token = iterator.next() else { throw fail("\(keyword): '%' at the end of \"\(text)\"") }
        if token == "%" {
            output.append("%")
        } else if let value = tokens[token] {
            output += value
        } else {
            throw fail("\(keyword): unknown or unsupported token %\(token) in \"\(text)\"")
        }
    }
    return output
}

extension String {
    var trimmingBlanks: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" || last == "\r" { view.removeLast() }
        return String(view)
    }

    fileprivate var dropLastPathComponent: String {
        guard let slash = lastIndex(of: "/") else { return "." }
        return String(self[..<slash])
    }
}
