// ThreadSanitizer calls __tsan_default_suppressions() while it initialises, before any thread
// state exists, so the hook is C and not instrumented (a Swift function would be, and crashes
// there). It is compiled only into --sanitize=thread builds, and applies without TSAN_OPTIONS
// (the tests start the binary with a minimal environment).
//
// The one suppression: swift-subprocess guards its I/O registrations (`AsyncIO`) with
// Synchronization.Mutex, whose lock and unlock live in the uninstrumented standard library on
// Linux, so ThreadSanitizer sees none of its happens-before edges and reports every guarded
// access as a race (the reason our code uses the pthread-based Locks module). The pattern matches only frames in that
// dependency's IO/AsyncIO files.
#include "CSanitizerHooks.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
__attribute__((no_sanitize("thread"), visibility("default"), used))
const char *__tsan_default_suppressions(void) {
    return "race:Sources/Subprocess/IO/AsyncIO\n";
}
#endif
#endif
