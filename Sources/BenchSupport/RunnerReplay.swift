import FleetCore
import Foundation

/// Runners that answer like remote machines with CPUs of their own. On loopback every runner
/// shares this machine's CPUs with the client, so a fleet of N live runners measures the
/// machine, not the fleet. With a replay, sshd runs every command through a script (ForceCommand)
/// that, while recording, runs it for real and keeps its output and status under a key of the
/// command text (without its deadline's seconds); while replaying, it answers a recorded command after a fixed service time
/// (a sleep, no CPU) and runs anything new for real, counting it as a miss.
public final class RunnerReplay: Sendable {
    public let directory: String
    public let script: String
    public let serviceSeconds: Double

    /// `directory` is in the runner account's home; the account must be able to write it.
    public init(directory: String, serviceSeconds: Double) throws {
        self.directory = directory
        self.serviceSeconds = serviceSeconds
        script = directory + "/replay.sh"
        // Shell built-ins wherever they serve (read, test), for the replay's own processes run on
        // the client's CPUs and are not what a remote runner would cost. Not for the key: a
        // status read's command holds its whole program, and dash's `${x#*pattern}` and
        // `${x%%[set]*}` are quadratic in the string's length (seconds of CPU a command), where one
        // `sed -z` over the command is linear.
        let text = """
            #!/bin/sh
            # fleet-bench runner replay (see RunnerReplay.swift).
            c="$FLEET_BENCH_CACHE"
            # A command's deadline changes at every tick, its answer does not: the key leaves out
            # the seconds of the pool's `timeout -k 1 SECONDS` and a status read's
            # ` --deadline BUDGET UNTIL`.
            k=$(printf '%s' "$SSH_ORIGINAL_COMMAND" \\
              | sed -z -E 's/^timeout -k 1 [^ ]+ /timeout -k 1 /; s/ --deadline [-0-9.e+ ]*/ --deadline/' \\
              | sha256sum)
            k=${k%% *}
            mode=
            read -r mode < "$c/mode"
            if [ "$mode" = hostile ]; then
              read -r service < "$c/service"
              sleep "$service"
              exec cat "$c/hostile"
            fi
            if [ "$mode" = replay ] && [ -f "$c/$k.rc" ]; then
              read -r service < "$c/service"
              sleep "$service"
              [ -s "$c/$k.out" ] && cat "$c/$k.out"
              [ -s "$c/$k.err" ] && cat "$c/$k.err" >&2
              read -r rc < "$c/$k.rc"
              exit "$rc"
            fi
            [ "$mode" = replay ] && echo "$k" >> "$c/misses"
            /bin/sh -c "$SSH_ORIGINAL_COMMAND" > "$c/$k.out.$$" 2> "$c/$k.err.$$"
            rc=$?
            cat "$c/$k.out.$$"
            cat "$c/$k.err.$$" >&2
            mv "$c/$k.out.$$" "$c/$k.out"
            mv "$c/$k.err.$$" "$c/$k.err"
            echo "$rc" > "$c/$k.rc"
            exit "$rc"

            """
        try RunnerAccount.runScript(
            """
            set -e
            mkdir -p \(ShellQuote.quote(directory))
            printf %s \(ShellQuote.quote(text)) > \(ShellQuote.quote(script))
            printf record > \(ShellQuote.quote(directory + "/mode"))
            printf %s \(ShellQuote.quote(String(format: "%.3f", serviceSeconds))) > \(ShellQuote.quote(directory + "/service"))

            """)
    }

    /// Switches from recording to replaying.
    public func replay() throws {
        try RunnerAccount.runScript("printf replay > \(ShellQuote.quote(directory + "/mode"))\n")
    }

    /// Switches to answering every command with `reply` (after the service time, exit 0): a
    /// hostile runner. `replay()` switches back.
    public func answerEverything(with reply: [UInt8]) throws {
        let path = directory + "/hostile"
        let local = try TemporaryDirectory.make(prefix: "mpf-hostile-")
        defer { TemporaryDirectory.remove(local) }
        try FileSystem.writeAtomically(local + "/reply", bytes: reply, mode: 0o644)
        chmod(local, 0o755)
        try RunnerAccount.runScript(
            """
            set -e
            cp \(ShellQuote.quote(local + "/reply")) \(ShellQuote.quote(path))
            printf hostile > \(ShellQuote.quote(directory + "/mode"))

            """)
    }

    /// The largest recorded stdout, in bytes (a healthy runner's largest answer).
    public var largestRecordedOutput: Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".out") }.map { name in
            var info = stat()
            return lstat(directory + "/" + name, &info) == 0 ? Int(info.st_size) : 0
        }.max() ?? 0
    }

    /// Commands answered for real while replaying.
    public var misses: Int {
        (FileSystem.readText(directory + "/misses") ?? "").split(separator: "\n").count
    }
}

extension RunnerReplay {
    /// For `.replay`, a replay in a fresh directory `name-<random>` under the runner account's
    /// ~/fleet-bench; nil for `.live`. Call `remove()` when done.
    public static func make(for mode: RunnerMode, serviceMilliseconds: Int, name: String) throws
        -> RunnerReplay?
    {
        guard mode == .replay else { return nil }
        return try RunnerReplay(
            directory: try RunnerAccount.home()
                + "/fleet-bench/\(name)-\(UInt32.random(in: 0...UInt32.max))",
            serviceSeconds: Double(serviceMilliseconds) / 1000)
    }

    /// Deletes the recorded answers.
    public func remove() { _ = try? RunnerAccount.runScript("rm -rf \(ShellQuote.quote(directory))\n") }
}
