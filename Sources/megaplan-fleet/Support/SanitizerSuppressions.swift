/// ThreadSanitizer calls this C function, when the binary is built with `--sanitize=thread`, for
/// suppressions that apply without any TSAN_OPTIONS (the tests start this binary with a minimal
/// environment). In other builds nothing calls it.
///
/// The one suppression: swift-subprocess guards its I/O registrations (`AsyncIO`) with
/// `Synchronization.Mutex`, whose lock and unlock live in the uninstrumented standard library on
/// Linux, so ThreadSanitizer sees none of its happens-before edges and reports every guarded
/// access as a race (the reason Transport uses `SSHLock`). The pattern matches only frames in
/// that dependency's `IO/AsyncIO` files.
@_cdecl("__tsan_default_suppressions")
func tsanDefaultSuppressions() -> UnsafePointer<CChar> {
    let text: StaticString = "race:Sources/Subprocess/IO/AsyncIO\n"
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}
