/// How unknown and changed host keys are treated. There is deliberately no "accept anything" mode.
public enum HostKeyPolicy: String, Sendable, CaseIterable {
    /// Unknown and changed host keys are both refused.
    case strict
    /// Unknown host keys are recorded in the known_hosts file; changed keys are always refused.
    case acceptNew = "accept-new"
}

extension HostKeyPolicy {
    /// The accepted spellings, for error messages: "strict, accept-new".
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
