import ArgumentParser
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where command output goes: data on stdout, messages on stderr, unbuffered writes so that JSON
/// lines reach a pipe as soon as they are complete.
enum Output {
    static func stdout(_ text: String) { write(STDOUT_FILENO, text) }
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

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
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
