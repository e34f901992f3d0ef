/// An OpenSSH known_hosts file as data, and the decision it gives for a host's key. Pure (no
/// files, no libssh2 session), so it is unit-tested, fuzzed (`FuzzTarget.knownhosts`) and compared
/// with `ssh-keygen -F`; `SSHKnownHosts` in SSHClient reads and writes the file around it.
public struct KnownHosts: Sendable {
    public enum Marker: String, Sendable {
        case none
        /// `@revoked`: this key must never be accepted.
        case revoked
        /// `@cert-authority`: a CA that signs host certificates for the hosts it names.
        case certAuthority = "cert-authority"
    }

    /// One readable line.
    public struct Entry: Sendable, Equatable {
        /// 1-based line number in the file.
        public var line: Int
        public var marker: Marker
        /// The host field as written: a pattern list, or one hashed name (`|1|salt|hash`).
        public var hosts: [UInt8]
        /// The key type name (`ssh-ed25519`, `ecdsa-sha2-nistp256`, ...).
        public var keyType: String
        /// The decoded public-key blob.
        public var key: [UInt8]

        public func names(_ hostField: String) -> Bool {
            HostPatterns.fieldMatches(hosts, hostField: hostField)
        }
    }

    /// What the file says about a presented key.
    public enum Verdict: Sendable, Equatable {
        /// A plain entry naming the host has this key.
        case known(Entry)
        /// Entries name the host, none with this key; `recorded` is the first of them.
        case changed(recorded: Entry)
        /// An `@revoked` line has this key (whatever hosts that line names).
        case revoked(Entry)
        /// Only `@cert-authority` lines name the host (the first is given): host certificates
        /// cannot be verified here, and the plain key must not be recorded silently.
        case certAuthorityOnly(Entry)
        /// Nothing names the host.
        case unknown
    }

    public var entries: [Entry]
    /// Line numbers of lines that are neither blank, comments nor readable entries (OpenSSH skips
    /// them too).
    public var invalidLines: [Int]

    public init(entries: [Entry] = [], invalidLines: [Int] = []) {
        self.entries = entries
        self.invalidLines = invalidLines
    }

    /// The decision for `key` presented by `host` on `port`, as OpenSSH's ssh decides it: the
    /// `[host]:port` name first (plain `host` on port 22); when that finds nothing (or only
    /// `@cert-authority` lines) on another port, the plain `host` name may still know this very key
    /// (sshconnect.c's "checking without port identifier"): only a match counts there, never a
    /// change.
    public func verdict(host: String, port: Int, key: [UInt8]) -> Verdict {
        let verdict = verdict(hostField: HostPatterns.hostField(host: host, port: port), key: key)
        guard port != 22 else { return verdict }
        switch verdict {
        case .unknown, .certAuthorityOnly:
            let portless = self.verdict(hostField: HostPatterns.hostField(host: host, port: 22), key: key)
            if case .known = portless { return portless }
            return verdict
        case .known, .changed, .revoked:
            return verdict
        }
    }

    /// The decision for `key` (a wire-format public-key blob) presented by `hostField` (see
    /// `HostPatterns.hostField`). As OpenSSH's hostfile.c: a revoked key is refused first; then a
    /// plain entry for the host with the same key accepts it, and any other plain entry for the
    /// host (of any key type) makes it a changed key. Stricter than OpenSSH: an `@revoked` key is
    /// refused for every host, not only those its line names.
    public func verdict(hostField: String, key: [UInt8]) -> Verdict {
        if let revoked = entries.first(where: { $0.marker == .revoked && $0.key == key }) {
            return .revoked(revoked)
        }
        var firstRecorded: Entry?
        var firstAuthority: Entry?
        for entry in entries where entry.marker != .revoked && entry.names(hostField) {
            switch entry.marker {
            case .none:
                if entry.key == key { return .known(entry) }
                if firstRecorded == nil { firstRecorded = entry }
            case .certAuthority:
                if firstAuthority == nil { firstAuthority = entry }
            case .revoked:
                break
            }
        }
        if let firstRecorded { return .changed(recorded: firstRecorded) }
        if let firstAuthority { return .certAuthorityOnly(firstAuthority) }
        return .unknown
    }

    /// The line `accept-new` appends: plain host field, key type, base64 blob.
    public static func line(hostField: String, key: [UInt8]) -> String? {
        guard let type = SSHKeyBlob.typeName(key) else { return nil }
        return "\(hostField) \(type) \(Base64.encode(key))\n"
    }

    /// OpenSSH's `SHA256:<base64 without padding>` fingerprint of a key blob.
    public static func fingerprint(_ key: [UInt8]) -> String {
        var text = Base64.encode(Digest.sha256(key))
        while text.hasSuffix("=") { text.removeLast() }
        return "SHA256:" + text
    }
}

