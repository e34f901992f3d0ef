import Dispatch
import FleetCore
import Synchronization
import Transport

/// How a fleet run goes: which operation, and the limits that keep one slow host from costing
/// more than its own projects' deadlines.
public struct FleetRunOptions: Sendable {
    public var operation: FleetLine.Operation
    public var dryRun = false
    /// Projects in flight across the fleet.
    public var concurrency = 16
    /// Projects in flight on one host.
    public var perHost = 8
    /// How long one project may take; past it the project's line says `timeout`.
    public var deadline: Duration = .seconds(60)

    public init(operation: FleetLine.Operation) { self.operation = operation }
}

/// Runs one operation over many projects in parallel and hands back each line as it finishes.
public struct FleetScheduler: Sendable {
    public let actors: [ProjectActor]

    public init(actors: [ProjectActor]) { self.actors = actors }

    /// Runs every project once. `emit` is called from one task at a time, in completion order.
    /// Cancelling the calling task stops the run: projects not started are left out, running ones
    /// are cancelled, and the summary says `interrupted`.
    public func run(
        _ options: FleetRunOptions, tick: String, emit: (FleetLine, _ remoteCommands: Int) async -> Void
    ) async -> FleetSummary {
        let started = ContinuousClock.now
        var summary = FleetSummary(tick: tick, operation: options.operation)
        let global = AsyncLimiter(limit: options.concurrency)
        var hosts: [String: AsyncLimiter] = [:]
        for actor in actors where hosts[actor.hostKey] == nil {
            hosts[actor.hostKey] = AsyncLimiter(limit: options.perHost)
        }
        await withTaskGroup(of: (FleetLine, Int)?.self) { group in
            for actor in actors {
                let hostLimiter = hosts[actor.hostKey]!
                group.addTask {
                    await global.acquire()
                    await hostLimiter.acquire()
                    let result =
                        Task.isCancelled
                        ? nil : await Self.runWithDeadline(actor, options: options, tick: tick)
                    await hostLimiter.release()
                    await global.release()
                    return result
                }
            }
            for await result in group {
                guard let (line, commands) = result else { continue }
                summary.add(line, remoteCommands: commands)
                await emit(line, commands)
            }
        }
        summary.interrupted = Task.isCancelled
        summary.wallMilliseconds = Int((ContinuousClock.now - started) / .milliseconds(1))
        return summary
    }

    /// The project's run, or a `timeout` line when the deadline passes first. The run itself is
    /// cancelled (which cancels its pending SSH requests) and left to unwind on its own: the line
    /// does not wait for it, because a request still in a connection's handshake to a hung host
    /// only gives up at the connect timeout, which may be far longer than the deadline. The same
    /// holds when the whole fleet run is cancelled (SIGTERM).
    static func runWithDeadline(_ actor: ProjectActor, options: FleetRunOptions, tick: String) async -> (
        FleetLine, Int
    )? {
        enum Race: Sendable {
            case finished(FleetLine)
            case deadline
            case cancelled
        }
        let started = ContinuousClock.now
        let timestamp = Timestamp.now()
        let work = Task { await actor.run(options.operation, dryRun: options.dryRun, tick: tick) }
        let race: Race = await withTaskGroup(of: Race.self) { group in
            group.addTask {
                if let line = await Self.value(of: work) { return .finished(line) }
                return .cancelled
            }
            group.addTask {
                await DeadlineTimer.wait(options.deadline) ? .deadline : .cancelled
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            return first
        }
        work.cancel()
        if Task.isCancelled { return nil }
        switch race {
        case .finished(let line): return (line, await actor.lastCommandCount)
        case .cancelled: return nil
        case .deadline: break
        }
        let commands = await actor.lastCommandCount
        var provider: String?
        if case .success(let spec) = actor.cloud { provider = spec.provider.rawValue }
        let seconds =
            Double(options.deadline.components.seconds) + Double(options.deadline.components.attoseconds)
            / 1e18
        let line = FleetLine(
            tick: tick, timestamp: timestamp, project: actor.project.name, provider: provider,
            host: actor.hostKey,
            operation: options.operation,
            durationMilliseconds: Int((ContinuousClock.now - started) / .milliseconds(1)),
            outcome: .error, errorKind: "timeout",
            report: ["message": .string("project did not finish within its deadline of \(seconds) s")],
            effectiveStatus: nil)
        return (line, commands)
    }

    /// `work`'s value, or nil as soon as the calling task is cancelled (then `work` is cancelled
    /// too, and its value is not awaited).
    static func value<T: Sendable>(of work: Task<T, Never>) async -> T? {
        let slot = OneShot<T?>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                slot.install(continuation)
                Task { slot.resume(await work.value) }
            }
        } onCancel: {
            work.cancel()
            slot.resume(nil)
        }
    }
}

/// A continuation resumed by whichever of several callers comes first; a value that arrives
/// before the continuation is installed is kept for it.
final class OneShot<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Never>?
        var value: T?
        var done = false
    }
    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<T, Never>) {
        let ready: T? = state.withLock { s in
            if let value = s.value {
                s.value = nil
                return value
            }
            s.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func resume(_ value: T) {
        let continuation: CheckedContinuation<T, Never>? = state.withLock { s in
            guard !s.done else { return nil }
            s.done = true
            if let continuation = s.continuation {
                s.continuation = nil
                return continuation
            }
            s.value = value
            return nil
        }
        continuation?.resume(returning: value)
    }
}

/// A project's deadline: a wait whose timer is freed as soon as the wait is cancelled.
///
/// Nearly every project finishes long before its deadline, so nearly every deadline wait is
/// cancelled. A cancelled `Task.sleep` throws at once but leaves its wake-up task armed on a
/// Dispatch timer until the original deadline passes (swiftlang/swift#60441), about 750 bytes
/// each: a process that ticks back to back held one per project for every tick of the last
/// deadline (60 s by default; the load run's 100 projects grew 6.7 MiB before it levelled off).
/// A cancelled Dispatch timer source is disarmed and released at once.
enum DeadlineTimer {
    /// Waits `duration`: true when it passed, false as soon as the calling task is cancelled.
    static func wait(_ duration: Duration) async -> Bool {
        let outcome = OneShot<Bool>()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.setEventHandler { outcome.resume(true) }
        timer.schedule(deadline: .now() + interval(duration))
        let passed = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                outcome.install(continuation)
                timer.activate()
            }
        } onCancel: {
            outcome.resume(false)
        }
        timer.cancel()
        return passed
    }

    /// `duration` for Dispatch; beyond 30 years it is never.
    static func interval(_ duration: Duration) -> DispatchTimeInterval {
        let nanoseconds = duration / .nanoseconds(1)
        return nanoseconds < 1e18 ? .nanoseconds(max(0, Int(nanoseconds))) : .never
    }
}

/// A counting semaphore for tasks: waiting suspends, never blocks a thread.
actor AsyncLimiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { available = max(1, limit) }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
