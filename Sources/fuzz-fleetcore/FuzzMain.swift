import FuzzHarness

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// The fuzz driver for FleetCore's readers. Two builds of the same file:
//
// - `scripts/fuzz.sh` builds it with `--sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING`: libFuzzer
//   drives `LLVMFuzzerTestOneInput`, the target named by `FUZZ_TARGET` (cloud, chain, fleet, state,
//   json, redact), and any broken invariant aborts so libFuzzer keeps the input as a crash file.
// - The ordinary `swift build` gives a replay tool: `fuzz-fleetcore [--target NAME] FILE|DIR...`
//   runs each file through the harness (every target when none is named) and exits 1 on any
//   finding. The test suite replays the corpus the same way (Tests/FleetCoreTests/FuzzCorpusTests).

/// Writes to standard error (fd 2) without touching the C `stderr` global.
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    if bytes.last != 10 { bytes.append(10) }
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// The target of this fuzzing process, read once from `FUZZ_TARGET`.
let fuzzTarget: FuzzTarget = {
    guard let raw = getenv("FUZZ_TARGET") else {
        printError("fuzz-fleetcore: set FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
        exit(2)
    }
    guard let target = FuzzTarget(rawValue: String(cString: raw)) else {
        printError("fuzz-fleetcore: unknown FUZZ_TARGET \(String(cString: raw))")
        exit(2)
    }
    return target
}()

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        let findings = FuzzHarness.check(fuzzTarget, bytes)
        if !findings.isEmpty {
            printError("fuzz-fleetcore [\(fuzzTarget)]: broken invariant:")
            for finding in findings { printError("  \(finding)") }
            abort()
        }
        return 0
    }

    /// Checks `FUZZ_TARGET` before the first input.
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzInitialize(
        _ argc: UnsafeMutablePointer<CInt>?,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
    ) -> CInt {
        _ = fuzzTarget
        return 0
    }
#else

    @main
    enum FuzzMain {
        static func main() {
            exit(replay(Array(CommandLine.arguments.dropFirst())))
        }

        /// Replays files (directories: their files) and prints each finding; 0 when there is none.
        static func replay(_ arguments: [String]) -> CInt {
            var arguments = arguments
            var targets = FuzzTarget.allCases
            if arguments.count >= 2, arguments[0] == "--target" {
                guard let target = FuzzTarget(rawValue: arguments[1]) else {
                    printError("fuzz-fleetcore: unknown target \(arguments[1])")
                    return 2
                }
                targets = [target]
                arguments.removeFirst(2)
            }
            if arguments.isEmpty {
                printError("usage: fuzz-fleetcore [--target NAME] FILE|DIR...")
                return 2
            }
            var files = 0
            var failures = 0
            for path in arguments.flatMap(FuzzFiles.list) {
                guard let data = FuzzFiles.read(path) else {
                    printError("fuzz-fleetcore: cannot read \(path)")
                    return 2
                }
                files += 1
                for target in targets {
                    for finding in FuzzHarness.check(target, data) {
                        failures += 1
                        print("\(path): [\(target)] \(finding)")
                    }
                }
            }
            print("fuzz-fleetcore: \(files) files, \(targets.count) targets, \(failures) findings")
            return failures == 0 ? 0 : 1
        }
    }
#endif
