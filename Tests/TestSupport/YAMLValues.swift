import FleetCore
import Foundation

extension YAMLNode {
    /// The value PyYAML's safe loader makes of the node, as `Any` (`String`, `Int`, `Bool`,
    /// `Double`, `NSNull`, `[Any]`, `[String: Any]`), for tests that read example files as data.
    public var plainValue: Any {
        if isNull { return NSNull() }
        if let flag = boolScalar { return flag }
        if let number = integerScalar { return number }
        if let text = stringScalar { return text }
        if let items = sequence { return items.map(\.plainValue) }
        if let mapping {
            var object: [String: Any] = [:]
            for (key, value) in mapping { object[key.scalarText ?? "\(key)"] = value.plainValue }
            return object
        }
        if tag == .float, let text = scalarText, let number = Double(text) { return number }
        return scalarText ?? ""
    }
}
