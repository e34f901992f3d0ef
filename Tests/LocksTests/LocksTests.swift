import Locks
import Testing

/// A receiver that records what it was handed, for checking how many deliveries happened.
private final class Inbox: Sendable {
    let values = Locked<[Int]>([])
    var received: [Int] { values.withLock { $0 } }
}

@Suite("Locks") struct LocksTests {
    private struct Refused: Error, Equatable {}

    @Test func lockedSerialisesConcurrentUpdates() async {
        let counter = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<64 { group.addTask { for _ in 0..<100 { counter.withLock { $0 += 1 } } } }
        }
        #expect(counter.withLock { $0 } == 6400)
    }

    @Test func withLockReturnsTheBodysValueAndItsTypedError() {
        let lock = Lock()
        #expect(lock.withLock { 42 } == 42)
        #expect(throws: Refused()) { try lock.withLock { () throws(Refused) in throw Refused() } }
        // The lock was released by the throw: taking it again does not deadlock.
        #expect(lock.withLock { true })
    }

    @Test func aValueResolvedBeforeTheReceiverIsKeptForIt() {
        let inbox = Inbox()
        let once = ResumeOnce<Int, Inbox> { value, inbox in inbox.values.withLock { $0.append(value) } }
        #expect(once.resolve(1))
        #expect(once.isResolved)
        #expect(inbox.received.isEmpty)
        once.attach(inbox)
        #expect(inbox.received == [1])
    }

    @Test func onlyTheFirstResolutionReachesTheReceiver() {
        let inbox = Inbox()
        let once = ResumeOnce<Int, Inbox>(receiver: inbox) { value, inbox in
            inbox.values.withLock { $0.append(value) }
        }
        #expect(!once.isResolved)
        #expect(once.resolve(1))
        #expect(!once.resolve(2))
        once.attach(inbox)
        #expect(inbox.received == [1])
    }

    @Test func nothingReachesThePendingReceiverAfterTheValue() {
        let inbox = Inbox()
        let once = ResumeOnce<Int, Inbox>(receiver: inbox) { value, inbox in
            inbox.values.withLock { $0.append(value) }
        }
        once.whilePending { $0.values.withLock { $0.append(0) } }
        once.resolve(1)
        once.whilePending { $0.values.withLock { $0.append(99) } }
        #expect(inbox.received == [0, 1])
    }

    /// Racing resolvers (a cancellation handler, a timer, an I/O thread): exactly one wins and the
    /// continuation is resumed once with its value.
    @Test func racingResolversResumeTheContinuationOnce() async {
        for _ in 0..<50 {
            let once = ResumeOnce<Int, CheckedContinuation<Int, Never>>()
            let winners = Locked<[Int]>([])
            let racers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for candidate in 0..<8 {
                        group.addTask {
                            if once.resolve(candidate) { winners.withLock { $0.append(candidate) } }
                        }
                    }
                }
            }
            // Attached while the racers run: before, between or after their resolutions.
            let value = await withCheckedContinuation { once.attach($0) }
            await racers.value
            #expect(winners.withLock { $0 } == [value])
        }
    }
}
