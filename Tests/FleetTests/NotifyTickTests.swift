import Fleet
import FleetCore
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// fleet.yaml `notify:` as cron runs it: the built binary ticking real sshd hosts, a real HTTP
/// server on loopback receiving the webhooks, a real program receiving the command's stdin.
extension RealHosts {
    @Suite("notifications on change (CLI)")
    struct NotifyTickTests {
        typealias Fleet = TickCommandTests.Fleet

        /// Writes the fleet file with `notify` appended; returns its path.
        static func fleetFile(_ fleet: Fleet, notify: String) throws -> String {
            let text = try #require(FileSystem.readText(fleet.file)) + "notify:\n" + notify
            let path = fleet.directory.path + "/fleet-notify.yaml"
            try FileSystem.writeAtomically(path, text: text)
            return path
        }

        static func notifications(_ result: FleetCLI.Result) throws -> JSONValue? {
            try result.lines().last?.json["summary"]?["notifications"]
        }

        /// One webhook per change into a blocked status, none while it stays, none for a chain
        /// outside `on:`; the header's value comes from the environment.
        @Test(.timeLimit(.minutes(2)))
        func oneWebhookPerChangeNoneWhileUnchanged() async throws {
            let server = try await WebhookServer()
            let fleet = try await Fleet([.awaitingMerge, .running])
            defer { fleet.cleanUp() }
            let file = try Self.fleetFile(
                fleet,
                notify: """
                      - webhook: \(server.url())
                        headers: {Authorization: HOOK_TOKEN}
                        remind_after: 24h

                    """)
            let environment = ["HOOK_TOKEN": "Bearer token-from-env"]
            let first = try await fleet.run(["tick", "--all"], environment: environment, fleet: file)
            #expect(first.status == 0, "\(first)")
            #expect(try Self.notifications(first) == ["sent": 1, "failed": 0], "\(first)")
            var requests = server.requests
            try #require(requests.count == 1, "\(requests.map(\.body))")
            let event = requests[0].event
            #expect(event["project"] == "p-0" && event["status"] == "awaiting_pr_merge", "\(event)")
            #expect(event["event"] == "changed" && event["outcome"] == "blocked")
            #expect(try event["tick"] == first.lines().last?.json["tick"])
            #expect(event["text"]?.stringValue?.contains("p-0 is awaiting_pr_merge") == true, "\(event)")
            #expect(requests[0].headers["authorization"] == "Bearer token-from-env")
            #expect(requests[0].headers["content-type"] == "application/json")

            let second = try await fleet.run(["tick", "--all"], environment: environment, fleet: file)
            #expect(try Self.notifications(second) == ["sent": 0, "failed": 0], "\(second)")
            #expect(server.requests.count == 1)

            try ChainShape.awaitingMerge.stage(fleet.members[1].project)
            let third = try await fleet.run(["tick", "--all"], environment: environment, fleet: file)
            #expect(try Self.notifications(third) == ["sent": 1, "failed": 0], "\(third)")
            requests = server.requests
            try #require(requests.count == 2)
            #expect(
                requests[1].event["project"] == "p-1" && requests[1].event["previous_status"] == "running")
        }

        /// A chain that stays blocked is reminded once `remind_after` has passed since the last send.
        @Test(.timeLimit(.minutes(2)))
        func aReminderAfterRemindAfter() async throws {
            let server = try await WebhookServer()
            let fleet = try await Fleet([.awaitingMerge])
            defer { fleet.cleanUp() }
            let file = try Self.fleetFile(
                fleet, notify: "  - webhook: \(server.url())\n    remind_after: 1s\n")
            let first = try await fleet.run(["tick", "--all"], fleet: file)
            #expect(try Self.notifications(first) == ["sent": 1, "failed": 0], "\(first)")
            try await Task.sleep(for: .milliseconds(1_100))
            let second = try await fleet.run(["tick", "--all"], fleet: file)
            #expect(try Self.notifications(second) == ["sent": 1, "failed": 0], "\(second)")
            #expect(server.requests.map { $0.event["event"] } == ["changed", "reminder"])
            #expect(server.requests.last?.event["text"]?.stringValue?.hasPrefix("Reminder: ") == true)
        }

