import FleetCore

/// The hostile-input checks shared by the libFuzzer driver (`fuzz-fleetcore`) and the corpus replay
/// test (`FuzzCorpusTests`). Each target feeds one input to a reader or a command builder and checks what it
/// promises: no crash (a crash is caught by the fuzzer or fails the test process), every rejection
/// is a `FleetError` with a known code and a clear one-line message, and what is accepted
/// survives its own serialization.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `CloudSpec.parse` (cloud.yaml).
    case cloud
    /// `ChainSpec.parse` (chain spec YAML).
    case chain
    /// `FleetFile.parse` (fleet.yaml).
    case fleet
    /// `ChainState.parse` (the runner's chain_state.json).
    case state
    /// `JSONValue.parse` / `serialized` round trip, `ShellQuote.quote`, `pythonRepr`.
    case json
    /// `Redactor.redact`; the input names the secrets (see `RedactorInput`).
    case redact
    /// Every remote command builder, with the input's NUL-separated values in every field (see
    /// `RemoteCommandTemplate`).
    case commands
    /// `KnownHosts.parse` and `verdict` (an OpenSSH known_hosts file).
    case knownhosts
}

public enum FuzzHarness {
    /// Runs `data` through `target` and returns every broken invariant (empty when all hold).
    public static func check(_ target: FuzzTarget, _ data: [UInt8]) -> [String] {
        var findings = Findings()
        let text = String(decoding: data, as: UTF8.self)
        switch target {
        case .cloud: checkCloud(text, &findings)
        case .chain: checkChain(text, &findings)
        case .fleet: checkFleet(text, &findings)
        case .state: checkState(text, &findings)
        case .json: checkJSON(text, &findings)
        case .redact: checkRedactor(RedactorInput(text), &findings)
        case .commands: checkRemoteCommands(data, &findings)
        case .knownhosts: checkKnownHosts(data, &findings)
        }
        return findings.items
    }

    /// Every target on the same input: what the corpus replay runs, so each parser also sees the
    /// other parsers' inputs.
    public static func checkAll(_ data: [UInt8]) -> [String] {
        FuzzTarget.allCases.flatMap { target in check(target, data).map { "[\(target)] \($0)" } }
    }

    /// The path the YAML parsers are given: absolute and not existing, so relative `cloud_yaml`
    /// entries of a fleet file resolve under a directory with nothing in it.
    public static let yamlPath = "/nonexistent/megaplan-fuzz/input.yaml"
}

struct Findings {
    var items: [String] = []

    mutating func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { items.append(message()) }
    }
}

// MARK: - Errors

extension FuzzHarness {
    /// "Every rejection is a clear error": a known code, a non-blank message on one line (only
    /// `missing_idea_file` is documented as multi-line) with no raw control character, and for the
    /// YAML readers, a message that starts with the file it is about.
    static func checkRejection(
        _ error: FleetError, codes: [FleetError.Code], prefix: String?, _ findings: inout Findings
    ) {
        let shown = String(reflecting: error.message)
        findings.expect(codes.contains(error.code), "unexpected error code \(error.code): \(shown)")
        findings.expect(!error.message.isBlank, "blank error message for \(error.code)")
        if error.code != .missingIdeaFile {
            findings.expect(
                !error.message.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }),
                "multi-line error message: \(shown)")
        }
        findings.expect(
            !error.message.unicodeScalars.contains(where: {
                $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F
            }),
            "raw control character in error message: \(shown)")
        if let prefix {
            findings.expect(error.message.hasPrefix(prefix), "error message does not name the file: \(shown)")
        }
    }
}

// MARK: - YAML models

