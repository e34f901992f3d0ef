import CLibSSH2

/// `libssh2_init` is not thread-safe and must run exactly once per process: a Swift global/static
/// `let` is initialised exactly once, under `swift_once`, whichever thread gets there first.
enum SSHLibrary {
    private static let initResult: Int32 = libssh2_init(0)

    static func ensureInitialized() {
        _ = initResult
    }
}
