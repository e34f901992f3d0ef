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
    func upload(_ bytes: [UInt8], to remotePath: String, mode: Int32 = 0o644, on endpoint: SSHEndpoint)
        async throws(SSHError)
    {
        let plan = SSHUploadPlan(
            directories: Self.ancestors(of: remotePath),
            files: [SSHUploadFile(source: .bytes(bytes), remotePath: remotePath, mode: mode)])
        _ = try await perform(.upload(plan), on: endpoint, deadline: nil)
    }

    /// Uploads a local file (streamed in 1 MiB SFTP writes). `mode` nil keeps the local permission bits.
    func upload(localFile: String, to remotePath: String, mode: Int32? = nil, on endpoint: SSHEndpoint)
        async throws(SSHError)
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
        async throws(SSHError)
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
    public func interactive(_ command: String?, on endpoint: SSHEndpoint) async throws(SSHError) -> Int32 {
        try await interactive(command, on: endpoint, input: STDIN_FILENO, output: STDOUT_FILENO)
    }

    func interactive(_ command: String?, on endpoint: SSHEndpoint, input: Int32, output: Int32)
        async throws(SSHError) -> Int32
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
