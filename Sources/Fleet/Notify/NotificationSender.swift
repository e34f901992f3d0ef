import FleetCore
import Foundation
import Synchronization
import Transport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Delivers one event to one target before a deadline: a webhook through Foundation's URLSession
/// (libcurl on Linux), a command through swift-subprocess (killed and reaped when cancelled).
/// A failure is a message, never a throw: the caller counts it and tries again next run.
enum NotificationSender {
    /// A command's stdout and stderr are read up to this much (then it is stopped and fails).
    static let commandOutputLimit = 64 << 10

    /// nil when delivered; else why not (unredacted: the caller redacts it).
    static func send(
        _ body: [UInt8], to target: NotifyTarget, environment: [String: String],
        until deadline: ContinuousClock.Instant
    ) async -> String? {
        await withTaskGroup(of: Finish.self) { group in
            group.addTask {
                switch target.destination {
                case .webhook(let url, let headers):
                    await post(body, url: url, headers: headers, environment: environment, until: deadline)
                case .command(let argv): await run(body, argv: argv)
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return .failed(deadlineMessage)
            }
            let first = await group.next() ?? .failed("not sent")
            group.cancelAll()
            return first
        }.failure
    }

    private enum Finish: Sendable {
        case delivered
        case failed(String)

        var failure: String? {
            guard case .failed(let message) = self else { return nil }
            return message
        }
    }

    private static func post(
        _ body: [UInt8], url: String, headers: [NotifyTarget.Header], environment: [String: String],
        until deadline: ContinuousClock.Instant
    ) async -> Finish {
        guard let address = URL(string: url) else { return .failed("not a URL") }
        var request = URLRequest(url: address)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for header in headers {
            guard let value = environment[header.environmentVariable], !value.isEmpty else {
                return .failed(
                    "header \(header.name): environment variable \(header.environmentVariable) is not set")
            }
            request.setValue(value, forHTTPHeaderField: header.name)
        }
        let remaining = ContinuousClock.now.duration(to: deadline)
        request.timeoutInterval = max(0.001, Double(remaining.components.seconds) + 0.001)
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let (status, failure) = await exchange(request, in: session)
        if let failure { return .failed(failure) }
        return (200..<300).contains(status) ? .delivered : .failed("HTTP status \(status)")
    }

    /// One request; cancelling the calling task cancels it (URLSession's completion handler then
    /// reports the cancellation), so a hanging server is left at the deadline.
    private static func exchange(_ request: URLRequest, in session: URLSession) async -> (Int, String?) {
        let box = TaskBox()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let task = session.dataTask(with: request) { _, response, error in
                    if let error {
                        continuation.resume(returning: (0, describe(error)))
                    } else {
                        continuation.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? 0, nil))
                    }
                }
                box.start(task)
            }
        } onCancel: {
            box.cancel()
        }
    }

    /// A timeout (the request's own, set to the deadline) or a cancellation (the deadline's) is
    /// the deadline; anything else, Foundation's description.
    private static func describe(_ error: any Error) -> String {
        switch (error as? URLError)?.code {
        case .timedOut?, .cancelled?: deadlineMessage
        default: error.localizedDescription
        }
    }

    static let deadlineMessage = "no answer before the tick's deadline"

    private static func run(_ body: [UInt8], argv: [String]) async -> Finish {
        do {
            let output = try await LocalProgram(path: argv[0]).run(
                Array(argv.dropFirst()), stdin: body, outputLimit: commandOutputLimit)
            guard output.status != 0 else { return .delivered }
            let said = output.stderr.split(whereSeparator: \.isNewline).first.map { ": \($0)" } ?? ""
            return .failed("exit status \(output.status)\(TextCut.excerpt(String(said), limit: 300))")
        } catch {
            return .failed(error.message)
        }
    }
}

/// Hands a URLSession task to a cancellation handler that may run before it exists: a cancel that
/// comes first is remembered and applied when the task starts.
private final class TaskBox: Sendable {
    private struct State {
        var task: URLSessionTask?
        var cancelled = false
    }
    private let state = Mutex(State())

    func start(_ task: URLSessionTask) {
        let cancelled = state.withLock {
            $0.task = task
            return $0.cancelled
        }
        if cancelled { task.cancel() } else { task.resume() }
    }

    func cancel() {
        let task = state.withLock {
            $0.cancelled = true
            return $0.task
        }
        task?.cancel()
    }
}
