import FleetCore
import Testing

@testable import Fleet

@Suite("Selection, shards, lock paths, tick ids and lines")
struct SelectionTests {
    static let names = (0..<100).map { "project-\($0)" }

    @Test(arguments: 1...7)
    func shardsAreDisjointAndCoverEveryName(count: Int) throws {
        var owner: [String: Int] = [:]
        for index in 0..<count {
            let shard = try FleetSelection.Shard(index: index, count: count)
            for name in Self.names where shard.contains(name) {
                #expect(owner[name] == nil, "\(name) is in shards \(owner[name]!) and \(index) of \(count)")
                owner[name] = index
            }
        }
        #expect(owner.count == Self.names.count)
        // Stable: the same answer every time and from the parsed form.
        for index in 0..<count {
            let parsed = try FleetSelection.Shard(parsing: "\(index)/\(count)")
            #expect(parsed == (try FleetSelection.Shard(index: index, count: count)))
            for name in Self.names { #expect(parsed.contains(name) == (owner[name] == index)) }
        }
        // Not degenerate: with 100 names no shard of up to 7 is empty.
        for index in 0..<count { #expect(owner.values.contains(index), "shard \(index)/\(count) is empty") }
    }

    @Test(arguments: ["", "1", "1/", "/2", "a/b", "2/2", "-1/2", "0/0", "1/2/3", " 0/2"])
    func badShardsAreRefused(_ text: String) {
        #expect(throws: FleetError.self) { try FleetSelection.Shard(parsing: text) }
    }

    @Test func selectionAppliesNamesTagsAndShardInFileOrder() throws {
        let directory = try FleetDirectory()
        let cloud = directory.path + "/cloud.yaml"
        try FileSystem.writeAtomically(cloud, text: "provider: local\n")
        var text = "version: 1\nprojects:\n"
        for (index, name) in Self.names.enumerated() {
            text +=
                "  - name: \(name)\n    cloud_yaml: \(cloud)\n    tags: [\(index % 3 == 0 ? "web" : "api")]\n"
        }
        let file = try FleetFile.parse(text: text, path: directory.path + "/fleet.yaml")
        #expect(try FleetSelection().apply(to: file).map(\.name) == Self.names)
        let web = try FleetSelection(tags: ["web"]).apply(to: file).map(\.name)
        #expect(web == Self.names.enumerated().filter { $0.offset % 3 == 0 }.map(\.element))
        let picked = try FleetSelection(names: ["project-7", "project-3"]).apply(to: file).map(\.name)
        #expect(picked == ["project-3", "project-7"])
        #expect(throws: FleetError.self) { try FleetSelection(names: ["nope"]).apply(to: file) }
        var union: [String] = []
        for index in 0..<3 {
            let shard = try FleetSelection.Shard(index: index, count: 3)
            union += try FleetSelection(tags: ["api"], shard: shard).apply(to: file).map(\.name)
        }
        #expect(
            union.sorted() == Self.names.enumerated().filter { $0.offset % 3 != 0 }.map(\.element).sorted())
    }

    @Test func lockPathsDifferPerFileAndShard() throws {
        let home = "/home/someone"
        let plain = FleetLockPath.path(fleetFile: "/etc/fleet.yaml", shard: nil, home: home)
        let other = FleetLockPath.path(fleetFile: "/etc/other.yaml", shard: nil, home: home)
        let shard0 = FleetLockPath.path(
            fleetFile: "/etc/fleet.yaml", shard: try .init(index: 0, count: 2), home: home)
        let shard1 = FleetLockPath.path(
            fleetFile: "/etc/fleet.yaml", shard: try .init(index: 1, count: 2), home: home)
        #expect(Set([plain, other, shard0, shard1]).count == 4)
        #expect(plain.hasPrefix(home + "/.megaplan/fleet/locks/"))
        #expect(plain == FleetLockPath.path(fleetFile: "/etc/fleet.yaml", shard: nil, home: home))
    }

    @Test func tickIDsAreUniqueAndShaped() {
        let ids = (0..<200).map { _ in TickID.make() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.hasPrefix("t-"))
            #expect(id.count == "t-20260101T000000Z-0123abcd".count, "\(id)")
            #expect(id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        }
    }

    static func line(report: JSONValue) -> FleetLine {
        FleetLine(
            tick: "t-1", timestamp: "2026-01-01T00:00:00+00:00", project: "p", provider: .ssh, host: "h:22",
            operation: .supervise, durationMilliseconds: 12, outcome: .ok, errorKind: nil, report: report,
            effectiveStatus: .running)
    }

    @Test func lineKeysAreInTheDocumentedOrder() throws {
        let rendered = Self.line(report: ["event": "supervisor_tick"]).rendered(redactor: .shapesOnly)
        let value = try JSONValue.parse(rendered)
        #expect(
            keyOrder(value) == [
                "schema", "tick", "ts", "project", "provider", "host", "op", "duration_ms", "outcome",
                "error_kind", "status_since", "previous_status", "changed", "report",
            ])
        #expect(!rendered.contains("\n"))
    }

    @Test func hugeReportsAreCappedFieldByField() throws {
        let big = String(repeating: "y", count: 200_000)
        let rendered = Self.line(report: ["event": "supervisor_tick", "logs": .string(big), "small": "kept"])
            .rendered(redactor: .shapesOnly)
        #expect(rendered.utf8.count <= FleetLine.maximumLength)
        let value = try JSONValue.parse(rendered)
        #expect(value["report"]?["logs"]?["truncated"] == .bool(true))
        #expect(value["report"]?["small"] == "kept")
        #expect(value["report"]?["event"] == "supervisor_tick")

        // Many medium fields: the largest go first until the line fits.
        var many = JSONObject()
        for index in 0..<40 { many["f\(index)"] = .string(String(repeating: "z", count: 5_000 + index)) }
        let capped = Self.line(report: .object(many)).rendered(redactor: .shapesOnly)
        #expect(capped.utf8.count <= FleetLine.maximumLength)
        #expect((try JSONValue.parse(capped))["report"]?["f0"]?.stringValue != nil)

        // A report that is not an object is replaced as a whole.
        let array = Self.line(report: .array((0..<10).map { _ in .string(big) })).rendered(
            redactor: .shapesOnly)
        #expect(array.utf8.count <= FleetLine.maximumLength)
        #expect((try JSONValue.parse(array))["report"]?["truncated"] == .bool(true))
    }

    @Test func linesAreRedactedAndEscaped() throws {
        let redactor = Redactor(secretNames: ["TOKEN"], environment: ["TOKEN": "super-secret-value"])
        let rendered = Self.line(report: [
            "note": "a super-secret-value b\u{1B}[31m\n", "super-secret-value": 1,
        ])
        .rendered(redactor: redactor)
        #expect(!rendered.contains("super-secret-value"))
        #expect(!rendered.contains("\u{1B}"))
        #expect(!rendered.contains("\n"))
        #expect(
            (try JSONValue.parse(rendered))["report"]?["note"]?.stringValue?.contains(Redactor.token) == true)
    }
}
