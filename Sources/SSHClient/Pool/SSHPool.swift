import CLibSSH2
import FleetCore
import Foundation
import Locks
import Synchronization

/// A pool of native (libssh2) SSH connections shared by every caller of a process.
///
/// Connections are keyed by endpoint (host, port, user, identity). Each endpoint gets up to
/// `connectionsPerHost` connections, opened lazily as load needs them; each connection multiplexes
/// up to `channelsPerConnection` requests; further requests queue. Every connection owns one OS
/// thread running a poll() loop that drives all its channels non-blocking; callers suspend on
/// continuations and never block the cooperative pool. Call `shutdown()` before the process exits.
public final class SSHPool: Sendable {
    public let configuration: SSHConfiguration
    private let core: SSHPoolCore

    public init(configuration: SSHConfiguration = SSHConfiguration()) {
        SSHLibrary.ensureInitialized()
        self.configuration = configuration
        self.core = SSHPoolCore(configuration: configuration)
    }

    /// Handshakes, commands run, reconnects (to prove pooling in tests and benchmarks).
    public var statistics: SSHStatistics { core.statistics }

    /// What the last connection established to `endpoint` showed (banner, host key, known_hosts
    /// line, authentication), or nil before one was.
    public func sessionFacts(for endpoint: SSHEndpoint) -> SSHSessionFacts? {
        core.sessionFacts(for: endpoint)
    }

    /// Connections whose resources are still held: an I/O thread not yet joined, its eventfd
    /// and its socket. 0 after `shutdown()`. Tests read this rather than the process's
    /// descriptor and thread counts, which other tests running beside them change.
    var connectionsHeld: Int { core.connectionsHeld }

    /// Runs `command` through the remote account's shell. stdin bytes (if any) are written, then EOF.
    /// With a `deadline`, the remote process is bounded by `timeout` on the server and the call fails
    /// with `.timedOut`. stdout and stderr are each capped at `outputLimit`: more fails the call
    /// with `.commandFailed` at once, and closing the channel stops the remote command.
    public func run(
        _ command: String, on endpoint: SSHEndpoint, stdin: [UInt8]? = nil, deadline: Duration? = nil,
        outputLimit: Int? = nil
    ) async throws(SSHError) -> SSHCommandResult {
        let work = SSHRequest.Work.exec(
            command: command, stdin: stdin, outputLimit: outputLimit ?? configuration.defaultOutputLimit)
        let outcome = try await perform(work, on: endpoint, deadline: deadline)
        guard case .result(let result) = outcome else {
            throw SSHError(
                kind: .protocolError, host: endpoint.hostPort,
                message: "no command result from \(endpoint.hostPort)")
        }
        return result
    }

    /// Runs `command` and calls `onLine` for each line of its merged stdout and stderr, with its
    /// newline, and for an unfinished last line as it is (`LineSplitter`). Returns the exit
    /// status. Cancelling the calling task stops the stream.
    public func stream(
        _ command: String, on endpoint: SSHEndpoint, deadline: Duration? = nil,
        onLine: @Sendable (String) async -> Void
    ) async throws -> Int32 {
        let (events, continuation) = AsyncStream<SSHStreamEvent>.makeStream()
        let request = SSHRequest(
            id: core.nextRequestID(), endpoint: endpoint, work: .stream(command: command), deadline: deadline,
            target: .stream(continuation))
        let core = self.core
        let outcome: Result<Int32, SSHError>? = await withTaskCancellationHandler {
            core.submit(request)
            var splitter = LineSplitter()
            var outcome: Result<Int32, SSHError>? = nil
            for await event in events {
                switch event {
                case .output(let bytes):
                    for line in splitter.append(bytes) { await onLine(line) }
                case .finished(let result):
                    outcome = result
                }
            }
            if let tail = splitter.finish() { await onLine(tail) }
            return outcome
        } onCancel: {
            core.cancel(request)
        }
        try Task.checkCancellation()
        guard let outcome else {
            throw SSHError(
                kind: .connectionLost, host: endpoint.hostPort,
                message: "stream from \(endpoint.hostPort) ended without a status")
        }
        return try outcome.get()
    }

