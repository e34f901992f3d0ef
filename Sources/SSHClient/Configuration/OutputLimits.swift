/// How much remote output the client holds, per captured command. Every byte a runner sends is
/// untrusted: without a bound one runner could exhaust the memory that a whole fleet's tick
/// shares. Past its bound a capture stops at once (the remote command is ended) and the call
/// fails with `remote_error`, so the cost is the bound, whatever the runner sends and however
/// slow the machine is.
public enum OutputLimits {
    /// Each stream (stdout, stderr) of a command whose output is captured: `exec`, file reads,
    /// deploy steps, probes.
    public static let capture = 16 << 20
    /// The status read's whole reply (one per project and tick). A healthy reply is a few
    /// kilobytes (see the README for the measured figure).
    public static let statusReply = 256 << 10
    /// Each file the status read returns (chain state, spec, policy) and each probe's stream,
    /// enforced by the runner-side script (a larger file is an error naming it) and again by the
    /// client for the chain state it keeps (its parsed form costs about ten times its text).
    public static let remoteText = 64 << 10

    /// `1 MiB`, `256 KiB`, or a byte count, for messages.
    public static func describe(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}
