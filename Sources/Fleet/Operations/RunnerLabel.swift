import FleetCore

extension CloudSpec {
    /// The runner as fleet lines and `doctor` name it: `host:port` as cloud.yaml writes the host
    /// (`[::1]:22` for an IPv6 literal), `local`, or `railway:SERVICE`.
    var runnerLabel: String {
        switch provider {
        case .ssh: HostAddress.display(host: ssh?.host ?? "localhost", port: ssh?.port ?? 22)
        case .local: "local"
        case .railway: "railway:\(railway.service)"
        }
    }
}
