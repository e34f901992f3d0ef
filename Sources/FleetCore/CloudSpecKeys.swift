/// The keys of cloud.yaml this tool and the reference read. The reference ignores every other
/// key silently (§2.1), and so does this tool, but a typo such as `identity_fil:` under `ssh:`
/// would then pass unnoticed: each unknown key gets a one-line warning naming it, the file and
/// the line. `agents` is not listed: its unknown keys are already errors.
extension CloudSpec {
    static let knownKeys: [String: [String]] = [
        "": [
            "provider", "repo", "codex", "mode", "agents", "megaplan", "resources", "railway", "local", "ssh",
            "auto", "chain", "extra_repos", "secrets", "toolchains",
        ],
        "repo": ["url", "branch", "workspace"],
        "codex": ["model", "reasoning"],
        "megaplan": ["ref"],
        "resources": ["volume", "port"],
        "railway": ["service", "session", "project", "environment"],
        "local": ["compose_project", "workdir"],
        "ssh": ["host", "user", "port", "identity_file", "remote_dir", "container", "runtime"],
        "auto": ["plan_name", "idea_file", "robustness"],
        "chain": ["spec", "chain_session"],
        "toolchains[]": ["name", "install"],
    ]

    /// Longest key quoted in a warning: a key is not a place for a long text, and a warning
    /// stays one short line whatever the file holds.
    static let quotedKeyLimit = 64

    /// One warning per unknown key, in file order, each naming the file, line and column. Keys
    /// are quoted as Python would (control characters escaped) and cut; the line is redacted
    /// when printed (`Diagnostics.warn`), so a secret pasted as a key does not reach stderr.
    static func unknownKeyWarnings(_ reader: YAMLReader) -> [String] {
        guard let top = reader.root?.mapping else { return [] }
        var warnings: [(line: Int, column: Int, text: String)] = []
        func check(_ mapping: YAMLNode.Mapping, section: String, label: String) {
            let known = knownKeys[section] ?? []
            for (key, _) in mapping {
                if let name = key.stringScalar, known.contains(name) { continue }
                let shown = key.scalarText.map { pythonRepr(TextCut.excerpt($0, limit: quotedKeyLimit)) }
                let place = label.isEmpty ? "at the top level" : "under `\(label)`"
                warnings.append(
                    (
                        key.mark?.line ?? 0, key.mark?.column ?? 0,
                        "\(reader.location(of: key)): unknown key \(shown ?? "(not a string)") \(place) is ignored; known keys: \(known.joined(separator: ", "))"
                    ))
            }
        }
        check(top, section: "", label: "")
        for section in knownKeys.keys.sorted() where !section.isEmpty && section != "toolchains[]" {
            if let mapping = top.value(for: section)?.mapping {
                check(mapping, section: section, label: section)
            }
        }
        for (index, item) in (top.value(for: "toolchains")?.sequence ?? []).enumerated() {
            if let mapping = item.mapping {
                check(mapping, section: "toolchains[]", label: "toolchains[\(index)]")
            }
        }
        return warnings.sorted { ($0.line, $0.column) < ($1.line, $1.column) }.map(\.text)
    }
}
