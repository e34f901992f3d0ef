import Foundation

/// The jump host's end of the socket pair a tunnelled session runs over: the inner connection's
/// worker reads and writes the other end as its socket. Closed when the last reference (the
/// request, the op relaying it) goes; `SSHTunnelOp` shuts it down as soon as its channel ends, so
/// that the inner session sees the end of its stream at once. Sendable: one immutable descriptor.
final class SSHTunnelEnd: Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }
}
