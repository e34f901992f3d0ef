import BenchSupport
import Foundation
import TestSupport
import Testing

@testable import FleetCore

/// The reader against the real PyYAML (the reference's parser): every document below is loaded
/// by `yaml.safe_load` in one python3 process and by `YAMLComposer` here, and both results are
/// reduced to the same typed shape: each value's type (str, int, float, bool, null, timestamp,
/// list, map) with its text or number, key order included; a document either side refuses is
/// `error`. Floats and timestamps compare by type only (their printing differs, not their reading).
@Suite struct PyYAMLDifferentialTests {
    /// Plain scalars at the edges of YAML 1.1's implicit types, as a mapping's value.
    static let scalars = [
        "yes", "No", "ON", "off", "y", "n", "True", "tRUE", "~", "null", "Null", "NULL", "nil", "",
        "0", "-0", "+0", "12", "+12", "-12", "1_000", "0b101", "-0b1", "0b_", "0x1F", "0x_", "-0xff",
        "017", "08", "0o17", "1:30", "190:20:30", "1:60", "1:5.5", "190:20:30.15", "1.5", "1.", "-1.5e+3",
        "1e3", "1.0e3", "1.e+3", "685.230_15e+03", ".5", "-.5", "+.5", ".inf", "-.Inf", "+.INF", ".NaN",
        ".nan", "5e12345", "2024-01-01", "2024-1-1", "2024-1-1 10:20:30", "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 Z", "2024-01-01x", "1.2.3", "._", "._1", "_1", "v1", "main", "gpt-5.4",
        "a b", "12 34", "-", "'quoted'", "\"3\"", "! 3", "! '3'", "!!str 3", "!!int '7'", "!!bool yes",
        "!!float 1", "<<", "=", "|\n  literal\n  text\n", ">-\n  folded\n  text\n", "\"\\x41\\u00e9\\t\"",
        "'it''s'", "é", "\"\\N\"",
    ]

    /// Whole documents: merges, duplicates, anchors, flow and block styles, document markers.
    static let documents = [
        "x-base: &base {url: a, branch: dev}\nrepo: {<<: *base, url: b}\n",
        "a: &a {k: 1, o: a}\nb: &b {k: 2, p: b}\nc:\n  <<: [*a, *b]\n  q: c\n",
        "a: &a {k: 1}\nc:\n  k: 0\n  <<: *a\n",
        "a: &a {k: 1}\nb: &b {<<: *a, l: 2}\nc: {<<: *b, m: 3}\n",
        "a: &a {k: 1}\nc: {<<: *a, <<: {k: 2, z: 3}}\n",
        "c: {<<: 5}\n", "c: {<<: [a]}\n",
        "k: 1\nj: 2\nk: 3\n", "'k': 1\nk: 2\n\"k\": 3\n", "1: a\n'1': b\n1: c\n",
        "&x k: 1\nk: 2\n", "? |\n  k\n: 1\nk\n: 2\n", "k: 1\n!!str k: 2\n",
        "=: 1\n", "a: [1, [2, [3, {b: c}]]]\n", "- a\n- - b\n  - c\n- {d: e}\n",
        "a: &s str\nb: *s\nc: [*s, *s]\n", "a: *undefined\n", "a: &x [*x]\n",
        "---\na: 1\n...\n", "# only a comment\n", "", "---\n", "a: 1\n---\nb: 2\n",
        "a: [1, 2\n", "a: b: c\n", "\ta: 1\n", "a:\n\t- 1\n", "key: \"unterminated\n",
        "a: 'multi\n  line'\nb: plain\n  continued\n", "a: |+\n  keep\n\n", "a: >\n  one\n  two\n\n  three\n",
        "{a: 1, b: [x, y], c: {d: ~}}\n", "[1, two, 3.0]\n", "plain scalar root\n", "\"\\u263A\"\n",
        "a: !!binary aGVsbG8=\n", "a: !custom x\n", "a: !!set {x, y}\n", "a: !custom {b: 1}\n",
        "a: [!custom [1]]\n", "a: !!str [1]\n", "a: !!seq {b: 1}\n", "a: !!map [1]\n", "a: <<\n", "a: =\n",
        "=: 1\n<<: {b: 2}\n", "a: !!omap [{b: 1}]\n", "a: !!pairs [{b: 1}, {b: 2}]\n", "a: !!omap [b]\n",
        "a: !!pairs [{b: 1, c: 2}]\n", "a: !!omap {b: 1}\n", "a: !!null x\n",
        "a: !<tag:yaml.org,2002:str> 3\n", "a: !!python/none\n",
    ]

