import Testing

@testable import FleetCore

@Suite struct JSONTests {
    static let sample: JSONValue = [
        "zeta": 1,
        "alpha": [true, false, nil, -7, 3600.0, 0.5, 1e-7, "text"],
        "middle": ["b": [:], "a": []],
        "unicode": "é 日本 🙂",
        "control": "tab\t nl\n cr\r bell\u{07} esc\u{1B}[31m del\u{7F} quote\" backslash\\ slash/",
    ]

    @Test func roundTripsInBothStyles() throws {
        for style in [JSONStyle.compact, .pretty] {
            let text = Self.sample.serialized(style)
            #expect(try JSONValue.parse(text) == Self.sample)
        }
    }

    @Test func keyOrderIsPreserved() throws {
        let text = #"{"b": 1, "a": {"z": 1, "y": 2, "x": 3}, "c": [{"q": 1, "p": 2}]}"#
        let value = try JSONValue.parse(text)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["a"]?.objectValue?.keys == ["z", "y", "x"])
        #expect(value.serialized() == #"{"b":1,"a":{"z":1,"y":2,"x":3},"c":[{"q":1,"p":2}]}"#)
    }

    @Test func duplicateKeysKeepFirstPositionAndLastValue() throws {
        let value = try JSONValue.parse(#"{"a": 1, "b": 2, "a": 3}"#)
        #expect(value.serialized() == #"{"a":3,"b":2}"#)
    }

    @Test func settingAnExistingKeyKeepsItsPosition() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["a"] = 9
        object["c"] = 3
        object["b"] = nil
        #expect(JSONValue.object(object).serialized() == #"{"a":9,"c":3}"#)
    }

    @Test func prettyLayout() {
        let value: JSONValue = ["a": 1, "b": [1, 2], "c": [:], "d": [], "e": ["f": nil]]
        #expect(
            value.serialized(.pretty) == """
                {
                  "a": 1,
                  "b": [
                    1,
                    2
                  ],
                  "c": {},
                  "d": [],
                  "e": {
                    "f": null
                  }
                }
                """)
        #expect(value.serialized() == #"{"a":1,"b":[1,2],"c":{},"d":[],"e":{"f":null}}"#)
    }

    @Test(arguments: [
        (3600.0, "3600.0"), (1.0, "1.0"), (0.5, "0.5"), (-2.0, "-2.0"), (1e16, "1e+16"), (0.1, "0.1"),
        (Double.nan, "null"), (Double.infinity, "null"),
    ])
    func doubles(_ value: Double, _ text: String) {
        #expect(JSONValue.double(value).serialized() == text)
    }

    @Test func controlAndNonASCIIAreEscaped() {
        let text = JSONValue.string("a\u{1B}[31mé😀\u{7F}\u{00}\u{08}\u{0C}\"\\\n\r\t/").serialized()
        #expect(text == #""a\u001b[31m\u00e9\ud83d\ude00\u007f\u0000\b\f\"\\\n\r\t/""#)
        // No byte outside printable ASCII can reach a terminal.
        #expect(text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        let keys = JSONValue.object(["\u{1B}]0;title\u{07}": "x"]).serialized(.pretty)
        #expect(keys.utf8.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A })
        #expect(keys.contains(#""\u001b]0;title\u0007""#))
    }

    @Test func everyScalarSurvivesEscaping() throws {
        var scalars = String.UnicodeScalarView()
        for value in Array(0..<0x300) + [0x2028, 0x2029, 0xFEFF, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF] {
            scalars.append(Unicode.Scalar(UInt32(value))!)
        }
        let original = String(scalars)
        let text = JSONValue.string(original).serialized()
        #expect(text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        #expect(try JSONValue.parse(text) == .string(original))
    }

    @Test func parsesEscapes() throws {
        #expect(try JSONValue.parse(#""\u00e9\ud83d\ude00\n\t\/\"\\""#) == .string("é😀\n\t/\"\\"))
        // A lone surrogate becomes U+FFFD instead of failing.
        #expect(try JSONValue.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
    }

    @Test func parsesScalars() throws {
        #expect(try JSONValue.parse(" 42 ") == .int(42))
        #expect(try JSONValue.parse("-0.5e1") == .double(-5))
        #expect(try JSONValue.parse("123456789012345678901234567890") == .double(1.2345678901234568e29))
        #expect(try JSONValue.parse("true") == .bool(true))
        #expect(try JSONValue.parse("null") == .null)
        #expect(try JSONValue.parse("[]") == .array([]))
        #expect(try JSONValue.parse("{}") == .object([:]))
    }

    @Test func deepNestingIsRejectedNotACrash() throws {
        let depth = JSONValue.maximumDepth
        let accepted = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let value = try JSONValue.parse(accepted)
        #expect(value.serialized() == accepted)
        let tooDeep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(tooDeep) }
        // Hostile input far beyond the limit, objects and arrays mixed, unterminated.
        let hostile = String(repeating: #"{"a":["#, count: 200_000)
        do {
            _ = try JSONValue.parse(hostile)
            Issue.record("expected a nesting error")
        } catch {
            #expect(error.detail.hasPrefix("Nesting too deep: line 1 column "))
        }
    }

    /// Python's `json` error details (checked against CPython 3).
    @Test(arguments: [
        ("", "Expecting value: line 1 column 1 (char 0)"),
        ("   ", "Expecting value: line 1 column 4 (char 3)"),
        ("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"),
        (#"{"a" 1}"#, "Expecting ':' delimiter: line 1 column 6 (char 5)"),
        ("{1: 2}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (#"{"a":1,}"#, "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"),
        ("[1] x", "Extra data: line 1 column 5 (char 4)"),
        ("\n\n  tru", "Expecting value: line 3 column 3 (char 4)"),
        (#""abc"#, "Unterminated string starting at: line 1 column 1 (char 0)"),
        ("[\"a\", \"abc", "Unterminated string starting at: line 1 column 7 (char 6)"),
        ("\"a\u{01}\"", "Invalid control character at: line 1 column 3 (char 2)"),
        (#""\x""#, "Invalid \\escape: line 1 column 2 (char 1)"),
        (#""é\q""#, "Invalid \\escape: line 1 column 3 (char 2)"),
        (#"{"é": "\u12"}"#, "Invalid \\uXXXX escape: line 1 column 9 (char 8)"),
        (#"["é" 1]"#, "Expecting ',' delimiter: line 1 column 6 (char 5)"),
        ("[1,]", "Expecting value: line 1 column 4 (char 3)"),
        ("[", "Expecting value: line 1 column 2 (char 1)"),
        ("{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (#"{"a": 1"#, "Expecting ',' delimiter: line 1 column 8 (char 7)"),
        ("-", "Expecting value: line 1 column 1 (char 0)"),
        ("[-]", "Expecting value: line 1 column 2 (char 1)"),
        ("nul", "Expecting value: line 1 column 1 (char 0)"),
    ])
    func pythonStyleErrors(_ text: String, _ detail: String) {
        do {
            let value = try JSONValue.parse(text)
            Issue.record("parsed \(value) from \(text.debugDescription)")
        } catch {
            #expect(error.detail == detail)
            #expect(error.description == detail)
        }
    }

    @Test func accessors() throws {
        let value = try JSONValue.parse(#"{"s": "x", "a": [1], "o": {"k": null}, "n": 0}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["o"]?.objectValue?.keys == ["k"])
        #expect(value["o"]?["k"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["n"]?.isTruthy == false)
        #expect(JSONValue.string("x")["k"] == nil)
    }

    @Test func errorEnvelopeMergesExtraKeys() {
        let error = FleetError(.missingIdeaFile, "gone", extra: ["milestone": "m1", "tried_paths": ["/a"]])
        #expect(
            error.envelope.serialized()
                == #"{"success":false,"error":"missing_idea_file","message":"gone","milestone":"m1","tried_paths":["/a"]}"#
        )
    }
}