        /// A server that never answers and one that answers 500 cost the run no more than the
        /// deadline (the run ends although one never answers), are reported, and are sent again
        /// next run; a missing header variable is a failure too, not a crash.
        @Test(.timeLimit(.minutes(2)))
        func hangingAndFailingServersAreCutOffAndRetried() async throws {
            let hanging = try await WebhookServer(mode: .hang)
            let failing = try await WebhookServer(mode: .fail)
            let fleet = try await Fleet([.awaitingMerge])
            defer { fleet.cleanUp() }
            let file = try Self.fleetFile(
                fleet,
                notify: """
                      - webhook: \(hanging.url("/secret-path"))
                      - webhook: \(failing.url())
                      - webhook: \(failing.url("/with-header"))
                        headers: {X-Token: UNSET_NOTIFY_VARIABLE}

                    """)
            let first = try await fleet.run(["tick", "--all", "--deadline", "8"], fleet: file)
            #expect(first.status == 0, "\(first)")
            #expect(try Self.notifications(first) == ["sent": 0, "failed": 3], "\(first)")
            #expect(first.stderr.contains("no answer before the tick's deadline"), "\(first.stderr)")
            #expect(first.stderr.contains("HTTP status 500"), "\(first.stderr)")
            #expect(first.stderr.contains("UNSET_NOTIFY_VARIABLE is not set"), "\(first.stderr)")
            #expect(!first.stderr.contains("secret-path"), "a webhook URL's path is not printed")
            #expect(hanging.requests.count == 1 && failing.requests.count == 1)

            try hanging.set(.ok)
            try failing.set(.ok)
            let second = try await fleet.run(
                ["tick", "--all", "--deadline", "8"], environment: ["UNSET_NOTIFY_VARIABLE": "set"],
                fleet: file)
            #expect(try Self.notifications(second) == ["sent": 3, "failed": 0], "\(second)")
            #expect(hanging.requests.last?.event["event"] == "retry")
            // The first tick reached the server once (the header's variable was unset); the second
            // sends to both targets at once, in either order.
            #expect(failing.requests.first?.path == "/hook")
            #expect(failing.requests.dropFirst().map(\.path).sorted() == ["/hook", "/with-header"])

            let third = try await fleet.run(["tick", "--all"], fleet: file)
            #expect(try Self.notifications(third) == ["sent": 0, "failed": 0], "\(third)")
        }

        /// A command that never ends is killed at the deadline and reaped before the run exits,
        /// reported, and run again next tick.
        @Test(.timeLimit(.minutes(2)))
        func aHangingCommandIsKilledAndReapedAtTheDeadline() async throws {
            let fleet = try await Fleet([.awaitingMerge])
            defer { fleet.cleanUp() }
            let pidFile = fleet.directory.path + "/command.pid"
            let file = try Self.fleetFile(
                fleet, notify: "  - command: [/bin/sh, -c, 'echo $$ > \"$0\"; exec sleep 3600', \(pidFile)]\n"
            )
            let first = try await fleet.run(["tick", "--all", "--deadline", "6"], fleet: file)
            #expect(first.status == 0, "\(first)")
            #expect(try Self.notifications(first) == ["sent": 0, "failed": 1], "\(first)")
            #expect(
                first.stderr.contains("via command /bin/sh: no answer before the tick's deadline"),
                "\(first.stderr)")
            let pid = try #require(FileSystem.readText(pidFile).flatMap { Int32($0.trimmed) })
            // Reaped by the run itself: no process, not even a zombie, is left with that pid.
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "the command (pid \(pid)) outlived the run")

            try FileSystem.writeAtomically(pidFile, text: "")
            let second = try await fleet.run(["tick", "--all", "--deadline", "6"], fleet: file)
            #expect(try Self.notifications(second) == ["sent": 0, "failed": 1], "\(second)")
            #expect(FileSystem.readText(pidFile)?.trimmed.isEmpty == false, "the command was run again")
        }

        /// A secret in the reason of an error line never reaches the server; the `command` target
        /// gets the same redacted event on stdin.
        @Test(.timeLimit(.minutes(2)))
        func aSecretInAReasonNeverReachesTheTargets() async throws {
            let server = try await WebhookServer()
            let secretName = "NOTIFY_TEST_SECRET"
            let secret = "notify-secret-value-4711"
            let fleet = try await Fleet([.running]) { _ in "secrets:\n  - \(secretName)\n" }
            defer { fleet.cleanUp() }
            try fleet.members[0].project.writeState([
                "current_milestone_index": .string("\(secretName)=\(secret)")
            ])
            let received = fleet.directory.path + "/command-stdin.json"
            let file = try Self.fleetFile(
                fleet,
                notify: """
                      - webhook: \(server.url())
                        on: [error]
                      - command: [/bin/sh, -c, 'cat > "$0"', \(received)]
                        on: [error]

                    """)
            let result = try await fleet.run(
                ["tick", "--all"], environment: [secretName: secret], fleet: file)
            #expect(result.status == 1, "\(result)")
            #expect(try Self.notifications(result) == ["sent": 2, "failed": 0], "\(result)")
            let request = try #require(server.requests.first)
            #expect(
                request.event["outcome"] == "error" && request.event["error_kind"] != .null, "\(request.body)"
            )
            let reason = try #require(request.event["reason"]?.stringValue)
            #expect(
                reason.contains("current_milestone_index") && reason.contains(Redactor.token), "\(reason)")
            #expect(!request.body.contains(secret), "\(request.body)")
            let stdin = try #require(FileSystem.readText(received))
            #expect(!stdin.contains(secret))
            #expect((try JSONValue.parse(stdin))["reason"]?.stringValue == reason)
        }
    }
}

/// fleet.yaml `notify:` accepts exactly the outcomes and statuses a line can have, each by one word.
@Suite struct NotifyConditionTests {
    @Test func conditionsAreTheOutcomesAndTheEffectiveStatuses() {
        let words = NotifyTarget.Condition.all.map(\.word)
        #expect(
            words == FleetLine.Outcome.allCases.map(\.rawValue) + EffectiveStatus.allCases.map(\.rawValue))
        #expect(Set(words).count == words.count)
        #expect(NotifyTarget.defaultConditions.isSubset(of: NotifyTarget.Condition.all))
    }
}
