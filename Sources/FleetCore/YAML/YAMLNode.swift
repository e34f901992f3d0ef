/// A composed YAML node: aliases expanded, every scalar's type resolved, with the position it was
/// written at. Two nodes are equal when their content and types are, wherever they were written
/// (so a mapping's keys compare as PyYAML's dict keys do).
public enum YAMLNode: Hashable, Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    /// A scalar: its text and resolved type.
    public struct Scalar: Hashable, Sendable {
        /// How the scalar was written; the emitter writes it the same way where it can.
        public enum Style: Sendable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        public var string: String
        public var tag: YAMLTag
        public var style: Style
        public var mark: YAMLMark?

        public init(_ string: String, tag: YAMLTag, style: Style = .plain, mark: YAMLMark? = nil) {
            self.string = string
            self.tag = tag
            self.style = style
            self.mark = mark
        }

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.string == rhs.string && lhs.tag == rhs.tag
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(string)
            hasher.combine(tag)
        }
    }

    /// A mapping's pairs in the order written.
    public struct Mapping: RandomAccessCollection, Hashable, Sendable {
        public typealias Element = (key: YAMLNode, value: YAMLNode)

        private struct Pair: Hashable, Sendable {
            var key: YAMLNode
            var value: YAMLNode
        }

        private var pairs: [Pair]
        public var tag: YAMLTag
        public var mark: YAMLMark?

        public init(_ pairs: [(YAMLNode, YAMLNode)], tag: YAMLTag = .map, mark: YAMLMark? = nil) {
            self.pairs = pairs.map { Pair(key: $0.0, value: $0.1) }
            self.tag = tag
            self.mark = mark
        }

        public var startIndex: Int { pairs.startIndex }
        public var endIndex: Int { pairs.endIndex }
        public subscript(position: Int) -> Element { (pairs[position].key, pairs[position].value) }

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.pairs == rhs.pairs && lhs.tag == rhs.tag }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(pairs)
            hasher.combine(tag)
        }
    }

    /// A sequence's items in order.
    public struct Sequence: RandomAccessCollection, ExpressibleByArrayLiteral, Hashable, Sendable {
        private var items: [YAMLNode]
        public var tag: YAMLTag
        public var mark: YAMLMark?

        public init(_ items: [YAMLNode], tag: YAMLTag = .seq, mark: YAMLMark? = nil) {
            self.items = items
            self.tag = tag
            self.mark = mark
        }

        public init(arrayLiteral items: YAMLNode...) { self.init(items) }

        public var startIndex: Int { items.startIndex }
        public var endIndex: Int { items.endIndex }
        public subscript(position: Int) -> YAMLNode { items[position] }

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.items == rhs.items && lhs.tag == rhs.tag }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(items)
            hasher.combine(tag)
        }
    }

    /// A plain string scalar, for a document built in code.
    public init(_ string: String) { self = .scalar(Scalar(string, tag: .str)) }

    public var tag: YAMLTag {
        switch self {
        case .scalar(let scalar): scalar.tag
        case .mapping(let mapping): mapping.tag
        case .sequence(let sequence): sequence.tag
        }
    }

    /// Where the node was written (nil for a node built in code).
    public var mark: YAMLMark? {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }

    public var scalar: Scalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    /// A plain mapping's pairs; nil for a `!!set`, which PyYAML builds into a set, not a dict.
    public var mapping: Mapping? {
        if case .mapping(let mapping) = self, mapping.tag == .map { return mapping }
        return nil
    }

    /// A plain sequence's items; nil for `!!omap` and `!!pairs`, which PyYAML builds into lists
    /// of pairs, not of the items written.
    public var sequence: Sequence? {
        if case .sequence(let sequence) = self, sequence.tag == .seq { return sequence }
        return nil
    }
}

/// A position in a YAML text, both counted from 1 (columns in characters), as PyYAML prints them.
public struct YAMLMark: Hashable, Sendable {
    public var line: Int
    public var column: Int
}

/// A node's type: one of YAML 1.1's global tags, or any other tag written explicitly (`!foo`).
public struct YAMLTag: RawRepresentable, Hashable, Sendable {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let str = YAMLTag(rawValue: "tag:yaml.org,2002:str")
    public static let int = YAMLTag(rawValue: "tag:yaml.org,2002:int")
    public static let float = YAMLTag(rawValue: "tag:yaml.org,2002:float")
    public static let bool = YAMLTag(rawValue: "tag:yaml.org,2002:bool")
    public static let null = YAMLTag(rawValue: "tag:yaml.org,2002:null")
    public static let timestamp = YAMLTag(rawValue: "tag:yaml.org,2002:timestamp")
    /// `<<`: the mapping (or list of mappings) after it is merged into the enclosing mapping.
    public static let merge = YAMLTag(rawValue: "tag:yaml.org,2002:merge")
    /// `=`: YAML 1.1's default-value key, which no constructor here (nor PyYAML's safe loader) takes.
    public static let value = YAMLTag(rawValue: "tag:yaml.org,2002:value")
    public static let seq = YAMLTag(rawValue: "tag:yaml.org,2002:seq")
    public static let map = YAMLTag(rawValue: "tag:yaml.org,2002:map")
    /// The types PyYAML's safe loader builds that no field here takes: `bytes`, `set` and the
    /// ordered lists of pairs. A document may hold them; a field given one refuses it, as the
    /// reference's type checks do.
    public static let binary = YAMLTag(rawValue: "tag:yaml.org,2002:binary")
    public static let set = YAMLTag(rawValue: "tag:yaml.org,2002:set")
    public static let omap = YAMLTag(rawValue: "tag:yaml.org,2002:omap")
    public static let pairs = YAMLTag(rawValue: "tag:yaml.org,2002:pairs")
}
