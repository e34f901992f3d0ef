import FleetCore

/// The digest of the chain spec text that the last tick of a chain parsed, kept next to the tick
/// lock. A folded tick (observe, refresh and re-read in one command) must not refresh a chain whose
/// status read then fails, and only the client can parse a spec: the runner folds the refresh in
/// only when the spec it reads still has this digest, so a new or edited spec costs one tick of two
/// commands before ticks are one command again.
struct ValidatedSpec: Equatable {
    var spec: String
    var sha256: String

    init(spec: String, text: String) {
        self.spec = spec
        sha256 = Digest.sha256Hex(text)
    }

    /// The digest recorded for `spec` at `path`, if any.
    static func digest(at path: String, spec: String) -> String? {
        guard let text = FileSystem.readText(path),
            let object = (try? JSONValue.parse(text))?.objectValue,
            object["spec"]?.stringValue == spec
        else { return nil }
        return object["sha256"]?.stringValue
    }

    /// Records the digest atomically; a failure only costs the next tick its fold.
    func save(at path: String) {
        let json: JSONValue = ["spec": .string(spec), "sha256": .string(sha256)]
        try? FileSystem.writeAtomically(path, text: json.serialized() + "\n", mode: 0o600)
    }
}