// MARK: - Reading

extension KnownHosts {
    /// Reads every line as OpenSSH's hostkeys_foreach does: lines end at `\n` (a `\r` before it is
    /// dropped), a line ends at a NUL byte, fields are separated by spaces and tabs, an optional
    /// `@cert-authority` or `@revoked` marker comes first, then hosts, key type, base64 key and an
    /// optional comment. Unreadable lines are listed in `invalidLines`, never fatal.
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> KnownHosts {
        var result = KnownHosts()
        var number = 0
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var line = Array(rawLine.prefix { $0 != 0 })
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            switch parseLine(line, number: number) {
            case .blank: break
            case .invalid: result.invalidLines.append(number)
            case .entry(let entry): result.entries.append(entry)
            }
        }
        return result
    }

    enum Line {
        case blank
        case invalid
        case entry(Entry)
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    static func parseLine(_ line: [UInt8], number: Int) -> Line {
        var index = line.firstIndex { !isBlank($0) } ?? line.count
        if index == line.count || line[index] == UInt8(ascii: "#") { return .blank }
        guard let marker = readMarker(line, &index) else { return .invalid }
        let hostsEnd = line[index...].firstIndex(where: isBlank) ?? line.count
        let hosts = Array(line[index..<hostsEnd])
        index = line[hostsEnd...].firstIndex { !isBlank($0) } ?? line.count
        guard index < line.count, line[index] != UInt8(ascii: "#") else { return .invalid }
        let typeEnd = line[index...].firstIndex(where: isBlank) ?? line.count
        // Key type names are printable ASCII (and are shown in messages).
        guard line[index..<typeEnd].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .invalid }
        let type = String(decoding: line[index..<typeEnd], as: UTF8.self)
        index = line[typeEnd...].firstIndex { !isBlank($0) } ?? line.count
        let keyEnd = line[index...].firstIndex(where: isBlank) ?? line.count
        guard let key = Base64.decode(line[index..<keyEnd]), SSHKeyBlob.isWellFormed(key, type: type) else {
            return .invalid
        }
        return .entry(Entry(line: number, marker: marker, hosts: hosts, keyType: type, key: key))
    }

    /// `@cert-authority` or `@revoked`, ending at the first space or tab; only one marker; an
    /// unknown marker makes the line invalid. OpenSSH ends a marker at the first space of the line
    /// (a tab only when the line has no space), so it ignores `@revoked<TAB>host key comment`;
    /// here that line counts, failing closed.
    static func readMarker(_ line: [UInt8], _ index: inout Int) -> Marker? {
        guard line[index] == UInt8(ascii: "@") else { return Marker.none }
        guard let end = line[index...].firstIndex(where: isBlank) else { return nil }
        let marker: Marker
        switch String(decoding: line[index..<end], as: UTF8.self) {
        case "@cert-authority": marker = .certAuthority
        case "@revoked": marker = .revoked
        default: return nil
        }
        index = line[end...].firstIndex { !isBlank($0) } ?? line.count
        if index < line.count, line[index] == UInt8(ascii: "@") { return nil }
        return marker
    }
}

/// The SSH wire format of a public key (RFC 4253 §6.6): length-prefixed strings, the first the
/// key type name.
public enum SSHKeyBlob {
    /// The key type name a blob starts with.
    public static func typeName(_ blob: [UInt8]) -> String? {
        var reader = Reader(blob)
        return reader.string().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `blob` is a key of `type`: its first string is `type`, and for the types libssh2
    /// can present, the fields are complete with nothing after them (as OpenSSH's decoder
    /// requires). Certificates and other types are checked by their name only.
    static func isWellFormed(_ blob: [UInt8], type: String) -> Bool {
        var reader = Reader(blob)
        guard let name = reader.string(), name.elementsEqual(type.utf8) else { return false }
        let fields: Int
        switch type {
        case "ssh-ed25519":
            guard let point = reader.string(), point.count == 32 else { return false }
            fields = 0
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            guard let curve = reader.string(), Array("ecdsa-sha2-".utf8) + curve == Array(type.utf8) else {
                return false
            }
            fields = 1
        case "ssh-rsa": fields = 2
        case "ssh-dss": fields = 4
        default: return !type.isEmpty
        }
        for _ in 0..<fields { guard reader.string() != nil else { return false } }
        return reader.atEnd
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func string() -> ArraySlice<UInt8>? {
            guard bytes.count - index >= 4 else { return nil }
            let length = bytes[index..<index + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= bytes.count - index - 4 else { return nil }
            defer { index += 4 + length }
            return bytes[index + 4..<index + 4 + length]
        }
    }
}
