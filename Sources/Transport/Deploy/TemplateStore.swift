import FleetCore
import Foundation

/// The deploy-directory templates, shipped as the `Templates` resource folder of this target.
///
/// SwiftPM copies the folder into the `megaplan-fleet_Transport.resources` bundle next to the built
/// executable (and next to the test runner); an installed binary needs that folder beside it.
enum TemplateStore {
    /// The `Templates` folder inside the resource bundle, or nil when the bundle was not
    /// installed beside the executable.
    /// (The generated `Bundle.module` would crash instead, so the bundle is looked up here: beside
    /// the running executable or test runner, following a symlinked executable too.)
    static let located: String? = {
        var directories = [Bundle.main.bundleURL.path]
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(PosixPath.dirname(executable))
        }
        return directories.map { "\($0)/megaplan-fleet_Transport.resources/Templates" }
            .first { FileManager.default.fileExists(atPath: $0) }
    }()

    /// Fails with a message saying how to install the templates, instead of crashing later.
    static func requireTemplates() throws(FleetError) {
        guard located == nil else { return }
        throw FleetError(
            .providerFailed,
            "deploy templates not found: install the megaplan-fleet_Transport.resources folder beside the megaplan-fleet executable"
        )
    }

    static var directory: String {
        guard let located else {
            preconditionFailure("megaplan-fleet: deploy templates missing (see requireTemplates)")
        }
        return located
    }

    /// The text of one template file (a path relative to `Templates/`), e.g. `wrappers/mp-run`.
    static func text(_ name: String) -> String {
        let path = directory + "/" + name
        guard let text = FileSystem.readText(path) else {
            preconditionFailure("megaplan-fleet: deploy template \(name) is unreadable at \(path)")
        }
        return text
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
