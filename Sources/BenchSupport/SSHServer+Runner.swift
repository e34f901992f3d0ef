extension SSHServer {
    /// A runner host: an sshd whose sessions find the runner stand-ins installed in `account`'s
    /// home by `RunnerAccount.installStandIns` (sshd's SetEnv, or the instruments' environment
    /// with private copies first). `replay`: every command goes through `RunnerReplay`'s script
    /// (record, then answer from the recording after a fixed service time); `cpu` accounts the
    /// host's CPU. The tests, the
    /// benchmarks, the load run and the demo start their runners here.
    public static func runnerHost(
        account: String? = nil, replay: RunnerReplay? = nil, instruments: RunnerInstruments? = nil,
        cpu: CPUAccount? = nil, extraConfig: [String] = [], listenAddress: String = "127.0.0.1",
        namespace: String? = nil
    ) throws -> SSHServer {
        let account = try account ?? defaultAccount()
        try RunnerAccount.prepare(account)
        let home = try RunnerAccount.home(of: account)
        let environment =
            (instruments?.environment(home: home) ?? RunnerAccount.standInEnvironment(home: home))
            + (replay.map { " FLEET_BENCH_CACHE=\($0.directory)" } ?? "")
        // MaxStartups: a fleet tick opens many connections per host at once.
        var lines = ["SetEnv \(environment)", "MaxStartups 100"]
        if let replay { lines.append("ForceCommand /bin/sh \(replay.script)") }
        return try SSHServer(
            options: SSHServerOptions(
                extraConfig: lines + extraConfig, account: account, cpu: cpu, listenAddress: listenAddress,
                namespace: namespace))
    }
}
