import FleetCore
import Foundation
import Locks

#if canImport(Glibc)
    import Glibc
#endif

/// The login account of the sshd hosts (tests, benchmarks, demo) and the runner stand-ins of
/// Tests/Fixtures/runner installed in its home (core megaplan with its `megaplan.chain` module,
/// `gh`, and what a caller adds). As root a light account is used (root's shell start-up runs
/// pyenv: ~100 ms a command): `mpfleet-test` for the tests and benchmarks, `mpfleet-demo` for the
/// demo; otherwise the current user.
public enum RunnerAccount {
    public static let test = "mpfleet-test"
    public static let demo = "mpfleet-demo"

    /// The tests' and benchmarks' account.
    public static let name: String = loginName(asRoot: test)

    /// `light` when running as root, else the current user.
    public static func loginName(asRoot light: String) -> String {
        guard geteuid() == 0 else { return String(cString: getpwuid(geteuid())!.pointee.pw_name) }
        return light
    }

    /// The runner stand-ins of this checkout (`Tests/Fixtures/runner`), found from this file's
    /// own path.
    public static let checkoutFixtures: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/runner").path
    }()

    /// The account's home directory (where the runner workspaces live).
    public static func home(of account: String = name) throws -> String {
        try passwd(account).home
    }

    /// Creates the account when needed and gives it a `*` password (sshd with `UsePAM no` refuses
    /// `!` accounts); root only, once per account and process.
    public static func prepare(_ account: String = name) throws {
        guard geteuid() == 0 else { return }
        try prepared.withLock { done in
            if done.contains(account) { return }
            if getpwnam(account) == nil {
                _ = try? BenchProcess.run(["/usr/sbin/useradd", "-m", "-s", "/bin/sh", account])
                guard getpwnam(account) != nil else { throw BenchError("useradd \(account) failed") }
            }
            try BenchProcess.run(["/usr/sbin/usermod", "-p", "*", "-s", "/bin/sh", account])
            done.insert(account)
        }
    }

    private static let prepared = Locked<Set<String>>([])

    /// `NAME=value` words for sshd's SetEnv that put the installed stand-ins first for every
    /// command (non-login shells included).
    public static func standInEnvironment(home: String) -> String {
        "PATH=\(home)/.local/bin:/usr/local/bin:/usr/bin:/bin PYTHONPATH=\(home)/.megaplan-stub/python"
    }

    /// Installs the runner stand-ins in the account's home, each file atomically, so a suite or a
    /// demo running at the same time and installing the same files is not disturbed.
    /// `extraExecutables` are further stand-ins of `fixtures` for ~/.local/bin (the tests' `docker`
    /// and `tmux` wrapper). `~/.profile` puts them on PATH for login shells.
    public static func installStandIns(
        fixtures: String = checkoutFixtures, account: String = name, extraExecutables: [String] = []
    ) throws {
        let entry = try passwd(account)
        let profile =
            "export PATH=\"$HOME/.local/bin:$PATH\"\nexport PYTHONPATH=\"$HOME/.megaplan-stub/python\"\n"
        var files: [(target: String, bytes: [UInt8], mode: mode_t)] = [
            (".profile", Array(profile.utf8), 0o644)
        ]
        let sources: [(String, String, mode_t)] =
            (["megaplan", "gh"] + extraExecutables).map { ($0, ".local/bin/" + $0, 0o755) }
            + ["__init__.py", "chain.py", "profiles.py", "cli/__init__.py"].map {
                ("python/megaplan/" + $0, ".megaplan-stub/python/megaplan/" + $0, 0o644)
            }
        for (source, target, mode) in sources {
            guard let bytes = FileSystem.readBytes(fixtures + "/" + source) else {
                throw BenchError("missing runner stand-in \(fixtures)/\(source) (pass --fixtures)")
            }
            files.append((target, bytes, mode))
        }
        for file in files {
            let path = entry.home + "/" + file.target
            try FileSystem.makeDirectories(PosixPath.dirname(path))
            try FileSystem.writeAtomically(path, bytes: file.bytes, mode: file.mode)
            var current = path
            while current.hasPrefix(entry.home + "/") {
                chown(current, entry.uid, entry.gid)
                current = PosixPath.dirname(current)
            }
        }
    }

    /// Runs a shell script as the account (not through SSH); throws with its output on failure.
    @discardableResult
    public static func runScript(_ script: String, as account: String = name) throws -> String {
        let path = NSTemporaryDirectory() + "mpfleet-script-\(UUID().uuidString).sh"
        try FileSystem.writeAtomically(path, text: script, mode: 0o644)
        defer { unlink(path) }
        if geteuid() == 0 {
            return try BenchProcess.run(["/usr/sbin/runuser", "-u", account, "--", "/bin/bash", path])
        }
        return try BenchProcess.run(["/bin/bash", path])
    }

    private static func passwd(_ account: String) throws -> (home: String, uid: uid_t, gid: gid_t) {
        guard let entry = getpwnam(account), let dir = entry.pointee.pw_dir else {
            throw BenchError("no passwd entry for \(account)")
        }
        return (String(cString: dir), entry.pointee.pw_uid, entry.pointee.pw_gid)
    }
}
