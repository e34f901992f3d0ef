import FleetCore
import Foundation

/// One SSH destination. Connections are pooled per endpoint: two endpoints that differ in any
/// field (host, port, user, identity file) never share a connection.
public struct SSHEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Remote account; `nil` means the current local user (`$USER`, else the passwd entry).
    public var user: String?
    /// Private key to authenticate with; `nil` means ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa.
    public var identityFile: String?

    /// Per-host settings from ssh_config (`UserKnownHostsFile`, `StrictHostKeyChecking`,
    /// `ConnectTimeout`); `nil` uses the pool's configuration.
    public var knownHostsPath: String?
    public var hostKeyPolicy: HostKeyPolicy?
    public var connectTimeout: Duration?
    /// A user certificate for the identity file (ssh_config `CertificateFile`); `nil` looks for
    /// `<identity>-cert.pub` beside each key, as ssh does.
    public var certificateFile: String?
    /// ssh_config's further `IdentityFile`s, tried in order after `identityFile`.
    public var otherIdentityFiles: [String] = []
    /// ssh_config's further `UserKnownHostsFile`s and its `GlobalKnownHostsFile`s, consulted after
    /// the first file (accept-new records only there).
    public var otherKnownHostsPaths: [String] = []
    /// ssh_config's `HostKeyAlias`: the name known_hosts is searched and written under, without a
    /// port (as ssh does).
    public var hostKeyAlias: String?
    /// ssh_config's `ServerAliveInterval` and `ServerAliveCountMax`; nil uses the pool's.
    public var keepaliveInterval: Duration?
    public var keepaliveMaxMissed: Int?
    /// Where ssh-agent is reached (ssh_config `IdentityAgent`).
    public var agent: Agent = .environment
    /// ssh_config's `IdentitiesOnly`: with identity files, the agent's other keys are not offered.
    public var identitiesOnly = false

    /// ssh_config's `IdentityAgent`: `SSH_AUTH_SOCK` unless it names another socket or `none`.
    public enum Agent: Hashable, Sendable {
        /// `$SSH_AUTH_SOCK`, when set.
        case environment
        /// A socket path.
        case socket(String)
        /// No agent.
        case none
    }
    /// ssh_config's `ProxyCommand`, its tokens expanded: the session runs over the command's stdin
    /// and stdout (`SSHProxyCommand`) instead of a TCP connection to `host`, which then only names
    /// the host for known_hosts and messages.
    public var proxyCommand: String?
    /// ssh_config's `ProxyJump`, flattened: the hosts passed through, first hop first, each
    /// reached through the ones before it (their own `jumps` empty). The session runs over a
    /// `direct-tcpip` channel of the pooled connection to the last one (`bastion`).
    public var jumps: [SSHEndpoint] = []

    /// `host` may be an IPv6 literal with or without brackets: it is kept in its canonical form
    /// (`HostAddress.canonical`), the one name resolution and known_hosts lookups expect.
    public init(host: String, port: Int = 22, user: String? = nil, identityFile: String? = nil) {
        self.host = HostAddress.canonical(host) ?? host
        self.port = port
        self.user = user
        self.identityFile = identityFile
    }

    /// `host:port` (`[::1]:22` for an IPv6 literal), the form used in every error message.
    public var hostPort: String { HostAddress.display(host: host, port: port) }

    /// The pooled connection that carries this endpoint's sessions: the last jump host, reached
    /// through the ones before it; nil when there is no jump.
    var bastion: SSHEndpoint? {
        guard var last = jumps.last else { return nil }
        last.jumps = Array(jumps.dropLast())
        return last
    }

    /// How the connection reaches the host, for error messages: nil when it connects directly.
    var route: String? {
        if !jumps.isEmpty { return "ProxyJump " + jumps.map(\.description).joined(separator: ",") }
        return proxyCommand.map { "ProxyCommand `\($0)`" }
    }

    public var description: String {
        (user.map { "\($0)@" } ?? "") + hostPort
    }

    /// The account name actually used to log in.
    public var resolvedUser: String { user ?? SSHEndpoint.currentUser }

    static var currentUser: String {
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return "root"
    }
}

