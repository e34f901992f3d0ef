import Testing

@testable import FleetCore

/// cloud.yaml and chain specs are read as the reference's PyYAML reads them: merge keys, a
/// byte-order mark and duplicate keys (the last wins, with a warning). fleet.yaml stays strict.
@Suite struct PyYAMLCompatibilityTests {
    let path = "/nowhere/cloud.yaml"

    @Test func flowMergeKeyFillsTheMapping() throws {
        let spec = try CloudSpec.parse(
            text: """
                x-defaults: &defaults {url: https://example.com/base.git, branch: dev}
                repo: {<<: *defaults, url: https://example.com/app.git}
                """, path: path)
        #expect(spec.repo.url == "https://example.com/app.git", "the mapping's own key wins")
        #expect(spec.repo.branch == "dev")
    }

    @Test func blockMergeListFirstMappingWins() throws {
        let spec = try CloudSpec.parse(
            text: """
                x-a: &a
                  branch: from-a
                x-b: &b
                  branch: from-b
                  workspace: /srv/b
                  url: https://example.com/b.git
                repo:
                  <<: [*a, *b]
                  workspace: /srv/own
                """, path: path)
        #expect(spec.repo.branch == "from-a")
        #expect(spec.repo.url == "https://example.com/b.git")
        #expect(spec.repo.workspace == "/srv/own")
        let block = try CloudSpec.parse(
            text: "base: &base\n  url: https://example.com/c.git\nrepo:\n  <<: *base\n  branch: b\n",
            path: path)
        #expect(block.repo.url == "https://example.com/c.git")
        #expect(block.repo.branch == "b")
    }

