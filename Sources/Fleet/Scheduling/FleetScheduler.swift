import Dispatch
import FleetCore
import Locks
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
struct FleetScheduler: Sendable {
    let actors: [ProjectActor]

    /// Runs every project once. `emit` is called from one task at a time, in completion order.
    /// Cancelling the calling task stops the run: projects not started are left out, running ones
    /// are cancelled, and the summary says `interrupted`.
    func run(
        _ options: FleetRunOptions, tick: String, emit: (FleetLine, _ remoteCommands: Int) async -> Void
    ) async -> FleetSummary {
        let started = ContinuousClock.now
        var summary = FleetSummary(tick: tick, operation: options.operation)
        let global = AsyncLimiter(limit: options.concurrency)
        var hosts: [String: AsyncLimiter] = [:]
        for actor in actors where hosts[actor.hostKey] == nil {
            hosts[actor.hostKey] = AsyncLimiter(limit: options.perHost)
        }
        await withTaskGroup(of: ProjectResult.self) { group in
            for actor in actors {
                let hostLimiter = hosts[actor.hostKey]!
                group.addTask {
                    await global.acquire()
                    await hostLimiter.acquire()
                    let result =
                        Task.isCancelled
                        ? .interrupted(project: actor.project.name)
                        : await Self.runWithDeadline(actor, options: options, tick: tick)
                    await hostLimiter.release()
                    await global.release()
                    return result
                }
            }
            for await result in group {
                switch result {
                case .line(let line, let commands):
                    summary.add(line, remoteCommands: commands)
                    await emit(line, commands)
                case .interrupted(let project):
                    summary.interruptedProjects.append(project)
                }
            }
        }
        summary.interruptedProjects.sort()
        summary.interrupted = Task.isCancelled
        summary.wallMilliseconds = Int((ContinuousClock.now - started) / .milliseconds(1))
        return summary
    }

    /// What became of one project of a run.
    enum ProjectResult: Sendable {
        case line(FleetLine, remoteCommands: Int)
        /// The run was cancelled (SIGTERM) before the project completed, or before it started.
        case interrupted(project: String)
    }

    /// The project's run, or a `timeout` line when its deadline (the project's own `deadline:` from
    /// the fleet file, else the run's) passes first. At the deadline the run is cancelled (which
    /// cancels its pending SSH requests) and left to unwind on its own: the line does not wait for
    /// it. Its remote commands end by then too (see `ChainStatusReader.deadline`).
    ///
    /// When the whole fleet run is cancelled (SIGTERM), only the project's work is: its pending
    /// requests fail at once, and a restart already sent runs to its end, so the race below (a
    /// task the fleet's cancellation does not reach) sees the work finish. A project whose work
    /// completed anyway (it observed, or it acted) keeps its line; the others are `interrupted`.
    static func runWithDeadline(_ actor: ProjectActor, options: FleetRunOptions, tick: String) async
        -> ProjectResult
    {
        enum Race: Sendable {
            case finished(FleetLine)
            case deadline
            case cancelled
        }
        let started = ContinuousClock.now
        let timestamp = Timestamp.now()
        let deadline =
            actor.project.deadlineSeconds.map { Duration.milliseconds(Int($0 * 1000)) } ?? options.deadline
        let work = Task {
            await actor.run(
                options.operation, dryRun: options.dryRun, tick: tick, deadline: started + deadline)
        }
        let race = Task { () async -> Race in
            await withTaskGroup(of: Race.self) { group in
                group.addTask {
                    if let line = await Self.value(of: work) { return .finished(line) }
                    return .cancelled
                }
                group.addTask {
                    await DeadlineTimer.wait(deadline) ? .deadline : .cancelled
                }
                let first = await group.next() ?? .cancelled
                group.cancelAll()
                return first
            }
        }
        let outcome = await withTaskCancellationHandler {
            await race.value
        } onCancel: {
            work.cancel()
        }
        work.cancel()
        let interrupted = Task.isCancelled
        switch outcome {
        case .finished(let line):
            let acted = line.report["acted"] == .bool(true)
            if interrupted, line.outcome == .error, !acted {
                return .interrupted(project: actor.project.name)
            }
            return .line(line, remoteCommands: await actor.lastCommandCount)
        case .cancelled:
            return .interrupted(project: actor.project.name)
        case .deadline:
            break
        }
        let commands = await actor.lastCommandCount
        var provider: CloudSpec.Provider?
        if case .success(let spec) = actor.cloud { provider = spec.provider }
        let seconds = deadline.secondsDouble
        let line = FleetLine(
            tick: tick, timestamp: timestamp, project: actor.project.name, provider: provider,
            host: actor.hostKey,
            operation: options.operation,
            durationMilliseconds: Int((ContinuousClock.now - started) / .milliseconds(1)),
            outcome: .error, errorKind: .timeout,
            report: ["message": .string("project did not finish within its deadline of \(seconds) s")],
            effectiveStatus: nil)
        return .line(line, remoteCommands: commands)
    }

    /// `work`'s value, or nil as soon as the calling task is cancelled (then `work` is cancelled
    /// too, and its value is not awaited).
    static func value<T: Sendable>(of work: Task<T, Never>) async -> T? {
        let slot = ResumeOnce<T?, CheckedContinuation<T?, Never>>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                slot.attach(continuation)
                Task { slot.resolve(await work.value) }
            }
        } onCancel: {
            work.cancel()
            slot.resolve(nil)
        }
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
        let outcome = ResumeOnce<Bool, CheckedContinuation<Bool, Never>>()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.setEventHandler { outcome.resolve(true) }
        timer.schedule(deadline: .now() + interval(duration))
        let passed = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                outcome.attach(continuation)
                timer.activate()
            }
        } onCancel: {
            outcome.resolve(false)
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