    /// Writes `bytes` to `remotePath` (parent directories created) over SFTP, then sets `mode`.
    public func upload(_ bytes: [UInt8], to remotePath: String, mode: Int32 = 0o644, on endpoint: SSHEndpoint)
        async throws
    {
        let plan = SSHUploadPlan(
            directories: Self.ancestors(of: remotePath),
            files: [SSHUploadFile(source: .bytes(bytes), remotePath: remotePath, mode: mode)])
        _ = try await perform(.upload(plan), on: endpoint, deadline: nil)
    }

    /// Uploads a local file (streamed in 1 MiB SFTP writes). `mode` nil keeps the local permission bits.
    public func upload(localFile: String, to remotePath: String, mode: Int32? = nil, on endpoint: SSHEndpoint)
        async throws
    {
        var info = stat()
        guard stat(localFile, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw SSHError(
                kind: .commandFailed, host: endpoint.hostPort,
                message: "cannot upload \(localFile) to \(endpoint.hostPort): not a readable regular file")
        }
        let plan = SSHUploadPlan(
            directories: Self.ancestors(of: remotePath),
            files: [
                SSHUploadFile(
                    source: .localFile(localFile), remotePath: remotePath,
                    mode: mode ?? Int32(info.st_mode & 0o7777))
            ])
        _ = try await perform(.upload(plan), on: endpoint, deadline: nil)
    }

    /// Copies the tree under `localPath` into `remoteDir` (created with its parents) in one SFTP
    /// session: directories first, then regular files with their permission bits. Symbolic links are
    /// followed; remote files that do not exist locally are left alone.
    public func uploadDirectory(localPath: String, to remoteDir: String, on endpoint: SSHEndpoint)
        async throws
    {
        let root = localPath.hasSuffix("/") && localPath.count > 1 ? String(localPath.dropLast()) : localPath
        let remoteRoot =
            remoteDir.hasSuffix("/") && remoteDir.count > 1 ? String(remoteDir.dropLast()) : remoteDir
        var info = stat()
        guard stat(root, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw SSHError(
                kind: .commandFailed, host: endpoint.hostPort,
                message: "cannot upload \(localPath) to \(endpoint.hostPort): not a directory")
        }
        var directories = Self.ancestors(of: remoteRoot + "/x")
        var files: [SSHUploadFile] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        var relatives: [String] = []
        while let relative = enumerator?.nextObject() as? String { relatives.append(relative) }
        for relative in relatives.sorted() {
            let local = root + "/" + relative
            var entry = stat()
            guard stat(local, &entry) == 0 else { continue }
            let remote = remoteRoot + "/" + relative
            switch entry.st_mode & S_IFMT {
            case S_IFDIR: directories.append(remote)
            case S_IFREG:
                files.append(
                    SSHUploadFile(
                        source: .localFile(local), remotePath: remote, mode: Int32(entry.st_mode & 0o7777)))
            default: continue
            }
        }
        directories.sort { $0.split(separator: "/").count < $1.split(separator: "/").count }
        _ = try await perform(
            .upload(SSHUploadPlan(directories: directories, files: files)), on: endpoint, deadline: nil)
    }

    /// Runs `command` (or a login shell) on a PTY, wired to this process's terminal: raw mode while
    /// it runs (restored on every exit path), window-size changes forwarded. Returns the exit status.
    public func interactive(_ command: String?, on endpoint: SSHEndpoint) async throws -> Int32 {
        try await interactive(command, on: endpoint, input: STDIN_FILENO, output: STDOUT_FILENO)
    }

    func interactive(_ command: String?, on endpoint: SSHEndpoint, input: Int32, output: Int32) async throws
        -> Int32
    {
        let terminal = SSHTerminal(input: input, output: output)
        terminal.enterRawMode()
        defer { terminal.restore() }
        let size = terminal.size()
        let term = ProcessInfo.processInfo.environment["TERM"].flatMap { $0.isEmpty ? nil : $0 } ?? "xterm"
        let request = SSHRequest(
            id: core.nextRequestID(), endpoint: endpoint,
            work: .interactive(
                command: command, term: term, columns: size.columns, rows: size.rows, inputFD: input,
                outputFD: output),
            deadline: nil)
        let core = self.core
        let watcher = terminal.watchResize { columns, rows in
            core.resize(request, columns: columns, rows: rows)
        }
        defer { watcher?.cancel() }
        let outcome = try await perform(request)
        guard case .status(let status) = outcome else { return 0 }
        return status
    }