    @Test func mergeOfAScalarIsAnErrorWithItsPosition() {
        #expect(
            failure { try CloudSpec.parse(text: "repo:\n  <<: 5\n", path: path) }
                == FleetError(
                    .invalidSpec, "\(path):2:7: a merge key (<<) takes a mapping or a list of mappings"))
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let spec = try CloudSpec.parse(
            text: "\u{FEFF}provider: local\nrepo:\n  url: https://example.com/app.git\n", path: path)
        #expect(spec.provider == .local)
        let chain = try ChainSpec.parse(
            text: "\u{FEFF}milestones:\n  - label: m1\n    idea: i.md\n", path: path)
        #expect(chain.milestones.map(\.label) == ["m1"])
    }

    @Test func duplicateKeysKeepTheLastValueWithAWarning() throws {
        let text = """
            provider: ssh
            repo:
              url: https://example.com/first.git
              url: 'https://example.com/second.git'
            ssh:
              host: h
            provider: local
            mode: bogus
            """
        let reader = try YAMLReader(path: path, text: text)
        #expect(
            reader.warnings == [
                "\(path): duplicate key 'url' at lines 3 and 4; the value at line 4 is used, as PyYAML does",
                "\(path): duplicate key 'provider' at lines 1 and 7; the value at line 7 is used, as PyYAML does",
            ])
        // Positions after the duplicates are unchanged: errors still name the right line and column.
        #expect(
            failure { try CloudSpec.parse(text: text, path: path) }
                == FleetError(.invalidSpec, "\(path):8:7: mode must be one of auto, chain, idle; got 'bogus'")
        )
        let spec = try CloudSpec.parse(
            text: text.replacingOccurrences(of: "mode: bogus", with: ""), path: path)
        #expect(spec.provider == .local)
        #expect(spec.repo.url == "https://example.com/second.git")
    }

    @Test func duplicateKeysInFlowMappingsAndQuotedKeys() throws {
        let spec = try CloudSpec.parse(
            text:
                "repo: {url: https://example.com/a.git, \"url\": https://example.com/b.git, 'branch': x, branch: y}\n",
            path: path)
        #expect(spec.repo.url == "https://example.com/b.git")
        #expect(spec.repo.branch == "y")
    }

    @Test func duplicateMilestoneKeysInAChainSpec() throws {
        let text =
            "milestones:\n  - label: m1\n    idea: a.md\n    idea: b.md\nmilestones:\n  - label: m2\n    idea: c.md\n"
        let chain = try ChainSpec.parse(text: text, path: path)
        #expect(chain.milestones.map(\.label) == ["m2"])
        #expect(try YAMLReader(path: path, text: text).warnings.count == 2)
    }

    @Test func fleetFileStaysStrict() {
        let error = failure {
            try FleetFile.parse(text: "version: 1\nversion: 1\nprojects: []\n", path: "/nowhere/fleet.yaml")
        }
        #expect(
            error?.message.hasSuffix(
                "YAML parse error: line 2, column 1: duplicated key 'version', first at line 1")
                == true, "\(String(describing: error))")
    }

    @Test func aliasBombsStayBoundedWithMergeKeys() {
        var text = "a0: &a0 {x: 1}\n"
        for level in 1...20 {
            text += "a\(level): &a\(level) {<<: *a\(level - 1), l: [*a\(level - 1), *a\(level - 1)]}\n"
        }
        let error = failure { try CloudSpec.parse(text: text, path: path) }
        #expect(error?.message.contains("YAML aliases expand to more than") == true)
    }

    @Test func fleetFileNamesEveryDuplicateKey() {
        let error = failure {
            try FleetFile.parse(text: "a: 1\nb: 2\na: 3\nb: 4\n", path: "/nowhere/fleet.yaml")
        }
        #expect(
            error?.message
                == "/nowhere/fleet.yaml: YAML parse error: line 3, column 1: duplicated key 'a', first at line 1;"
                + " line 4, column 1: duplicated key 'b', first at line 2")
    }

    /// Keys that cannot be renamed in place (anchored, tagged, written over several lines) are
    /// read as PyYAML reads them too.
    @Test func anchoredTaggedAndMultilineDuplicateKeys() throws {
        let text = "&p provider: ssh\n!!str provider: railway\n? |-\n  provider\n: local\nrepo: {url: u}\n"
        let reader = try YAMLReader(path: path, text: text)
        #expect(reader.warnings.count == 2)
        #expect(try CloudSpec.parse(text: text, path: path).provider == .local)
    }

    /// Typing a number-like scalar matched three regular expressions, about a millisecond each:
    /// 50 000 numbers (300 KB) took 36 s. The patterns are now matched in one pass over the bytes
    /// (0.12 s for the same file, debug build).
    @Test func aFileOfNumbersReadsInBoundedTime() throws {
        let numbers = (0..<50_000).map {
            $0 % 3 == 0 ? "\($0).5" : $0 % 3 == 1 ? "0x\($0)" : "2024-01-0\($0 % 9 + 1)"
        }
        let start = ContinuousClock.now
        let root = try YAMLReader(path: path, text: "v: [" + numbers.joined(separator: ", ") + "]\n").root
        #expect(root?.mapping?.value(for: "v")?.sequence?.count == 50_000)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func deepNestingIsAnErrorNotACrash() throws {
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let error = failure { try CloudSpec.parse(text: "x: " + deep, path: path) }
        #expect(
            error?.message.contains(
                "YAML parse error: line 1, column 1003: collections nested more than 1000 deep") == true,
            "\(String(describing: error))")
        let allowed = String(repeating: "[", count: 999) + String(repeating: "]", count: 999)
        #expect(try YAMLReader(path: path, text: "x: " + allowed).root?.mapping?.count == 1)
    }

    /// A tag PyYAML's safe loader has no constructor for is refused wherever it stands (a
    /// mapping or list no field reads included), as is a tag on the wrong kind of node.
    @Test(arguments: [
        (
            "x-extra: !custom {a: 1}\n",
            "line 1, column 10: could not determine a constructor for the tag '!custom'"
        ),
        (
            "repo: !custom {url: u}\n",
            "line 1, column 7: could not determine a constructor for the tag '!custom'"
        ),
        (
            "x: [1, !!python/object:os.system x]\n",
            "line 1, column 8: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"
        ),
        (
            "x: <<\n",
            "line 1, column 4: could not determine a constructor for the tag 'tag:yaml.org,2002:merge'"
        ),
        (
            "a: &m =\nb: *m\n",
            "line 1, column 4: could not determine a constructor for the tag 'tag:yaml.org,2002:value'"
        ),
        (
            "repo: !!str [1]\n",
            "line 1, column 7: expected a scalar node for the tag 'tag:yaml.org,2002:str', but found a sequence"
        ),
        (
            "x: !!set [1]\n",
            "line 1, column 4: expected a mapping node for the tag 'tag:yaml.org,2002:set', but found a sequence"
        ),
    ])
    func tagsWithoutAConstructorAreRefused(text: String, detail: String) {
        let error = failure { try CloudSpec.parse(text: text, path: path) }
        #expect(error?.message == "\(path): YAML parse error: \(detail)", "\(String(describing: error))")
        let fleet = failure { try FleetFile.parse(text: text, path: "/nowhere/fleet.yaml") }
        #expect(fleet?.message == "/nowhere/fleet.yaml: YAML parse error: \(detail)")
    }

    /// PyYAML builds `!!set`, `!!omap` and `!!pairs` into a set and lists of pairs, which no field
    /// takes as a mapping or a list; a merge key and `=` stay keys.
    @Test func setsAndPairListsAreNotMappingsOrLists() throws {
        let set = failure { try CloudSpec.parse(text: "repo: !!set {url}\n", path: path) }
        #expect(set?.message == "\(path):1:7: `repo` must be a mapping", "\(String(describing: set))")
        let pairs = failure {
            try CloudSpec.parse(text: "repo: {url: u}\nextra_repos: !!omap [{a: b}]\n", path: path)
        }
        #expect(
            pairs?.message.hasPrefix("\(path):2:14: `extra_repos` must be a list") == true,
            "\(String(describing: pairs))")
        let spec = try CloudSpec.parse(text: "x: &a {k: 1}\nrepo: {<<: *a, url: u, =: v}\n", path: path)
        #expect(spec.repo.url == "u")
    }

    /// The chain spec uploaded with `base_branch` (§1.5 step 12): block style, keys in order,
    /// comments gone, every value reading back as it was.
    @Test func chainSpecIsWrittenBackInBlockStyle() throws {
        let text = """
            # a chain
            milestones:
              - label: m1
                idea: "ideas/one.md"
                notes: |
                  line one
                  line two
              - {label: 'yes', idea: "3", branch: ~, weight: 0x10}
            seed_plan: é-plan

            """
        let root = try #require(try YAMLReader(path: path, text: text).root)
        #expect(
            try YAMLEmitter.document(root) == """
                milestones:
                - label: m1
                  idea: "ideas/one.md"
                  notes: |
                    line one
                    line two
                - label: 'yes'
                  idea: "3"
                  branch: ~
                  weight: 0x10
                seed_plan: é-plan

                """)
    }
}
