/// What an OpenSSH client configuration says about one host, for the keywords the tool honours.
/// `nil` (or empty) means no file set it; values are as written, before `~` and `%` expansion,
/// except `hostName`, which has its `%h` expanded and is lowercased as ssh does.
public struct SSHHostSettings: Sendable, Equatable {
    /// ssh's `StrictHostKeyChecking` states, spelled as `ssh -G` prints them.
    public enum StrictHostKeyChecking: String, Sendable {
        case yes = "true"
        case no = "false"
        case ask
        case acceptNew = "accept-new"

        /// OpenSSH's accepted spellings (readconf.c `multistate_strict_hostkey`).
        init?(configValue: String) {
            switch configValue.lowercased() {
            case "yes", "true": self = .yes
            case "no", "false", "off": self = .no
            case "ask": self = .ask
            case "accept-new": self = .acceptNew
            default: return nil
            }
        }
    }

    /// The destination as given (what `Host` patterns and `%n` see).
    public var originalHost: String
    public var hostName: String?
    public var user: String?
    public var port: Int?
    public var identityFiles: [String] = []
    public var identitiesOnly: Bool?
    public var identityAgent: String?
    public var certificateFiles: [String] = []
    /// A jump list (`ProxyJump none` sets `jumpDisabled` instead).
    public var proxyJump: String?
    public var jumpDisabled = false
    public var proxyCommand: String?
    public var userKnownHostsFiles: [String]?
    public var globalKnownHostsFiles: [String]?
    public var strictHostKeyChecking: StrictHostKeyChecking?
    public var hostKeyAlias: String?
    /// Seconds (`none` leaves it unset, as in ssh).
    public var connectTimeout: Int?
    public var serverAliveInterval: Int?
    public var serverAliveCountMax: Int?
    /// Security-relevant keywords the tool does not honour, each as `Keyword (file line N)`.
    public var unsupported: [String] = []
    /// Where each value set came from, by lowercase keyword: `file line N` (a list keyword names
    /// every line that added to it). `doctor` shows them.
    public var origins: [String: String] = [:]

    public init(originalHost: String) { self.originalHost = originalHost }

    /// One hop of a `ProxyJump` list: `[user@]host[:port]` or `ssh://[user@]host[:port]`, an IPv6
    /// host in brackets.
    public struct JumpHop: Sendable, Equatable {
        public var user: String?
        public var host: String
        public var port: Int?

        public init(user: String? = nil, host: String, port: Int? = nil) {
            self.user = user
            self.host = host
            self.port = port
        }
    }

    /// `proxyJump`'s hops, the first connected to first (the list was checked when it was read:
    /// `SSHConfigResolver.isValidJumpList`).
    public var jumpHops: [JumpHop] {
        guard let proxyJump else { return [] }
        return proxyJump.split(separator: ",").map { text in
            var rest = text.hasPrefix("ssh://") ? text.dropFirst(6) : Substring(text)
            var hop = JumpHop(host: "")
            if let at = rest.lastIndex(of: "@") {
                hop.user = String(rest[..<at])
                rest = rest[rest.index(after: at)...]
            }
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                hop.host = String(rest[rest.index(after: rest.startIndex)..<close])
                rest = rest[rest.index(after: close)...]
            } else {
                let end = rest.firstIndex(of: ":") ?? rest.endIndex
                hop.host = String(rest[..<end])
                rest = rest[end...]
            }
            if rest.hasPrefix(":") { hop.port = Int(rest.dropFirst()) }
            return hop
        }
    }

    /// The name connected to: `HostName` (already `%h`-expanded), else the destination lowercased.
    public var effectiveHostName: String {
        hostName ?? String(decoding: originalHost.utf8.map(HostPatterns.lowercased), as: UTF8.self)
    }
}
