import Testing

/// Every suite that starts sshd hosts, runs the binary or checks a fleet's wall times, one test
/// at a time: parallel neighbours on a small machine would distort the times.
@Suite("Fleet against real hosts", .serialized)
enum RealHosts {}
