// swift-tools-version: 6.2
// Module direction (each arrow is "is used by"; nothing points back):
//   CLibSSH2, CLibYAML → FleetCore → RunnerProtocol → Transport → Supervisor → Fleet → megaplan-fleet
//              FleetCore → SSHClient → Transport
//                                       RunnerProtocol → Supervisor
//                          SSHClient → Supervisor, Fleet (its narrow API: the pool, endpoints, errors)
// FleetCore holds the configuration models, quoting, redaction and atomic files that every
// layer shares; RunnerProtocol is everything that knows megaplan's remote commands (the canonical
// command lines, the probes, the status-read program `Programs/status_read.py`); SSHClient is the
// libssh2 connection pool (its I/O threads, authentication, proxies, known_hosts checks) behind one
// narrow API; Transport talks to runners (local programs, providers, SSH through SSHClient);
// Supervisor reads chain status and decides; Fleet runs one project's operations and schedules
// many; the executable is only the command-line surface and imports Fleet and FleetCore (and
// Locks). Locks (a pthread lock, a locked box, a resume-once slot; no dependencies) sits beside
// them all and is used by every layer. The EmbedFiles plugin (+ embed-files) runs at build time only.
// Development targets hang off the side and nothing in the product depends on them:
// FuzzHarness (+ fuzz-fleetcore), BenchSupport (the one sshd host harness, + ssh-bench,
// fleet-bench, fleet-load, fleet-demo), TestSupport and the test targets.
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "megaplan-fleet",
    // Linux only: the code imports Glibc and uses eventfd, and libssh2 comes from pkg-config. SwiftPM
    // can only set minimum versions of Apple platforms, so nothing is declared rather than a macOS
    // version the code never built on.
    products: [
        .executable(name: "megaplan-fleet", targets: ["megaplan-fleet"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // libyaml's event parser and emitter, linked statically (the archive of Debian's
        // libyaml-dev; no pkg-config, whose flags would link the shared library) so that the
        // release binary needs no libyaml at run time.
        .systemLibrary(name: "CLibYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev", "libssl-dev"])]
        ),
        // A pthread lock, a locked box and a resume-once slot, shared by every layer (no dependencies).
        .target(name: "Locks", swiftSettings: strictSettings),
        .target(
            name: "FleetCore",
            dependencies: ["CLibSSH2", "CLibYAML", "Locks"],
            swiftSettings: strictSettings,
            // `-l:libyaml.a`: the archive by its file name, so the linker cannot pick the .so.
            linkerSettings: [.linkedLibrary(":libyaml.a")]
        ),
        // The runner protocol: megaplan's command lines and the status-read program (embedded).
        .target(
            name: "RunnerProtocol",
            dependencies: ["FleetCore"],
            swiftSettings: strictSettings,
            plugins: ["EmbedFiles"]
        ),
        // The SSH client: the libssh2 connection pool, its I/O threads and the checks around them
        // (known_hosts, certificates, reachability). One narrow public API (`SSHPool`, `SSHEndpoint`,
        // `SSHConfiguration`, `SSHError`, …) used by Transport's providers, Fleet's doctor and the tests.
        .target(
            name: "SSHClient",
            dependencies: ["CLibSSH2", "FleetCore", "Locks"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Transport",
            dependencies: [
                "FleetCore",
                "Locks",
                "RunnerProtocol",
                "SSHClient",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedFiles"]
        ),
        .target(
            name: "Supervisor",
            dependencies: ["FleetCore", "RunnerProtocol", "SSHClient", "Transport"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Fleet",
            dependencies: [
                "FleetCore", "Locks", "RunnerProtocol", "SSHClient", "Transport", "Supervisor",
            ],
            swiftSettings: strictSettings
        ),
        // Compiles a target's data files (Transport's Templates/, RunnerProtocol's Programs/) into its code, so the installed
        // binary is one file: the plugin hands every file SwiftPM does not compile to embed-files.
        .executableTarget(name: "embed-files", swiftSettings: strictSettings),
        .plugin(name: "EmbedFiles", capability: .buildTool(), dependencies: ["embed-files"]),
        // Sanitizer hooks (C, uninstrumented): linked into the binary, active only in
        // --sanitize=thread builds.
        .target(name: "CSanitizerHooks"),
        .executableTarget(
            name: "megaplan-fleet",
            dependencies: [
                "FleetCore", "Fleet", "Locks", "CSanitizerHooks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Hostile-input checks of FleetCore's readers and Transport's remote command builders, shared by
        // the fuzz driver and the corpus replay test. `scripts/fuzz.sh` builds `fuzz-fleetcore` with libFuzzer (`-DFUZZING`); the ordinary
        // build makes it a corpus replay tool.
        .target(
            name: "FuzzHarness",
            dependencies: ["FleetCore", "RunnerProtocol", "Transport"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "fuzz-fleetcore",
            dependencies: ["FuzzHarness"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ssh-bench",
            dependencies: [
                "BenchSupport", "FleetCore", "SSHClient", "Transport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Fleet tick benchmark (scripts/bench-fleet.sh): sshd hosts, a latency relay and runner
        // stand-ins in BenchSupport (no test code in a release product), the matrix in fleet-bench.
        .target(
            name: "BenchSupport",
            dependencies: [
                "FleetCore", "Locks", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "fleet-bench",
            dependencies: [
                "BenchSupport", "Fleet", "RunnerProtocol", "SSHClient", "Supervisor", "Transport",
                "FleetCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Load run (scripts/load.sh): 500 projects on 5 sshd hosts ticked 20 times in one process and
        // in 20 processes; fails when descriptors or threads grow from tick to tick.
        .executableTarget(
            name: "fleet-load",
            dependencies: [
                "BenchSupport", "Fleet", "SSHClient", "Transport", "FleetCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // The demo fleet of scripts/demo.sh and scripts/setup.sh: nine projects on three sshd
        // hosts of BenchSupport's harness, ticked twice by the megaplan-fleet binary.
        .executableTarget(
            name: "fleet-demo",
            dependencies: [
                "BenchSupport", "FleetCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: ["BenchSupport", "FleetCore", "Locks", "SSHClient", "Transport"],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "LocksTests", dependencies: ["Locks"], swiftSettings: strictSettings),
        .testTarget(
            name: "FleetCoreTests",
            dependencies: [
                "FleetCore", "TestSupport", "BenchSupport", "FuzzHarness",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "FleetCore", "Locks", "SSHClient", "Transport", "TestSupport", "BenchSupport",
                "FuzzHarness",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SupervisorTests",
            dependencies: [
                "FleetCore", "Locks", "RunnerProtocol", "SSHClient", "Supervisor", "Transport",
                "TestSupport", "BenchSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FleetTests",
            dependencies: [
                "Fleet", "FleetCore", "RunnerProtocol", "SSHClient", "Supervisor", "Transport",
                "TestSupport", "BenchSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["megaplan-fleet", "FleetCore", "TestSupport", "BenchSupport"],
            swiftSettings: strictSettings
        ),
    ]
)
