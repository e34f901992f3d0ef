import FleetCore
import Testing

@testable import Fleet

/// A fleet line built from a runner's JSON never carries a secret assignment's value, whatever
/// its syntax, even when the name and the value are separate JSON strings (review of issue 13).
@Suite struct FleetLineRedactionTests {
    @Test func secretValuesInARunnersReportNeverReachTheLine() {
        let redactor = Redactor(secretNames: ["OPENAI_API_KEY"], environment: [:])
        let report: JSONValue = [
            "env": ["OPENAI_API_KEY": "value-as-json-field"],
            "stderr": .string(#"export OPENAI_API_KEY="value-in-shell-quotes""#),
            "log": .string(#"{"OPENAI_API_KEY": "value-in-json-text"}"#),
            "yaml": .string("OPENAI_API_KEY: 'value-in-yaml'"),
        ]
        let line = FleetLine(
            tick: "t-1", timestamp: "2026-01-01T00:00:00Z", project: "p", provider: .ssh, host: "h",
            operation: .status, durationMilliseconds: 1, outcome: .ok, errorKind: nil, report: report,
            effectiveStatus: nil)
        let rendered = line.rendered(redactor: redactor)
        #expect(!rendered.contains("value-"), "\(rendered)")
        #expect(rendered.contains(Redactor.token))
    }
}
