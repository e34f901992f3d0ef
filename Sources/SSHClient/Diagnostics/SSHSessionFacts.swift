/// What setting up one connection showed about its host: what `doctor` reports once the host
/// answered, where a failure would have said what went wrong instead.
public struct SSHSessionFacts: Sendable, Equatable {
    /// The server's identification string (`SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`).
    public var banner: String
    /// The host key's type and SHA-256 fingerprint (`ssh-ed25519 SHA256:…`).
    public var hostKey: String
    /// Where known_hosts holds that key (`/root/.ssh/known_hosts line 3`), or that accept-new
    /// has just recorded it.
    public var knownHosts: String
    /// How the session authenticated (`publickey /root/.ssh/id_ed25519`, `certificate …`,
    /// `ssh-agent key …`).
    public var authentication: String
}
