import CLibSSH2
import FleetCore
import Foundation
import Locks
import Synchronization

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
        connectionLeft(connection) { s, host, actions in
            let healthy = host.entries.contains { $0.established && $0.accepting }
            if healthy && !s.isShutdown {
                host.waiting.insert(contentsOf: unstarted, at: 0)
            } else {
                // Nothing works for this endpoint: everything waiting would fail the same way.
                for request in unstarted + host.waiting { actions.fail.append((request, error)) }
                host.waiting = []
            }
        }
    }

    func connectionLost(_ connection: SSHConnection, error: SSHError, unstarted: [SSHRequest]) {
        connectionLeft(connection) { s, host, actions in
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
        }
    }

    /// A connection left its endpoint: `settle` decides, under the lock, what becomes of the
    /// requests it had not started; then the endpoint's queue is dispatched again.
    private func connectionLeft(
        _ connection: SSHConnection, settle: (inout State, inout Host, inout Actions) -> Void
    ) {
        var actions = Actions()
        state.withLock { s in
            let endpoint = connection.endpoint
            var host = s.hosts[endpoint] ?? Host()
            removeEntry(connection, from: &host)
            settle(&s, &host, &actions)
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