    /// Closes every connection and joins every I/O thread. Afterwards no thread is inside libssh2 and
    /// the pool's descriptors are closed. Idempotent; later requests fail with `.connectionLost`.
    public func shutdown() async {
        await core.shutdown()
    }

    // MARK: internals

    private func perform(_ work: SSHRequest.Work, on endpoint: SSHEndpoint, deadline: Duration?)
        async throws(SSHError)
        -> SSHRequest.Outcome
    {
        try await perform(
            SSHRequest(id: core.nextRequestID(), endpoint: endpoint, work: work, deadline: deadline))
    }

    private func perform(_ request: SSHRequest) async throws(SSHError) -> SSHRequest.Outcome {
        let core = self.core
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<SSHRequest.Outcome, SSHError>, Never>) in
                request.attach(.continuation(continuation))
                core.submit(request)
            }
        } onCancel: {
            core.cancel(request)
        }
        return try result.get()
    }

    /// Remote directories to create before writing `path` (parents first, "/" excluded).
    static func ancestors(of path: String) -> [String] {
        let absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count > 1 else { return [] }
        var result: [String] = []
        var current = absolute ? "" : ""
        for (index, part) in parts.dropLast().enumerated() {
            if index == 0 {
                current = absolute ? "/" + part : part
            } else {
                current += "/" + part
            }
            if part == "." || part == ".." || part == "~" { continue }
            result.append(current)
        }
        return result
    }
}

/// Shared state behind a pool: endpoints, their connections and wait queues, statistics.
final class SSHPoolCore: SSHConnectionDelegate, Sendable {
    private struct Entry {
        let connection: SSHConnection
        var load = 0
        var accepting = true
        var established = false
    }

    private struct Host {
        var entries: [Entry] = []
        var waiting: [SSHRequest] = []
        var hadConnection = false
        var lostSinceEstablished = false
        /// What the last established connection showed.
        var facts: SSHSessionFacts?
    }

    private struct State {
        var hosts: [SSHEndpoint: Host] = [:]
        var statistics = SSHStatistics()
        var isShutdown = false
        /// Every connection whose thread has not been joined yet.
        var unjoined: [SSHConnection] = []
        var shutdownTask: Task<Void, Never>? = nil
    }

    let configuration: SSHConfiguration
    private let state = Locked(State())
    private let requestIDs = Atomic<UInt64>(0)

    init(configuration: SSHConfiguration) {
        self.configuration = configuration
    }

    func nextRequestID() -> UInt64 { requestIDs.add(1, ordering: .relaxed).newValue }

    var statistics: SSHStatistics { state.withLock { $0.statistics } }

    func sessionFacts(for endpoint: SSHEndpoint) -> SSHSessionFacts? {
        state.withLock { $0.hosts[endpoint]?.facts }
    }

    var connectionsHeld: Int { state.withLock { $0.unjoined.count } }

    private func shutDownError(_ endpoint: SSHEndpoint) -> SSHError {
        SSHError(
            kind: .connectionLost, host: endpoint.hostPort,
            message: "connection pool is shut down; nothing sent to \(endpoint.hostPort)")
    }

    func submit(_ request: SSHRequest) {
        if request.cancelled.load(ordering: .acquiring) {
            request.complete(.failure(cancelledError(request)))
            return
        }
        var refused: SSHError? = nil
        var actions = Actions()
        state.withLock { s in
            if s.isShutdown {
                refused = shutDownError(request.endpoint)
                return
            }
            s.hosts[request.endpoint, default: Host()].waiting.append(request)
            actions = dispatch(&s, request.endpoint)
            actions.toJoin = reapTerminated(&s)
        }
        if let refused { request.complete(.failure(refused)) }
        perform(actions)
    }

