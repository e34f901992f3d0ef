import FleetCore

/// Which projects of a fleet file a run covers: names, tags and a stable shard.
public struct FleetSelection: Sendable, Equatable {
    public var names: [String] = []
    public var tags: [String] = []
    public var shard: Shard?

    public init(names: [String] = [], tags: [String] = [], shard: Shard? = nil) {
        self.names = names
        self.tags = tags
        self.shard = shard
    }

    /// `K/N` with 0 ≤ K < N: the projects whose name hashes to K modulo N. The split depends on
    /// the name alone, so shards stay disjoint and complete on any machine and in any order.
    public struct Shard: Sendable, Equatable {
        public var index: Int
        public var count: Int

        public init(index: Int, count: Int) throws(FleetError) {
            guard count > 0, index >= 0, index < count else {
                throw FleetError(.invalidArgs, "--shard must be K/N with 0 <= K < N; got \(index)/\(count)")
            }
            self.index = index
            self.count = count
        }

        public init(parsing text: String) throws(FleetError) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
                throw FleetError(
                    .invalidArgs, "--shard must be K/N (for example 0/4); got \(pythonRepr(text))")
            }
            try self.init(index: index, count: count)
        }

        public func contains(_ name: String) -> Bool {
            let digest = Digest.sha256Hex(name)
            let value = UInt64(digest.prefix(15), radix: 16) ?? 0
            return Int(value % UInt64(count)) == index
        }
    }

    /// The selected projects in file order; naming a project the file lacks is an error.
    public func apply(to file: FleetFile) throws(FleetError) -> [FleetFile.Project] {
        let known = Set(file.projects.map(\.name))
        if let unknown = names.first(where: { !known.contains($0) }) {
            throw FleetError(.invalidArgs, "--project \(pythonRepr(unknown)) is not in \(file.path)")
        }
        return file.projects.filter { project in
            (names.isEmpty || names.contains(project.name))
                && (tags.isEmpty || !Set(tags).isDisjoint(with: project.tags))
                && (shard?.contains(project.name) ?? true)
        }
    }
}

/// A tick's identifier: time plus randomness, unique enough to join lines of one run.
public enum TickID {
    public static func make() -> String {
        let time = Timestamp.format(Timestamp.wallClock(), microseconds: false)
            .replacingAll("-", with: "").replacingAll(":", with: "").replacingAll("+0000", with: "Z")
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "t-\(time)-\(String(repeating: "0", count: 8 - random.count))\(random)"
    }
}

/// Where the fleet lock of a fleet file (and shard) lives: one `tick` at a time per share.
public enum FleetLockPath {
    public static func path(
        fleetFile: String, shard: FleetSelection.Shard?, home: String = FileSystem.homeDirectory()
    ) -> String {
        path(fleetFile: fleetFile, shard: shard, state: StateDirectory(home: home))
    }

    public static func path(fleetFile: String, shard: FleetSelection.Shard?, state: StateDirectory) -> String
    {
        let key = String(Digest.sha256Hex(fleetFile).prefix(16))
        let suffix = shard.map { "-shard\($0.index)of\($0.count)" } ?? ""
        return "\(state.fleetLocks)/\(key)\(suffix).lock"
    }
}
