import CLibSSH2
import Dispatch
import Foundation

/// The local terminal during `SSHPool.interactive`: raw mode on entry, restored by `restore()`
/// (called from a `defer`, so on every exit path of the call), window size, SIGWINCH watching.
final class SSHTerminal {
    let input: Int32
    let output: Int32
    private var saved = termios()
    private var isRaw = false

    init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    func enterRawMode() {
        guard isatty(input) == 1, tcgetattr(input, &saved) == 0 else { return }
        var raw = saved
        cfmakeraw(&raw)
        if tcsetattr(input, TCSAFLUSH, &raw) == 0 { isRaw = true }
    }

    func restore() {
        guard isRaw else { return }
        _ = tcsetattr(input, TCSAFLUSH, &saved)
        isRaw = false
    }

    func size() -> (columns: Int, rows: Int) {
        var columns: Int32 = 0
        var rows: Int32 = 0
        for fd in [output, input] where mpf_terminal_size(fd, &columns, &rows) == 0 && columns > 0 && rows > 0
        {
            return (Int(columns), Int(rows))
        }
        return (80, 24)
    }

    /// Calls `onResize` with the new size on every SIGWINCH (only when attached to a terminal).
    func watchResize(_ onResize: @escaping @Sendable (Int, Int) -> Void) -> (any DispatchSourceSignal)? {
        guard isatty(output) == 1 || isatty(input) == 1 else { return nil }
        let fds = (output, input)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        source.setEventHandler {
            var columns: Int32 = 0
            var rows: Int32 = 0
            if mpf_terminal_size(fds.0, &columns, &rows) == 0
                || mpf_terminal_size(fds.1, &columns, &rows) == 0
            {
                onResize(Int(columns), Int(rows))
            }
        }
        source.resume()
        return source
    }
}