    func cancel(_ request: SSHRequest) {
        request.cancelled.store(true, ordering: .releasing)
        let targets = state.withLock { s -> [SSHConnection] in
            guard var host = s.hosts[request.endpoint] else { return [] }
            if let index = host.waiting.firstIndex(where: { $0 === request }) {
                host.waiting.remove(at: index)
                s.hosts[request.endpoint] = host
                return []
            }
            return host.entries.map(\.connection)
        }
        for connection in targets { connection.send(.cancel(request.id)) }
        // The caller resumes now, not when a connection gets to it: one still connecting (to a
        // silent host, through a hung resolver) reads its controls only once connected.
        request.complete(.failure(cancelledError(request)))
    }

    func resize(_ request: SSHRequest, columns: Int, rows: Int) {
        let targets = state.withLock { s in s.hosts[request.endpoint]?.entries.map(\.connection) ?? [] }
        for connection in targets { connection.send(.resize(request.id, columns: columns, rows: rows)) }
    }

    private func cancelledError(_ request: SSHRequest) -> SSHError {
        SSHError(
            kind: .cancelled, host: request.endpoint.hostPort,
            message: "request to \(request.endpoint.hostPort) was cancelled")
    }

    private struct Actions {
        var start: [SSHConnectionWorker] = []
        var fail: [(SSHRequest, SSHError)] = []
        var toJoin: [SSHConnection] = []
    }

    private func perform(_ actions: Actions) {
        for (request, error) in actions.fail { request.complete(.failure(error)) }
        for worker in actions.start where !SSHConnection.start(worker) {
            let error = SSHError(
                kind: .protocolError, host: worker.hostPort,
                message: "cannot start an I/O thread for \(worker.hostPort)")
            connectionFailed(worker.handle, error: error, unstarted: worker.handle.closeInbox())
            worker.handle.markTerminated()
        }
        // These threads have already signalled termination: joining returns at once.
        for connection in actions.toJoin { connection.joinTerminated() }
    }

    private func reapTerminated(_ s: inout State) -> [SSHConnection] {
        var done: [SSHConnection] = []
        s.unjoined.removeAll { connection in
            if connection.isTerminated {
                done.append(connection)
                return true
            }
            return false
        }
        return done
    }

    /// Hands waiting requests to connections with free channels, opening connections as needed.
    private func dispatch(_ s: inout State, _ endpoint: SSHEndpoint) -> Actions {
        var actions = Actions()
        guard var host = s.hosts[endpoint] else { return actions }
        if s.isShutdown {
            for request in host.waiting { actions.fail.append((request, shutDownError(endpoint))) }
            host.waiting = []
            s.hosts[endpoint] = host
            return actions
        }
        let perConnection = configuration.channelsPerConnection
        while let request = host.waiting.first {
            if request.isCompleted {
                host.waiting.removeFirst()
                continue
            }
            var best: Int? = nil
            for index in host.entries.indices
            where host.entries[index].accepting
                && (request.isTunnel || host.entries[index].load < perConnection)
            {
                if best == nil || host.entries[index].load < host.entries[best!].load { best = index }
            }
            if let index = best {
                if host.entries[index].connection.submit(request) {
                    if !request.isTunnel { host.entries[index].load += 1 }
                    host.waiting.removeFirst()
                } else {
                    host.entries[index].accepting = false
                }
                continue
            }
            guard host.entries.count < configuration.connectionsPerHost else { break }
            guard let connection = SSHConnection(endpoint: endpoint) else {
                host.waiting.removeFirst()
                actions.fail.append(
                    (
                        request,
                        SSHError(
                            kind: .protocolError, host: endpoint.hostPort,
                            message: "cannot create an eventfd for \(endpoint.hostPort)")
                    ))
                continue
            }
            host.entries.append(Entry(connection: connection))
            s.unjoined.append(connection)
            actions.start.append(
                SSHConnectionWorker(handle: connection, delegate: self, config: configuration))
        }
        s.hosts[endpoint] = host
        return actions
    }

