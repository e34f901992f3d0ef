/// The deploy-directory templates: the files of this target's `Templates/` folder, compiled into
/// the program by the EmbedFiles build-tool plugin, so an installed binary needs nothing beside it.
enum TemplateStore {
    /// The text of one template file (a path relative to `Templates/`), e.g. `wrappers/mp-run`.
    /// A missing name is a packaging bug, caught by the tests, not an input error.
    static func text(_ name: String) -> String {
        guard let bytes = EmbeddedFiles.bytes("Templates/" + name) else {
            preconditionFailure("megaplan-fleet: no embedded deploy template \(name)")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Fills `{{NAME}}` placeholders (upper-case letters, digits and `_`) in one pass. Values are
/// inserted as given — callers quote them for the language they land in — and are never scanned
/// again, so a value containing `{{` stays intact. A placeholder without a value is a packaging bug
/// and stops the program rather than shipping a half-rendered file.
enum TemplateRenderer {
    static func render(_ template: String, name: String, values: [String: String]) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}"),
                case let key = String(afterOpen[..<close.lowerBound]), isPlaceholderName(key)
            else {
                preconditionFailure("template \(name): malformed placeholder near \(afterOpen.prefix(40))")
            }
            guard let value = values[key] else {
                preconditionFailure("template \(name): no value for placeholder {{\(key)}}")
            }
            output += value
            rest = afterOpen[close.upperBound...]
        }
        output += rest
        return output
    }

    /// The placeholder names a template uses, in order of first appearance.
    static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else { break }
            let key = String(afterOpen[..<close.lowerBound])
            if isPlaceholderName(key), !names.contains(key) { names.append(key) }
            rest = afterOpen[close.upperBound...]
        }
        return names
    }

    private static func isPlaceholderName(_ key: String) -> Bool {
        !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
            }
    }
}
