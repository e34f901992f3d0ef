import ArgumentParser

/// How a benchmark's runners answer.
public enum RunnerMode: String, Sendable, CaseIterable, ExpressibleByArgument {
    /// Recorded answers after a fixed service time (runners with CPUs of their own).
    case replay
    /// Live stand-ins: every command really runs on the loopback runner, sharing this machine's
    /// CPUs with the client.
    case live
}