    private func removeEntry(_ connection: SSHConnection, from host: inout Host) {
        host.entries.removeAll { $0.connection === connection }
    }

    // MARK: SSHConnectionDelegate (called on I/O threads)

    func connectionEstablished(_ connection: SSHConnection, facts: SSHSessionFacts) {
        state.withLock { s in
            s.statistics.handshakes += 1
            if !connection.endpoint.jumps.isEmpty { s.statistics.tunnelledHandshakes += 1 }
            guard var host = s.hosts[connection.endpoint] else { return }
            host.facts = facts
            if host.hadConnection && host.lostSinceEstablished {
                s.statistics.reconnects += 1
                host.lostSinceEstablished = false
            }
            host.hadConnection = true
            if let index = host.entries.firstIndex(where: { $0.connection === connection }) {
                host.entries[index].established = true
            }
            s.hosts[connection.endpoint] = host
        }
    }

    func connectionFailed(_ connection: SSHConnection, error: SSHError, unstarted: [SSHRequest]) {
        var actions = Actions()
        state.withLock { s in
            let endpoint = connection.endpoint
            var host = s.hosts[endpoint] ?? Host()
            removeEntry(connection, from: &host)
            let healthy = host.entries.contains { $0.established && $0.accepting }
            if healthy && !s.isShutdown {
                host.waiting.insert(contentsOf: unstarted, at: 0)
            } else {
                // Nothing works for this endpoint: everything waiting would fail the same way.
                for request in unstarted + host.waiting { actions.fail.append((request, error)) }
                host.waiting = []
            }
            s.hosts[endpoint] = host
            let more = dispatch(&s, endpoint)
            actions.start = more.start
            actions.fail += more.fail
        }
        perform(actions)
    }

    func connectionLost(_ connection: SSHConnection, error: SSHError, unstarted: [SSHRequest]) {
        var actions = Actions()
        state.withLock { s in
            let endpoint = connection.endpoint
            var host = s.hosts[endpoint] ?? Host()
            removeEntry(connection, from: &host)
            s.statistics.connectionsLost += 1
            host.lostSinceEstablished = true
            var requeue: [SSHRequest] = []
            for request in unstarted where !request.isCompleted {
                if request.resubmissions.add(1, ordering: .relaxed).newValue > 3 {
                    actions.fail.append((request, error))
                } else {
                    requeue.append(request)
                }
            }
            s.statistics.resubmitted += requeue.count
            host.waiting.insert(contentsOf: requeue, at: 0)
            s.hosts[endpoint] = host
            let more = dispatch(&s, endpoint)
            actions.start = more.start
            actions.fail += more.fail
        }
        perform(actions)
    }

    func requestFinished(_ connection: SSHConnection, _ request: SSHRequest, succeeded: Bool) {
        var actions = Actions()
        state.withLock { s in
            if succeeded { s.statistics.commandsRun += 1 }
            guard var host = s.hosts[connection.endpoint] else { return }
            if !request.isTunnel, let index = host.entries.firstIndex(where: { $0.connection === connection })
            {
                host.entries[index].load = max(0, host.entries[index].load - 1)
            }
            s.hosts[connection.endpoint] = host
            if !host.waiting.isEmpty { actions = dispatch(&s, connection.endpoint) }
        }
        perform(actions)
    }

    // MARK: shutdown

    func shutdown() async {
        let task = state.withLock { s -> Task<Void, Never> in
            if let existing = s.shutdownTask { return existing }
            s.isShutdown = true
            var failed: [(SSHRequest, SSHError)] = []
            for (endpoint, var host) in s.hosts {
                for request in host.waiting { failed.append((request, shutDownError(endpoint))) }
                host.waiting = []
                s.hosts[endpoint] = host
            }
            let connections = s.unjoined
            s.unjoined = []
            let task = Task {
                for (request, error) in failed { request.complete(.failure(error)) }
                for connection in connections { connection.requestShutdown() }
                for connection in connections {
                    await connection.waitTerminated()
                    connection.joinTerminated()
                }
            }
            s.shutdownTask = task
            return task
        }
        await task.value
        state.withLock { s in s.hosts = [:] }
    }
}
