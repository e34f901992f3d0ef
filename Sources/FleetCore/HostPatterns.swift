/// Host-name matching with OpenSSH's known_hosts rules (match.c, hostfile.c), on bytes as OpenSSH
/// compares them: comma-separated pattern lists with `*` and `?`, `!` negation, ASCII-only
/// case folding, and hashed `|1|salt|hash` names.
public enum HostPatterns {
    /// How a pattern list relates to a host name.
    public enum ListMatch: Sendable, Equatable {
        /// No subpattern matched (or a subpattern was too long: OpenSSH then gives up on the line).
        case none
        /// A positive subpattern matched and no negated one did.
        case matched
        /// A negated subpattern (`!pattern`) matched: the line is excluded whatever else matches.
        case negated
    }

    /// OpenSSH's buffer for one subpattern holds 1023 bytes; a subpattern that long or longer makes
    /// the whole list fail to match.
    static let subpatternLimit = 1023

    /// The host field OpenSSH looks up for a destination: `host` on port 22, else `[host]:port`,
    /// with the name in lower case (ssh lowercases the destination it was given).
    public static func hostField(host: String, port: Int) -> String {
        let lower = String(decoding: Array(host.utf8).map(lowercased), as: UTF8.self)
        return port == 22 ? lower : "[\(lower)]:\(port)"
    }

    /// Whether a known_hosts host field (a pattern list, or one hashed name) names `hostField`.
    public static func fieldMatches<Field: Collection<UInt8>>(_ field: Field, hostField: String) -> Bool {
        let host = Array(hostField.utf8).map(lowercased)
        if field.first == UInt8(ascii: "|") { return hashedMatches(Array(field), host: host) }
        return matchList(Array(field), host: host) == .matched
    }

    /// `pattern,!pattern,...` against an already lowercased host, in order: a negated match ends the
    /// search at once, an over-long subpattern makes the whole list not match. `foldCase: false`
    /// compares subpatterns as written (ssh_config's `Match user`).
    public static func matchList(_ list: [UInt8], host: [UInt8], foldCase: Bool = true) -> ListMatch {
        var positive = false
        var index = 0
        while index < list.count {
            var negated = false
            if list[index] == UInt8(ascii: "!") {
                negated = true
                index += 1
            }
            var end = index
            while end < list.count, list[end] != UInt8(ascii: ",") { end += 1 }
            if end - index >= subpatternLimit { return .none }
            let subpattern = foldCase ? list[index..<end].map(lowercased) : Array(list[index..<end])
            index = end < list.count ? end + 1 : end
            if glob(subpattern, host) {
                if negated { return .negated }
                positive = true
            }
        }
        return positive ? .matched : .none
    }

    /// `*` (any run of bytes) and `?` (any one byte); everything else literal. Iterative with one
    /// backtrack point, so a hostile pattern costs at most pattern × text steps.
    public static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var p = 0
        var t = 0
        var starAt = -1
        var resumeText = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                starAt = p
                resumeText = t
                p += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if starAt >= 0 {
                p = starAt + 1
                resumeText += 1
                t = resumeText
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// `|1|base64(salt)|base64(HMAC-SHA1(salt, host))`: the field must be exactly what OpenSSH would
    /// write for this host with this salt (a 20-byte salt, canonical base64).
    static func hashedMatches(_ field: [UInt8], host: [UInt8]) -> Bool {
        let magic = Array("|1|".utf8)
        guard field.count > magic.count, Array(field.prefix(magic.count)) == magic else { return false }
        let rest = field[magic.count...]
        guard let bar = rest.firstIndex(of: UInt8(ascii: "|")) else { return false }
        guard let salt = Base64.decode(rest[rest.startIndex..<bar]), salt.count == 20 else { return false }
        let expected =
            "|1|" + Base64.encode(salt) + "|" + Base64.encode(Digest.hmacSHA1(key: salt, message: host))
        return Array(expected.utf8) == field
    }

    /// A hashed host field for `hostField` with `salt` (20 bytes), as `ssh-keygen -H` writes it.
    public static func hashedField(hostField: String, salt: [UInt8]) -> String {
        let host = Array(hostField.utf8).map(lowercased)
        return "|1|" + Base64.encode(salt) + "|" + Base64.encode(Digest.hmacSHA1(key: salt, message: host))
    }

    /// ASCII `tolower`, as OpenSSH's in the C locale: other bytes are left alone.
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
