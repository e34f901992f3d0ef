/// How a benchmark's runners answer.
public enum RunnerMode: String, Sendable {
    /// Recorded answers after a fixed service time (runners with CPUs of their own).
    case replay
    /// Live stand-ins: every command really runs on the loopback runner, sharing this machine's
    /// CPUs with the client.
    case live
}

/// The command line of a benchmark tool, read one argument at a time.
public struct BenchArguments {
    private var remaining: ArraySlice<String>

    public init(_ arguments: [String] = CommandLine.arguments) {
        remaining = arguments.dropFirst()
    }

    /// The next argument, if any.
    public mutating func next() -> String? { remaining.popFirst() }

    /// The value after the flag `name`, as given.
    public mutating func value(after name: String) throws -> String {
        guard let value = remaining.popFirst() else { throw BenchError("\(name) takes a value") }
        return value
    }

    /// The value after the flag `name`: a whole number, at least 0.
    public mutating func number(after name: String) throws -> Int {
        guard let value = remaining.popFirst().flatMap({ Int($0) }), value >= 0 else {
            throw BenchError("\(name) takes a number")
        }
        return value
    }

    /// The value after the flag `name`: one of `T`'s raw values.
    public mutating func choice<T: RawRepresentable>(after name: String, of allowed: [T]) throws -> T
    where T.RawValue == String {
        guard let value = remaining.popFirst().flatMap(T.init(rawValue:)) else {
            throw BenchError("\(name) takes \(allowed.map(\.rawValue).joined(separator: " or "))")
        }
        return value
    }
}
