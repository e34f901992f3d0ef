/// The one error type users see: a stable machine-readable code (the reference's envelope codes,
/// §0.4 of the cloud reference) and a one-line message that names what to fix.
public struct FleetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable error codes. Raw values are part of the JSON interface.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidSpec = Code(rawValue: "invalid_spec")
        public static let futureProvider = Code(rawValue: "future_provider")
        public static let invalidArgs = Code(rawValue: "invalid_args")
        public static let providerUnavailable = Code(rawValue: "provider_unavailable")
        public static let providerFailed = Code(rawValue: "provider_failed")
        public static let missingIdeaFile = Code(rawValue: "missing_idea_file")
        public static let cloudPreflightFailed = Code(rawValue: "cloud_preflight_failed")
        public static let agentDepsMissing = Code(rawValue: "agent_deps_missing")
        public static let missingRemoteSpec = Code(rawValue: "missing_remote_spec")
        public static let invalidStatus = Code(rawValue: "invalid_status")
        public static let missingSecrets = Code(rawValue: "missing_secrets")
        public static let railwayServiceMissing = Code(rawValue: "railway_service_missing")
        public static let unknownProfile = Code(rawValue: "unknown_profile")
        public static let invalidFleet = Code(rawValue: "invalid_fleet")
        public static let ioError = Code(rawValue: "io_error")
        /// An OpenSSH client configuration file ssh_config(5) would reject, or one the tool refuses.
        public static let invalidSSHConfig = Code(rawValue: "invalid_ssh_config")
    }

    /// The `error_kind` a fleet line reports, exactly the README's "Error kinds" table: a closed
    /// set consumers match on, so it is an enum and a new kind is a documented change.
    public enum Kind: String, Sendable, CaseIterable {
        case unreachable
        case timeout
        case hostKeyChanged = "host_key_changed"
        case hostKeyRevoked = "host_key_revoked"
        case hostKeyUnknown = "host_key_unknown"
        case authFailed = "auth_failed"
        case remoteError = "remote_error"
        case restartFailed = "restart_failed"
        case invalidConfig = "invalid_config"
        case locked
    }

    public var code: Code
    public var message: String
    /// Keys merged at the top level of the JSON error envelope (for example `tried_paths`).
    public var extra: JSONObject
    /// The kind the failure itself knows (a transport fault, a deadline); see `lineKind`.
    public var kind: Kind?

    public init(_ code: Code, _ message: String, extra: JSONObject = [:], kind: Kind? = nil) {
        self.code = code
        self.message = message
        self.extra = extra
        self.kind = kind
    }

    public var description: String { "\(code): \(message)" }

    /// The kind a fleet line reports: the failure's own, else a spec or provider the project
    /// cannot use is `invalid_config` and anything else the runner answered is `remote_error`.
    public var lineKind: Kind {
        if let kind { return kind }
        switch code {
        case .invalidSpec, .missingRemoteSpec, .futureProvider, .providerUnavailable: return .invalidConfig
        default: return .remoteError
        }
    }

    /// The reference's error envelope: `{"success": false, "error", "message", ...extra}` (§0.4).
    public var envelope: JSONValue {
        var object: JSONObject = [
            "success": false, "error": .string(code.rawValue), "message": .string(message),
        ]
        for (key, value) in extra.entries { object[key] = value }
        return .object(object)
    }
}