public struct SSHConfiguration: Sendable {
    /// OpenSSH-format known_hosts file (patterns, hashed entries, `[host]:port` for ports other than
    /// 22, `@revoked` and `@cert-authority` markers: see `KnownHosts`).
    public var knownHostsPath: String
    public var hostKeyPolicy: HostKeyPolicy
    /// Connections per endpoint (keep under sshd `MaxStartups`, default 10).
    public var connectionsPerHost: Int
    /// Concurrent channels per connection (keep under sshd `MaxSessions`, default 10).
    public var channelsPerConnection: Int
    public var connectTimeout: Duration
    /// Send a keepalive after this much silence from the server.
    public var keepaliveInterval: Duration
    /// The connection is declared dead after `keepaliveInterval * keepaliveMaxMissed` without inbound traffic.
    public var keepaliveMaxMissed: Int
    /// Per-stream cap (stdout and stderr separately) when `run` is called without `outputLimit`:
    /// more output fails the call (`commandFailed`) and stops the command.
    public var defaultOutputLimit: Int
    /// OpenSSH client configuration files read for every SSH runner (none by default; the CLI
    /// gives `~/.ssh/config` and `/etc/ssh/ssh_config`, or `--ssh-config`).
    public var clientConfigFiles: [SSHConfigResolver.File] = []
    /// The tool's own options chose the known_hosts file / host key policy: they then win over
    /// ssh_config's `UserKnownHostsFile` / `StrictHostKeyChecking`, as `ssh -o` does.
    public var knownHostsChosen = false
    public var hostKeyPolicyChosen = false

    public init(
        knownHostsPath: String = SSHConfiguration.defaultKnownHostsPath,
        hostKeyPolicy: HostKeyPolicy = .strict,
        connectionsPerHost: Int = 3,
        channelsPerConnection: Int = 8,
        connectTimeout: Duration = .seconds(10),
        keepaliveInterval: Duration = .seconds(5),
        keepaliveMaxMissed: Int = 3,
        defaultOutputLimit: Int = OutputLimits.capture
    ) {
        self.knownHostsPath = knownHostsPath
        self.hostKeyPolicy = hostKeyPolicy
        self.connectionsPerHost = max(1, min(connectionsPerHost, 9))
        self.channelsPerConnection = max(1, min(channelsPerConnection, 9))
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveMaxMissed = max(1, keepaliveMaxMissed)
        self.defaultOutputLimit = max(0, defaultOutputLimit)
    }

    public static var defaultKnownHostsPath: String {
        SSHPaths.homeDirectory + "/.ssh/known_hosts"
    }
}

public struct SSHCommandResult: Sendable {
    public var exitStatus: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    init(exitStatus: Int32, stdout: [UInt8], stderr: [UInt8]) {
        self.exitStatus = exitStatus
        self.stdout = stdout
        self.stderr = stderr
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

public struct SSHError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreachable
        case timedOut = "timeout"
        case authFailed = "auth_failed"
        case hostKeyUnknown = "host_key_unknown"
        case hostKeyChanged = "host_key_changed"
        /// The host presented a key that known_hosts marks `@revoked` (refused under every policy).
        case hostKeyRevoked = "host_key_revoked"
        case commandFailed = "command_failed"
        case connectionLost = "connection_lost"
        case protocolError = "protocol_error"
        /// The caller cancelled the request (a deadline or a signal ended its task): not a fault
        /// of the host, so no line kind of its own (the caller reports the deadline or the signal).
        case cancelled
    }

    public var kind: Kind
    /// `host:port` (`SSHEndpoint.hostPort`).
    public var host: String
    /// One line that names the host.
    public var message: String

    public init(kind: Kind, host: String, message: String) {
        self.kind = kind
        self.host = host
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Counters that prove pooling (benchmarks and tests read them).
public struct SSHStatistics: Sendable, Equatable {
    /// SSH sessions established (TCP + key exchange + authentication completed), jump hosts' and
    /// the sessions tunnelled through them included.
    public var handshakes: Int = 0
    /// Of `handshakes`, the sessions that run over a jump host's `direct-tcpip` channel.
    public var tunnelledHandshakes: Int = 0
    /// Requests (commands, streams, uploads, interactive sessions) that completed with a result.
    public var commandsRun: Int = 0
    /// Sessions established to an endpoint after an earlier session to it was lost.
    public var reconnects: Int = 0
    /// Sessions discarded because the peer vanished, froze or broke the protocol.
    public var connectionsLost: Int = 0
    /// Requests moved to a new connection because theirs died before they started.
    public var resubmitted: Int = 0

    init() {}
}

enum SSHPaths {
    static var homeDirectory: String {
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty { return home }
        if let entry = getpwuid(geteuid()), let dir = entry.pointee.pw_dir { return String(cString: dir) }
        return "/"
    }

    static func expandTilde(_ path: String) -> String {
        if path == "~" { return homeDirectory }
        if path.hasPrefix("~/") { return homeDirectory + String(path.dropFirst(1)) }
        return path
    }
}
