import Glibc

/// A pthread mutex.
///
/// Why not `Synchronization.Mutex`: on Linux its lock/unlock live in the (uninstrumented) stdlib
/// shared library, so ThreadSanitizer cannot see the happens-before edges and reports every guarded
/// access as a race. pthread mutexes are intercepted by TSan, which keeps `--sanitize=thread` useful
/// (scripts/sanitize.sh).
///
/// `@unchecked Sendable` is sound: the only state is the mutex, allocated once and never moved, and
/// pthread mutexes are made to be shared between threads.
package final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` holding the mutex.
    package func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure)
        -> Result
    {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
