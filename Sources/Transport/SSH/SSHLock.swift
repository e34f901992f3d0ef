import Foundation

/// A value guarded by a pthread mutex; the API mirrors `Synchronization.Mutex.withLock`.
///
/// Why not `Synchronization.Mutex`: on Linux its lock/unlock live in the (uninstrumented) stdlib
/// shared library, so ThreadSanitizer cannot see the happens-before edges and reports every guarded
/// access as a race. pthread mutexes are intercepted by TSan, which keeps `--sanitize=thread` useful.
///
/// `@unchecked Sendable` is sound: `value` is only read or written inside `withLock`, between
/// `pthread_mutex_lock` and `pthread_mutex_unlock` on the one mutex this object owns, and `Value`
/// is required to be Sendable, so handing it across threads under the lock is allowed.
///
/// `Value` must not be zero-sized (`Void`): a zero-sized stored property shares its address with
/// the `mutex` field, so ThreadSanitizer takes the `inout` access inside the lock for a write to
/// the pointer every caller reads before locking, and reports a race.
package final class SSHLock<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init(_ value: Value) {
        assert(MemoryLayout<Value>.size > 0, "SSHLock needs a value that is not zero-sized")
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result)
        throws(Failure)
        -> Result
    {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
