/// The local `last_chain.json` marker that `chain` writes and status/supervise read (§4.8).
public struct Marker: Sendable, Equatable {
    public var object: JSONObject

    public init(_ object: JSONObject) { self.object = object }

    /// `~/.megaplan/cloud/markers/<K>/`, K = first 16 hex characters of SHA-256 of the resolved
    /// cloud.yaml path.
    public static func directory(forCloudYAML resolvedPath: String, home: String = FileSystem.homeDirectory())
        -> String
    {
        StateDirectory(home: home).markerDirectory(forCloudYAML: resolvedPath)
    }

    public static func path(forCloudYAML resolvedPath: String, home: String = FileSystem.homeDirectory())
        -> String
    {
        path(forCloudYAML: resolvedPath, state: StateDirectory(home: home))
    }

    public static func path(forCloudYAML resolvedPath: String, state: StateDirectory) -> String {
        state.markerDirectory(forCloudYAML: resolvedPath) + "/last_chain.json"
    }

    /// A missing, unreadable, invalid or non-object marker counts as no marker.
    public static func read(forCloudYAML resolvedPath: String, home: String = FileSystem.homeDirectory())
        -> Marker?
    {
        read(forCloudYAML: resolvedPath, state: StateDirectory(home: home))
    }

    public static func read(forCloudYAML resolvedPath: String, state: StateDirectory) -> Marker? {
        guard let text = FileSystem.readText(path(forCloudYAML: resolvedPath, state: state), limit: 4 << 20),
            case .object(let object)? = try? JSONValue.parse(text)
        else { return nil }
        return Marker(object)
    }

    /// Written atomically with mode 0600 in a private directory (every directory below `home`
    /// checked by `FileSystem.secureDirectory`): it records remote paths and hosts.
    public func write(forCloudYAML resolvedPath: String, home: String = FileSystem.homeDirectory())
        throws(FleetError)
    {
        let directory = Self.directory(forCloudYAML: resolvedPath, home: home)
        try FileSystem.secureDirectory(directory, below: home)
        try FileSystem.writeAtomically(
            directory + "/last_chain.json", text: JSONValue.object(object).serialized(.pretty) + "\n",
            mode: 0o600)
    }

    public var remoteSpec: String? { nonBlankString("remote_spec") }
    public var workspace: String? { nonBlankString("workspace") }
    public var chainSession: String? { nonBlankString("chain_session") }
    public var provider: String? { object["provider"]?.stringValue }
    public var providerIdentity: String? { object["provider_identity"]?.stringValue }
    public var extraRepos: [JSONValue]? { object["extra_repos"]?.arrayValue }

    private func nonBlankString(_ key: String) -> String? {
        guard let value = object[key]?.stringValue, !value.isBlank else { return nil }
        return value
    }
}
