import CLibSSH2
import FleetCore
import Foundation
import Locks

// MARK: ProxyJump: the socket pair relayed by the jump host's connection

extension SSHConnectionWorker {
    /// One end of a socket pair whose other end the jump host's pooled connection relays to a
    /// `direct-tcpip` channel to this endpoint (`SSHTunnelOp`), once that channel is open.
    func openTunnel(through bastion: SSHEndpoint, deadline: ContinuousClock.Instant) throws(SSHError) -> Int32
    {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0
        else {
            throw SSHError(
                kind: .protocolError, host: hostPort,
                message: "cannot create a socket pair for \(hostPort): \(String(cString: strerror(errno)))")
        }
        _ = mpf_set_nonblocking(pair[0])
        _ = mpf_set_nonblocking(pair[1])
        let outcome = Locked<Result<SSHRequest.Outcome, SSHError>?>(nil)
        let handle = self.handle
        let request = SSHRequest(
            id: delegate.nextRequestID(), endpoint: bastion,
            work: .tunnel(host: endpoint.host, port: endpoint.port, end: SSHTunnelEnd(fd: pair[1])),
            deadline: nil,
            target: .callback { result in
                outcome.withLock { $0 = result }
                handle.wake()
            })
        tunnel = request
        delegate.submit(request)
        while true {
            switch outcome.withLock({ $0 }) {
            case .success?:
                return pair[0]
            case .failure(let error)?:
                close(pair[0])
                throw SSHError(
                    kind: error.kind, host: hostPort,
                    message:
                        "cannot reach \(hostPort) through jump host \(bastion.hostPort): \(error.message)")
            case nil:
                do throws(SSHError) {
                    try waitFD(
                        pair[0], events: Int16(POLLIN), deadline: deadline,
                        phase: "opening a channel through jump host \(bastion.hostPort)",
                        timeoutKind: .unreachable, returnOnWake: true)
                } catch {
                    close(pair[0])
                    throw error
                }
            }
        }
    }
}
