import Testing

/// Every suite that starts sshd hosts or runs the binary, one test at a time: the fleet tests
/// check wall times, which parallel neighbours on a small machine would distort.
@Suite("Fleet against real hosts", .serialized)
enum RealHosts {}
