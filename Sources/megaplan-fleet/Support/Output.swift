import ArgumentParser
import FleetCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where command output goes: data on stdout, messages on stderr, unbuffered writes so that JSON
/// lines reach a pipe as soon as they are complete.
enum Output {
    /// Set when a write to stdout failed with EPIPE (its reader went away, as with `| head -1`):
    /// later stdout writes are skipped, and the run goes on (see `ignoreBrokenPipes`).
    static let stdoutClosed = Atomic<Bool>(false)

    /// A closed stdout must not kill a fleet run (SIGPIPE's default): the other projects still
    /// get their tick and the Prometheus file is still written. Writes then fail with EPIPE.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    static func stdout(_ text: String) {
        guard !stdoutClosed.load(ordering: .relaxed) else { return }
        if write(STDOUT_FILENO, text) == EPIPE, !stdoutClosed.exchange(true, ordering: .relaxed) {
            Self.stderr("megaplan-fleet: stdout was closed; carrying on without printing lines\n")
        }
    }
    static func stderr(_ text: String) { write(STDERR_FILENO, text) }

    /// Prints a reference-style JSON document (2-space indent) with every string redacted.
    static func document(_ value: JSONValue, redactor: Redactor = .shapesOnly) {
        stdout(redactor.serialized(value, .pretty) + "\n")
    }

    /// Text that came from a runner, redacted, and sanitized (`TerminalText`) when it goes to a
    /// terminal or when `always` says it is for people only. Piped output keeps its bytes.
    static func remote(_ text: String, to descriptor: Int32, redactor: Redactor, always: Bool = false) {
        let redacted = redactor.redact(text)
        write(
            descriptor,
            always || TerminalText.isTerminal(descriptor) ? TerminalText.sanitize(redacted) : redacted)
    }

    /// Writes all of `text`; returns 0, or the errno that stopped it.
    @discardableResult
    static func write(_ fd: Int32, _ text: String) -> Int32 {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return 0
    }
}

/// Runs a command body and turns a `FleetError` into the reference's envelope and exit status 1.
/// The redactor is only built when an error is reported (it may read cloud.yaml again).
func reportingErrors(redactor: @autoclosure () -> Redactor = .shapesOnly, _ body: () async throws -> Void)
    async throws
{
    do {
        try await body()
    } catch let error as FleetError {
        Output.document(error.envelope, redactor: redactor())
        throw ExitCode(1)
    }
}
