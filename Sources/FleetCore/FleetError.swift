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

    public var code: Code
    public var message: String
    /// Keys merged at the top level of the JSON error envelope (for example `tried_paths`).
    public var extra: JSONObject
    /// For failures to reach a runner: the stable kind a fleet line reports (`unreachable`,
    /// `auth_failed`, `host_key_changed`, `host_key_revoked`, `host_key_unknown`, `timeout`, ...).
    public var kind: String?

    public init(_ code: Code, _ message: String, extra: JSONObject = [:], kind: String? = nil) {
        self.code = code
        self.message = message
        self.extra = extra
        self.kind = kind
    }

    public var description: String { "\(code): \(message)" }

    /// The reference's error envelope: `{"success": false, "error", "message", ...extra}` (§0.4).
    public var envelope: JSONValue {
        var object: JSONObject = [
            "success": false, "error": .string(code.rawValue), "message": .string(message),
        ]
        for (key, value) in extra.entries { object[key] = value }
        return .object(object)
    }
}
