/// A value guarded by a `Lock`; the API mirrors `Synchronization.Mutex.withLock`.
///
/// `@unchecked Sendable` is sound: `value` is only read or written inside `withLock`, under the one
/// lock this object owns, and `Value` is required to be Sendable, so handing it across threads under
/// the lock is allowed.
///
/// `Value` must not be zero-sized (`Void`): a zero-sized stored property shares its address with
/// the `lock` field, so ThreadSanitizer takes the `inout` access inside the lock for a write to
/// the pointer every caller reads before locking, and reports a race.
package final class Locked<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let lock = Lock()

    package init(_ value: Value) {
        assert(MemoryLayout<Value>.size > 0, "Locked needs a value that is not zero-sized")
        self.value = value
    }

    package func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result)
        throws(Failure) -> Result
    {
        try lock.withLock { () throws(Failure) -> Result in try body(&value) }
    }
}
