import Testing

@testable import Fleet

/// The per-project deadline wait of the scheduler (`DeadlineTimer`).
@Suite struct DeadlineTimerTests {
    @Test func passesAfterItsDuration() async {
        let started = ContinuousClock.now
        #expect(await DeadlineTimer.wait(.milliseconds(100)))
        #expect(ContinuousClock.now - started >= .milliseconds(100))
    }

    /// A project that finishes cancels its deadline: the wait ends then, not at the deadline. The
    /// deadline is an hour, so a busy machine's delays (minutes at worst) cannot be mistaken for it.
    @Test func endsWhenCancelled() async {
        let started = ContinuousClock.now
        let wait = Task { await DeadlineTimer.wait(.seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(50))
        wait.cancel()
        #expect(await wait.value == false)
        // Far below the deadline however starved the machine is: the cancel ended the wait.
        #expect(ContinuousClock.now - started < .seconds(600))
    }

    @Test func cancelledBeforeItStarts() async {
        let wait = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await DeadlineTimer.wait(.seconds(60))
        }
        #expect(await wait.value == false)
    }

    @Test func intervals() {
        #expect(DeadlineTimer.interval(.milliseconds(1500)) == .nanoseconds(1_500_000_000))
        #expect(DeadlineTimer.interval(.seconds(-1)) == .nanoseconds(0))
        #expect(DeadlineTimer.interval(.seconds(Int64.max)) == .never)
    }
}