    @Test func readsEveryScalarAsPyYAMLDoes() throws {
        try compare(Self.scalars.map { "v: \($0)\n" })
    }

    @Test func readsEveryDocumentAsPyYAMLDoes() throws {
        try compare(Self.documents)
    }

    /// Generated plain scalars built from the characters the number, date and boolean patterns
    /// use: each one's type as PyYAML's resolver decides it (no document around it), and for
    /// integers the value PyYAML's constructor makes.
    @Test func resolvesGeneratedScalarsAsPyYAMLDoes() throws {
        var random = SplitMix64(seed: 0x5EED_7A65)
        let alphabet = Array("0123456789012345_.:+-eEbxoTtZ :aAfFinNsy")
        let seeds = Self.scalars.filter { $0.allSatisfy { $0.isASCII && !"'\"!|>\\".contains($0) } }.map(
            Array.init)
        var texts: Set<String> = []
        while texts.count < 4000 {
            // Half from nothing, half an edge case above with up to three characters changed.
            var characters: [Character]
            if Bool.random(using: &random) {
                characters = (0..<Int.random(in: 1...14, using: &random)).map { _ in
                    alphabet.randomElement(using: &random)!
                }
            } else {
                characters = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 0...3, using: &random) where !characters.isEmpty {
                    let position = Int.random(in: 0..<characters.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: characters.remove(at: position)
                    case 1: characters.insert(alphabet.randomElement(using: &random)!, at: position)
                    default: characters[position] = alphabet.randomElement(using: &random)!
                    }
                }
            }
            let text = String(characters)
            // Plain scalars carry no blanks at either end.
            if !text.isEmpty, text.first != " ", text.last != " " { texts.insert(text) }
        }
        let ordered = texts.sorted()
        let program = """
            import json, sys, yaml
            resolver = yaml.resolver.Resolver()
            constructor = yaml.constructor.SafeConstructor()
            out = []
            for text in json.load(open(sys.argv[1], encoding="utf-8")):
                tag = resolver.resolve(yaml.ScalarNode, text, (True, False))
                value = None
                if tag.endswith(":int"):
                    try:
                        number = constructor.construct_yaml_int(yaml.ScalarNode(tag, text))
                        value = str(number) if -2**63 <= number < 2**63 else None
                    except ValueError:
                        pass
                out.append([tag, value])
            print(json.dumps(out))
            """
        let expected = try runPython(program, input: ordered)
        try #require(expected.count == ordered.count)
        var mismatches: [String] = []
        for (text, pyYAML) in zip(ordered, expected) {
            let tag = YAMLResolver.tag(ofPlain: text)
            let value =
                tag == .int ? YAMLResolver.integer(text).map { JSONValue.string(String($0)) } ?? .null : .null
            if pyYAML != [.string(tag.rawValue), value] {
                mismatches.append(
                    "\(pythonRepr(text)): \(tag.rawValue) \(value.serialized()) against \(pyYAML.serialized())"
                )
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20).joined(separator: "\n"))")
        let types = Set(ordered.map { YAMLResolver.tag(ofPlain: $0) })
        #expect(
            types.isSuperset(of: [.int, .float, .str, .bool, .timestamp]), "the corpus reaches every type")
    }

    /// The emitter (the chain spec uploaded with `base_branch`) writes every document this reader
    /// takes so that PyYAML reads back what PyYAML read from the original.
    @Test func emittedDocumentsReadBackTheSameInPyYAML() throws {
        var originals: [String] = []
        var emitted: [String] = []
        for document in Self.scalars.map({ "v: \($0)\n" }) + Self.documents {
            var composer = YAMLComposer(path: "doc.yaml", code: .invalidSpec, reading: .pyYAML)
            guard let root = try? composer.compose(document, single: true).first, shape(root) != nil else {
                continue
            }
            originals.append(document)
            emitted.append(try YAMLEmitter.document(root))
        }
        #expect(originals.count > 100)
        let expected = try pyYAMLShapes(originals)
        let readBack = try pyYAMLShapes(emitted)
        for (index, original) in originals.enumerated() {
            #expect(
                readBack[index] == expected[index],
                "\(pythonRepr(original)) was written as \(pythonRepr(emitted[index]))")
        }
    }

    private func compare(_ documents: [String]) throws {
        let expected = try pyYAMLShapes(documents)
        try #require(expected.count == documents.count)
        for (document, pyYAML) in zip(documents, expected) {
            let ours = shape(of: document)
            #expect(
                ours == pyYAML,
                "\(pythonRepr(document)): \(ours.serialized()) against PyYAML's \(pyYAML.serialized())")
        }
    }

    /// Our reading of `document`, in the shape the Python side prints.
    private func shape(of document: String) -> JSONValue {
        var composer = YAMLComposer(path: "doc.yaml", code: .invalidSpec, reading: .pyYAML)
        guard let documents = try? composer.compose(document, single: true) else { return ["error"] }
        guard let root = documents.first else { return ["null"] }
        return shape(root) ?? ["error"]
    }

    /// Tags PyYAML constructs into types outside the shape (bytes, a set): `error` in place on
    /// both sides.
    static let foreignTypes: Set<YAMLTag> = [
        .binary, .set,
    ]

    /// Nil where PyYAML's safe constructor refuses the whole document for a value the reader
    /// keeps typed: an integer it cannot convert. (Tags without a constructor the reader refuses.)
    private func shape(_ node: YAMLNode) -> JSONValue? {
        if Self.foreignTypes.contains(node.tag) { return ["error"] }
        switch node {
        case .sequence(let items) where [.omap, .pairs].contains(items.tag):
            // A list of Python tuples, which the Python side prints as `error` each.
            return ["list", .array(items.map { _ in ["error"] })]
        case .sequence(let items):
            var shapes: [JSONValue] = []
            for item in items {
                guard let item = shape(item) else { return nil }
                shapes.append(item)
            }
            return ["list", .array(shapes)]
        case .mapping(let mapping):
            var pairs: [JSONValue] = []
            for (key, value) in mapping {
                guard let key = shape(key), let value = shape(value) else { return nil }
                pairs.append(.array([key, value]))
            }
            return ["map", .array(pairs)]
        case .scalar(let scalar):
            switch scalar.tag {
            case .str: return ["str", .string(scalar.string)]
            case .null: return ["null"]
            case .bool: return YAMLResolver.boolean(scalar.string).map { ["bool", .bool($0)] }
            case .int: return YAMLResolver.integer(scalar.string).map { ["int", .string(String($0))] }
            case .float: return ["float"]
            case .timestamp: return ["timestamp"]
            default: return nil
            }
        }
    }

    private func pyYAMLShapes(_ documents: [String]) throws -> [JSONValue] {
        let program = """
            import datetime, json, sys, yaml
            def shape(v):
                if v is None: return ["null"]
                if isinstance(v, bool): return ["bool", v]
                if isinstance(v, int): return ["int", str(v)]
                if isinstance(v, float): return ["float"]
                if isinstance(v, (datetime.date, datetime.datetime)): return ["timestamp"]
                if isinstance(v, str): return ["str", v]
                if isinstance(v, list): return ["list", [shape(x) for x in v]]
                if isinstance(v, dict): return ["map", [[shape(k), shape(x)] for k, x in v.items()]]
                return ["error"]
            out = []
            for document in json.load(open(sys.argv[1], encoding="utf-8")):
                try:
                    out.append(shape(yaml.safe_load(document)))
                except Exception:
                    out.append(["error"])
            print(json.dumps(out))
            """
        return try runPython(program, input: documents)
    }

    /// Runs `program` with PyYAML on the texts (a JSON list in a file) and reads the JSON list it prints.
    private func runPython(_ program: String, input texts: [String]) throws -> [JSONValue] {
        let input = NSTemporaryDirectory() + "pyyaml-differential-\(UUID().uuidString).json"
        defer { unlink(input) }
        try FileSystem.writeAtomically(input, text: JSONValue.array(texts.map(JSONValue.string)).serialized())
        let output = try BenchProcess.run(["/usr/bin/env", "python3", "-c", program, input])
        guard case .array(let results) = try JSONValue.parse(output) else {
            throw BenchError("python3 printed no list: \(output)")
        }
        return results
    }
}
