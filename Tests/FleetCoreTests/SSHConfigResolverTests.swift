import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// The parts of ssh_config reading that `ssh -G -F` cannot check: the user and system files
/// layered, refusals, bounds and what is reported.
@Suite struct SSHConfigResolverTests {
    static func context(_ directory: TempDir) -> SSHConfigResolver.Context {
        SSHConfigResolver.Context(
            homeDirectory: directory.path + "/home", localUser: "me",
            systemConfigDirectory: directory.path + "/etc")
    }

    static func resolver(_ directory: TempDir, user: String, system: String? = nil) -> SSHConfigResolver {
        let userPath = directory.write("home/.ssh/config", user)
        var files = [SSHConfigResolver.File(path: userPath, isUserFile: true)]
        if let system {
            files.append(.init(path: directory.write("etc/ssh_config", system), isUserFile: false))
        }
        return SSHConfigResolver(files: files, context: context(directory))
    }

    @Test func theUserFileWinsOverTheSystemFileAndIncludesResolveAgainstTheirOwnDirectory() throws {
        let directory = TempDir()
        directory.write("home/.ssh/extra.conf", "Host a\n  IdentityFile ~/.ssh/from-user-include\n")
        directory.write("etc/conf.d/site.conf", "Host *\n  ConnectTimeout 9\n  User site\n")
        let resolver = Self.resolver(
            directory, user: "Host a\n  Port 1\nInclude extra.conf\n",
            system: "Include conf.d/*.conf\nHost a\n  Port 2\n  User sys\n  IdentityFile /sys/key\n")
        let settings = try resolver.resolve(host: "a")
        #expect(settings.port == 1)
        #expect(settings.user == "site")
        #expect(settings.connectTimeout == 9)
        #expect(settings.identityFiles == ["~/.ssh/from-user-include", "/sys/key"])
        // Where each value came from (doctor's route): the first line obtained wins, a list names
        // every line that added to it, and an included file is named, not the file including it.
        let home = directory.path + "/home/.ssh"
        #expect(settings.origins["port"] == "\(home)/config line 2")
        #expect(settings.origins["user"] == "\(directory.path)/etc/conf.d/site.conf line 3")
        #expect(settings.origins["connecttimeout"] == "\(directory.path)/etc/conf.d/site.conf line 2")
        #expect(
            settings.origins["identityfile"]
                == "\(home)/extra.conf line 2, \(directory.path)/etc/ssh_config line 5")
        #expect(settings.origins["hostname"] == nil)
        #expect(
            try settings.expandPath(
                settings.identityFiles[0], keyword: "IdentityFile", context: Self.context(directory))
                == directory.path + "/home/.ssh/from-user-include")
    }

    /// An IPv6 literal (cloud.yaml's `ssh.host`, brackets already dropped) matches `Host`
    /// patterns and is what `%h` expands to; a bracketed `HostName` is reported as written. Each
    /// value is the one `ssh -G` prints for this file.
    @Test func anIPv6LiteralMatchesHostPatternsAndExpandsAsPercentH() throws {
        let directory = TempDir()
        let resolver = Self.resolver(
            directory,
            user: "Host ::1\n  Port 2222\nHost *:*\n  HostName %h\n  UserKnownHostsFile ~/.ssh/known_%h\n"
                + "Host six\n  HostName [::1]\n")
        let settings = try resolver.resolve(host: "::1")
        #expect(settings.port == 2222)
        #expect(settings.effectiveHostName == "::1")
        let knownHosts = try #require(settings.userKnownHostsFiles?.first)
        #expect(
            try settings.expandPath(
                knownHosts, keyword: "UserKnownHostsFile", context: Self.context(directory))
                == directory.path + "/home/.ssh/known_::1")
        #expect(try resolver.resolve(host: "six").effectiveHostName == "[::1]")
    }

    @Test func jumpListsSplitIntoHops() throws {
        let directory = TempDir()
        let resolver = Self.resolver(
            directory,
            user: "Host a\n  ProxyJump ops@j1:2200,ssh://j2,[fd00::1]:22,u@[::1],ssh://me@j3:7 # c\n")
        #expect(
            try resolver.resolve(host: "a").jumpHops == [
                .init(user: "ops", host: "j1", port: 2200), .init(host: "j2"),
                .init(host: "fd00::1", port: 22),
                .init(user: "u", host: "::1"), .init(user: "me", host: "j3", port: 7),
            ])
        #expect(try resolver.resolve(host: "b").jumpHops == [])
    }

    @Test func aSystemFileMayNotIncludeFromTheHomeDirectory() throws {
        let directory = TempDir()
        let resolver = Self.resolver(directory, user: "", system: "\n  Include ~/x.conf\n")
        #expect(
            throws: FleetError(
                .invalidSSHConfig, directory.path + "/etc/ssh_config line 2: bad include path ~/x.conf")
        ) {
            try resolver.resolve(host: "a")
        }
    }

    @Test(arguments: ["exec true", "localuser me", "canonical", "tagged x", "Host a exec \"test -e /\""])
    func otherMatchCriteriaAreAnErrorNamingFileAndLine(_ criteria: String) throws {
        let directory = TempDir()
        let resolver = Self.resolver(directory, user: "Host *\n  Port 2\n\nMatch \(criteria)\n  Port 3\n")
        #expect {
            try resolver.resolve(host: "a")
        } throws: { error in
            let error = error as! FleetError
            return error.code == .invalidSSHConfig
                && error.message.hasPrefix(directory.path + "/home/.ssh/config line 4: Match ")
                && error.message.contains("is not supported")
        }
    }

    @Test(arguments: [0o666, 0o620, 0o602])
    func aConfigFileWritableByOthersIsRefused(_ mode: Int) throws {
        let directory = TempDir()
        let resolver = Self.resolver(directory, user: "Host a\n  Port 2\n")
        #expect(chmod(resolver.files[0].path, mode_t(mode)) == 0)
        #expect {
            try resolver.resolve(host: "a")
        } throws: { error in
            (error as! FleetError).message.contains("bad owner or permissions")
        }
    }

    @Test func includeLoopsStopAtSixteenLevels() throws {
        let directory = TempDir()
        directory.write("home/.ssh/loop.conf", "Include loop.conf\n")
        let resolver = Self.resolver(directory, user: "Include loop.conf\n")
        #expect {
            try resolver.resolve(host: "a")
        } throws: { error in
            (error as! FleetError).message.contains("too many nested Include levels")
        }
    }

    @Test func anOversizedFileIsRefused() throws {
        let directory = TempDir()
        let resolver = Self.resolver(
            directory, user: String(repeating: "# padding padding padding\n", count: 50_000))
        #expect {
            try resolver.resolve(host: "a")
        } throws: { error in
            (error as! FleetError).message.contains("larger than 1 MiB")
        }
    }

    @Test func unsupportedSecurityKeywordsOfMatchingBlocksAreReported() throws {
        let directory = TempDir()
        let path = directory.path + "/home/.ssh/config"
        let resolver = Self.resolver(
            directory,
            user:
                "Host a\n  ForwardAgent yes\n  LocalCommand id\n  ProxyUseFdpass yes\nHost b\n  PKCS11Provider /lib.so\nHost *\n  SendEnv LANG\n"
        )
        #expect(
            try resolver.resolve(host: "a").unsupported == [
                "ForwardAgent (\(path) line 2)", "LocalCommand (\(path) line 3)",
                "ProxyUseFdpass (\(path) line 4)",
            ])
        #expect(try resolver.resolve(host: "c").unsupported == [])
    }

    @Test func explicitUserAndPortWinAndMatchUserSeesThem() throws {
        let directory = TempDir()
        let resolver = Self.resolver(
            directory, user: "Match user deploy\n  HostName deploy-%h\nHost a\n  User other\n  Port 3\n")
        let settings = try resolver.resolve(host: "a", user: "deploy", port: 2200)
        #expect(settings.user == "deploy")
        #expect(settings.port == 2200)
        #expect(settings.effectiveHostName == "deploy-a")
        #expect(try resolver.resolve(host: "a").effectiveHostName == "a")
    }

    @Test func unknownTokensAndBadValuesNameTheLine() throws {
        let directory = TempDir()
        let path = directory.path + "/home/.ssh/config"
        #expect(
            throws: FleetError(
                .invalidSSHConfig, "\(path) line 2: HostName: unknown or unsupported token %p in \"%h-%p\"")
        ) {
            try Self.resolver(directory, user: "Host *\n  HostName %h-%p\n").resolve(host: "a")
        }
        #expect(throws: FleetError(.invalidSSHConfig, "\(path) line 1: bad port '70000'")) {
            try Self.resolver(directory, user: "Port 70000\n").resolve(host: "a")
        }
        #expect(throws: FleetError(.invalidSSHConfig, "\(path) line 1: invalid quotes")) {
            try Self.resolver(directory, user: "User \"open\n").resolve(host: "a")
        }
    }

    @Test func noneReadsNoFile() throws {
        #expect(SSHConfigResolver.standard(path: "none").files.isEmpty)
        let standard = SSHConfigResolver.standard(
            path: nil, context: .init(homeDirectory: "/h", localUser: "u"))
        #expect(
            standard.files == [
                .init(path: "/h/.ssh/config", isUserFile: true),
                .init(path: "/etc/ssh/ssh_config", isUserFile: false),
            ])
    }

    @Test func theFleetFileNamesAnSSHConfig() throws {
        let directory = TempDir()
        directory.write("a.yaml", "")
        let fleet = try FleetFile.load(
            path: directory.write(
                "fleet.yaml",
                "defaults:\n  ssh_config: conf/ssh_config\nprojects:\n  - name: a\n    cloud_yaml: a.yaml\n"))
        #expect(fleet.defaults.sshConfig == directory.path + "/conf/ssh_config")
        let none = try FleetFile.load(
            path: directory.write(
                "none.yaml", "defaults:\n  ssh_config: none\nprojects:\n  - name: a\n    cloud_yaml: a.yaml\n"
            ))
        #expect(none.defaults.sshConfig == "none")
    }
}
