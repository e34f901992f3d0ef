import Yams

/// What PyYAML's constructor does to a composed document that Yams's nodes leave as written:
/// merge keys (`<<`) are applied and a key overridden by a later equal key is dropped. The result
/// is what the reference reads from the same file.
struct PyYAMLConstruction {
    let path: String
    let code: FleetError.Code
    /// "line:column" of the overridden keys, renamed by `YAMLScan` so that Yams composes them.
    let overridden: Set<String>

    func resolve(_ node: Node) throws(FleetError) -> Node {
        switch node {
        case .mapping(let mapping): return .mapping(try resolve(mapping))
        case .sequence(let sequence):
            var items: [Node] = []
            for item in sequence { items.append(try resolve(item)) }
            return .sequence(Node.Sequence(items, sequence.tag, sequence.style, sequence.mark))
        case .scalar, .alias: return node
        }
    }

    /// PyYAML's `flatten_mapping` and `construct_mapping`: each merge key contributes the pairs
    /// of its mapping, or of its list of mappings with the first one winning; the mapping's own
    /// pairs come after them; a key seen again keeps its first position and takes the last value
    /// (a Python dict).
    private func resolve(_ mapping: Node.Mapping) throws(FleetError) -> Node.Mapping {
        var merged: [(Node, Node)] = []
        var own: [(Node, Node)] = []
        for (key, value) in mapping {
            if let mark = key.mark, overridden.contains("\(mark.line):\(mark.column)") { continue }
            let value = try resolve(value)
            guard key.tag == Tag(.merge) else {
                own.append((try resolve(key), value))
                continue
            }
            switch value {
            case .mapping(let source):
                merged += source.map { ($0.key, $0.value) }
            case .sequence(let sources):
                for source in sources.reversed() {
                    guard case .mapping(let pairs) = source else {
                        throw mergeError(at: source)
                    }
                    merged += pairs.map { ($0.key, $0.value) }
                }
            default:
                throw mergeError(at: value)
            }
        }
        var positions: [Node: Int] = [:]
        var pairs: [(Node, Node)] = []
        for (key, value) in merged + own {
            if let position = positions[key] {
                pairs[position].1 = value
            } else {
                positions[key] = pairs.count
                pairs.append((key, value))
            }
        }
        return Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark)
    }

    private func mergeError(at node: Node) -> FleetError {
        let location = node.mark.map { "\(path):\($0.line):\($0.column)" } ?? path
        return FleetError(code, "\(location): a merge key (<<) takes a mapping or a list of mappings")
    }
}
