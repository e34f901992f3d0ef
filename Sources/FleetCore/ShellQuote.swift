/// POSIX shell quoting, byte for byte the rule of Python's `shlex.quote` (cloud reference §0.1),
/// because remote command lines are compared whole against the reference's.
public enum ShellQuote {
    public static func quote(_ text: String) -> String {
        if text.isEmpty { return "''" }
        if text.unicodeScalars.allSatisfy(isSafe) { return text }
        return "'" + text.replacingAll("'", with: "'\"'\"'") + "'"
    }

    public static func join(_ items: [String]) -> String {
        items.map(quote).joined(separator: " ")
    }

    private static func isSafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "@", "%", "+", "=", ":", ",", ".", "/", "-": true
        default: false
        }
    }
}

extension String {
    /// Replaces every occurrence of `target` (compared by Unicode scalars, as Python compares code
    /// points) without Foundation.
    public func replacingAll(_ target: String, with replacement: String) -> String {
        let source = Array(unicodeScalars)
        let pattern = Array(target.unicodeScalars)
        guard !pattern.isEmpty, source.count >= pattern.count else { return self }
        var out = String.UnicodeScalarView()
        var index = 0
        while index < source.count {
            if index + pattern.count <= source.count, source[index] == pattern[0],
                source[index..<index + pattern.count].elementsEqual(pattern)
            {
                out.append(contentsOf: replacement.unicodeScalars)
                index += pattern.count
            } else {
                out.append(source[index])
                index += 1
            }
        }
        return String(out)
    }
}