extension FuzzHarness {
    static func checkCloud(_ text: String, _ findings: inout Findings) {
        let spec: CloudSpec
        do {
            spec = try CloudSpec.parse(text: text, path: yamlPath)
        } catch {
            checkRejection(error, codes: [.invalidSpec, .futureProvider], prefix: yamlPath, &findings)
            return
        }
        findings.expect(spec.path == yamlPath, "spec path changed: \(spec.path)")
        findings.expect(spec.repo.workspace.hasPrefix("/"), "relative repo.workspace accepted")
        findings.expect(!spec.repo.url.isBlank, "blank repo.url accepted")
        findings.expect((spec.mode == .auto) == (spec.auto != nil), "auto block does not match mode")
        findings.expect((spec.mode == .chain) == (spec.chain != nil), "chain block does not match mode")
        if spec.provider == .ssh {
            findings.expect(
                spec.ssh.map { $0.port > 0 && $0.remoteDir.hasPrefix("/") } ?? false, "bad ssh block")
        }
        if let chain = spec.chain {
            findings.expect(chain.spec.hasPrefix("/"), "relative chain.spec accepted")
        }
        checkRoundTrip(spec.normalizedJSON, what: "cloud spec normalized JSON", &findings)
    }

    static func checkChain(_ text: String, _ findings: inout Findings) {
        let spec: ChainSpec
        do {
            spec = try ChainSpec.parse(text: text, path: yamlPath)
        } catch {
            checkRejection(error, codes: [.invalidSpec], prefix: yamlPath, &findings)
            return
        }
        for milestone in spec.milestones {
            findings.expect(
                !milestone.label.isBlank && !milestone.idea.isBlank, "milestone without label or idea")
        }
        findings.expect(!spec.baseBranch.isBlank, "blank base_branch accepted")
        checkRoundTrip(spec.normalizedJSON, what: "chain spec normalized JSON", &findings)
    }

    static func checkFleet(_ text: String, _ findings: inout Findings) {
        let fleet: FleetFile
        do {
            fleet = try FleetFile.parse(text: text, path: yamlPath)
        } catch {
            checkRejection(error, codes: [.invalidFleet], prefix: yamlPath, &findings)
            return
        }
        // Every project must name an existing cloud.yaml, which the fuzzer can only reach through
        // absolute paths of regular files on this machine; what is accepted must still be sound.
        var names: Set<String> = []
        for project in fleet.projects {
            findings.expect(names.insert(project.name).inserted, "duplicate project \(project.name) accepted")
            findings.expect(project.cloudYAML.hasPrefix("/"), "relative cloud_yaml path kept")
        }
        findings.expect(fleet.defaults.concurrency > 0 && fleet.defaults.perHost > 0, "non-positive limit")
        findings.expect(
            fleet.defaults.deadlineSeconds > 0 && fleet.defaults.deadlineSeconds.isFinite,
            "bad deadline accepted")
    }
}

// MARK: - Chain state and JSON

extension FuzzHarness {
    static func checkState(_ text: String, _ findings: inout Findings) {
        let state: ChainState
        do {
            state = try ChainState.parse(text)
        } catch {
            checkRejection(error, codes: [.providerFailed], prefix: "Remote chain state", &findings)
            return
        }
        // The normalized state reads back as itself.
        let normalized = state.json
        guard let object = normalized.objectValue else {
            findings.expect(false, "normalized state is not an object")
            return
        }
        do {
            let again = try ChainState(object)
            findings.expect(
                again.json.serialized() == normalized.serialized(),
                "normalizing twice changed the state: \(normalized.serialized()) -> \(again.json.serialized())"
            )
        } catch {
            findings.expect(false, "normalized state rejected: \(error)")
        }
        checkRoundTrip(normalized, what: "chain state", &findings)
    }

