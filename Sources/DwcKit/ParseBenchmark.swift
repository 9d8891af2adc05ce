import DicomCore
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// Times header parsing (stop before pixel data) of many files in process, for `make bench`.
public struct ParseBenchmark: Sendable {
    public struct Result: Sendable {
        public var files = 0
        public var failed = 0
        public var medianMicroseconds = 0.0
        public var filesPerSecond = 0.0
        public var bytesRead: UInt64 = 0
        public var sourceBytes: UInt64 = 0
        public var peakRSSKilobytes = 0
    }

    public init() {}

    public func run(paths: [String], repeat rounds: Int) -> Result {
        let files = FileWalker.regularFiles(under: paths)
        let loader = DicomFileLoader(stopBeforePixels: true)
        var result = Result()
        result.files = files.count
        var samples: [Double] = []
        samples.reserveCapacity(files.count * rounds)
        var total = 0.0
        for round in 0..<max(1, rounds) {
            for path in files {
                let start = monotonicSeconds()
                var ok = true
                do {
                    let source = CountingByteSource(try FileByteSource(path: path))
                    _ = try loader.load(from: source)
                    if round == 0 { result.bytesRead += source.bytesRead; result.sourceBytes += source.size }
                } catch {
                    ok = false
                }
                let elapsed = monotonicSeconds() - start
                total += elapsed
                if ok { samples.append(elapsed) } else if round == 0 { result.failed += 1 }
            }
        }
        samples.sort()
        if !samples.isEmpty { result.medianMicroseconds = samples[samples.count / 2] * 1e6 }
        if total > 0 { result.filesPerSecond = Double(files.count * max(1, rounds)) / total }
        var usage = Glibc.rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        result.peakRSSKilobytes = usage.ru_maxrss
        return result
    }
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
