import FleetCore
import Foundation
import Testing

/// `error_kind` is a closed set consumers match on: the enum and the README's table must agree.
@Suite struct ErrorKindTests {
    @Test func theKindsAreExactlyTheREADMETable() throws {
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let readme = try #require(FileSystem.readText(checkout + "/README.md"))
        let table = readme.components(separatedBy: "| `error_kind` | when |")
        try #require(table.count == 2)
        var documented: [String] = []
        for row in table[1].split(separator: "\n").dropFirst() {
            guard row.hasPrefix("| `") else { break }
            documented.append(String(row.dropFirst(3).prefix { $0 != "`" }))
        }
        #expect(documented == FleetError.Kind.allCases.map(\.rawValue))
    }

    @Test func aFailureWithoutItsOwnKindIsClassifiedByItsCode() {
        #expect(FleetError(.invalidSpec, "m").lineKind == .invalidConfig)
        #expect(FleetError(.missingRemoteSpec, "m").lineKind == .invalidConfig)
        #expect(FleetError(.providerFailed, "m").lineKind == .remoteError)
        #expect(FleetError(.providerFailed, "m", kind: .timeout).lineKind == .timeout)
    }
}