    static func checkJSON(_ text: String, _ findings: inout Findings) {
        checkText(text, &findings)
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            findings.expect(
                !error.detail.isEmpty && !error.detail.contains("\n"), "bad parse error: \(error)")
            return
        }
        checkRoundTrip(value, what: "JSON", &findings)
        // With a transform, every key and string value passes through it before escaping.
        let upper: @Sendable (String) -> String = { "<" + $0 + ">" }
        let transformed = value.serialized(transform: upper)
        if let back = try? JSONValue.parse(transformed) {
            findings.expect(
                back == canonical(value, strings: upper),
                "transform not applied to every string: \(transformed)")
        } else {
            findings.expect(false, "transformed output does not parse: \(transformed)")
        }
        for string in strings(in: value).prefix(64) { checkText(string, &findings) }
    }

    /// Serialized (compact and pretty) and parsed back, a value is itself with non-finite numbers
    /// read as null (they are written as `null`); output is ASCII without control characters except
    /// the pretty form's newlines; and serializing what was read back gives the same text.
    static func checkRoundTrip(_ value: JSONValue, what: String, _ findings: inout Findings) {
        let expected = canonical(value)
        for style in [JSONStyle.compact, .pretty] {
            let text = value.serialized(style)
            findings.expect(
                text.unicodeScalars.allSatisfy { ($0.value >= 0x20 && $0.value < 0x7F) || $0 == "\n" },
                "\(what): \(style) output is not printable ASCII: \(text.debugDescription)")
            findings.expect(
                style == .pretty || !text.contains("\n"), "\(what): compact output spans lines")
            do {
                let back = try JSONValue.parse(text)
                findings.expect(back == expected, "\(what): \(style) round trip changed the value: \(text)")
                findings.expect(
                    back.serialized(style) == text, "\(what): serialization is not a fixed point: \(text)")
            } catch {
                findings.expect(false, "\(what): own \(style) output does not parse (\(error)): \(text)")
            }
        }
    }

    /// What a value reads back as: non-finite doubles become null, strings pass through `strings`.
    static func canonical(_ value: JSONValue, strings transform: (String) -> String = { $0 }) -> JSONValue {
        switch value {
        case .double(let number) where !number.isFinite: return .null
        case .string(let text): return .string(transform(text))
        case .array(let items): return .array(items.map { canonical($0, strings: transform) })
        case .object(let object):
            var result = JSONObject()
            for (key, item) in object.entries { result[transform(key)] = canonical(item, strings: transform) }
            return .object(result)
        default: return value
        }
    }

    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): return [text]
        case .array(let items): return items.flatMap(strings(in:))
        case .object(let object): return object.entries.flatMap { [$0.key] + strings(in: $0.value) }
        default: return []
        }
    }

    /// `ShellQuote.quote` reads back as its input under POSIX `sh` quoting rules and leaves no unsafe
    /// character unquoted; `pythonRepr` prints no raw control character.
    static func checkText(_ text: String, _ findings: inout Findings) {
        let quoted = ShellQuote.quote(text)
        let unquoted = shellUnquote(quoted)
        findings.expect(
            unquoted.map { $0.elementsEqual(text.unicodeScalars) } ?? false,
            "shell quoting does not read back: \(text.debugDescription) -> \(quoted.debugDescription)")
        let repr = pythonRepr(text)
        findings.expect(
            !repr.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
            "pythonRepr leaks a control character: \(repr.debugDescription)")
    }

    /// The word a POSIX shell reads from `word` (single quotes, double quotes around `'`, and bare
    /// characters from shlex's safe set only), or nil when `word` is not of that form.
    static func shellUnquote(_ word: String) -> [Unicode.Scalar]? {
        let scalars = Array(word.unicodeScalars)
        var out: [Unicode.Scalar] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "'" || scalar == "\"" {
                guard let close = scalars[(index + 1)...].firstIndex(of: scalar) else { return nil }
                let inner = scalars[(index + 1)..<close]
                // Inside double quotes `$`, `` ` ``, `\` and `!` would still be special.
                if scalar == "\"", inner.contains(where: { "$`\\!".unicodeScalars.contains($0) }) {
                    return nil
                }
                out.append(contentsOf: inner)
                index = close + 1
            } else {
                let safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-"
                guard safe.unicodeScalars.contains(scalar) else { return nil }
                out.append(scalar)
                index += 1
            }
        }
        return word.isEmpty ? nil : out
    }
}
